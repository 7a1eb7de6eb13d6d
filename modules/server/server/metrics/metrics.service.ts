import { EventEmitter } from 'node:events';
import { type EventBus, type HostRegistry, LOCAL_HOST_ID } from '../../../../server/src/sdk.js';
import type { ServerDb } from '../server.migrations.js';
import { AlertEvaluator, type Alert, type AlertThresholds } from './alerts.js';
import { downsample, toPoint, type MetricPoint, type MetricSample } from './proc-parser.js';
import { LocalProcSource, RemoteProcSource, type ProcSource } from './proc-source.js';
import { HostSampler, type SamplerStatus } from './sampler.js';

export interface MetricsOptions {
  intervalMs: number;
  retentionDays: number;
  thresholds: AlertThresholds;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * Samples every host, keeps the last hour in memory, writes 1-minute averages to
 * `server_metrics_minute` (pruned after `retentionDays`), raises alerts as events and feeds live
 * subscribers (SSE / WebSocket).
 */
export class MetricsService {
  private readonly samplers = new Map<string, HostSampler>();
  private readonly alerts = new Map<string, AlertEvaluator>();
  /** Points of the minute being collected, per host; flushed when the minute changes. */
  private readonly pending = new Map<string, MetricPoint[]>();
  private readonly live = new EventEmitter();
  constructor(
    private readonly db: ServerDb,
    private readonly hosts: HostRegistry,
    private readonly events: EventBus,
    private readonly opts: MetricsOptions,
    private readonly log: { warn(obj: object, msg: string): void },
    private readonly sourceFor: (hostId: string) => Promise<ProcSource> = async (id) =>
      id === LOCAL_HOST_ID ? new LocalProcSource() : new RemoteProcSource(await hosts.runner(id)),
  ) {
    this.live.setMaxListeners(0);
  }

  get intervalMs(): number {
    return this.opts.intervalMs;
  }

  async start(): Promise<void> {
    await this.syncHosts();
    // Then hourly through the module's schedule (server.metrics-prune).
    await this.prune();
  }

  async stop(): Promise<void> {
    for (const s of this.samplers.values()) s.stop();
    this.samplers.clear();
    for (const hostId of [...this.pending.keys()]) await this.flush(hostId).catch(() => {});
  }

  /** Starts samplers for new hosts and stops those of removed ones. */
  async syncHosts(): Promise<void> {
    const ids = new Set((await this.hosts.list()).map((h) => h.id));
    for (const [id, s] of this.samplers) {
      if (!ids.has(id)) {
        s.stop();
        this.samplers.delete(id);
        this.alerts.delete(id);
        this.pending.delete(id);
      }
    }
    for (const id of ids) {
      if (this.samplers.has(id)) continue;
      const source = await this.sourceFor(id).catch((e: unknown) => ({ read: () => Promise.reject(e) }) as ProcSource);
      const sampler = new HostSampler(id, source, this.opts.intervalMs, (s) => this.onSample(id, s));
      this.samplers.set(id, sampler);
      this.alerts.set(id, new AlertEvaluator(id, this.opts.thresholds));
      sampler.start();
    }
  }

  /** Restarts one host's sampler (its address or key changed). */
  async restartHost(hostId: string): Promise<void> {
    this.samplers.get(hostId)?.stop();
    this.samplers.delete(hostId);
    await this.syncHosts();
  }

  sampler(hostId: string): HostSampler | undefined {
    return this.samplers.get(hostId);
  }

  status(hostId: string): SamplerStatus | undefined {
    return this.samplers.get(hostId)?.status;
  }

  current(hostId: string): MetricSample | undefined {
    return this.samplers.get(hostId)?.latest();
  }

  /** What a resuming client missed (samples after `since`), or just the latest sample. */
  missed(hostId: string, since?: number): MetricSample[] {
    const sampler = this.samplers.get(hostId);
    if (!sampler) return [];
    if (since && Number.isFinite(since) && since > 0) return sampler.ring.toArray().filter((s) => s.at > since);
    const latest = sampler.latest();
    return latest ? [latest] : [];
  }

  activeAlerts(): Alert[] {
    return [...this.alerts.values()].flatMap((a) => a.list());
  }

  /** Points between `from` and `to`, averaged into `stepMs` buckets: memory for the last hour, the database before. */
  async history(hostId: string, from: number, to: number, stepMs: number): Promise<MetricPoint[]> {
    const sampler = this.samplers.get(hostId);
    const memoryPoints = sampler ? sampler.points(from, to) : [];
    const memoryFrom = memoryPoints[0]?.at ?? Number.POSITIVE_INFINITY;
    let stored: MetricPoint[] = [];
    if (from < memoryFrom) {
      const rows = await this.db
        .selectFrom('server_metrics_minute')
        .select(['at', 'data'])
        .where('host_id', '=', hostId)
        .where('at', '>=', Math.floor(from / MINUTE) * MINUTE)
        .where('at', '<=', Math.min(to, memoryFrom - 1))
        .orderBy('at')
        .execute();
      stored = rows.map((r) => ({ ...(JSON.parse(r.data) as Omit<MetricPoint, 'at'>), at: Number(r.at) }));
    }
    const all = [...stored, ...memoryPoints];
    return stepMs <= this.opts.intervalMs ? all : downsample(all, stepMs);
  }

  subscribe(hostId: string, fn: (s: MetricSample) => void): () => void {
    this.live.on(hostId, fn);
    return () => this.live.off(hostId, fn);
  }

  private onSample(hostId: string, s: MetricSample): void {
    this.live.emit(hostId, s);
    const point = toPoint(s);
    const bucket = this.pending.get(hostId);
    if (bucket?.length && Math.floor(bucket[0]!.at / MINUTE) !== Math.floor(point.at / MINUTE)) {
      void this.flush(hostId).catch((e: unknown) => this.log.warn({ err: e, hostId }, 'could not store metrics'));
    }
    const b = this.pending.get(hostId) ?? [];
    b.push(point);
    this.pending.set(hostId, b);

    const { raised, cleared } = this.alerts.get(hostId)?.evaluate(s) ?? { raised: [], cleared: [] };
    for (const a of raised) this.events.publish({ type: 'server.alert.raised', resource: { type: 'host', id: hostId }, data: { ...a } });
    for (const a of cleared) this.events.publish({ type: 'server.alert.cleared', resource: { type: 'host', id: hostId }, data: { ...a } });
  }

  /** Writes the finished minute's average (one row per host and minute). */
  async flush(hostId: string): Promise<void> {
    const points = this.pending.get(hostId);
    if (!points?.length) return;
    this.pending.set(hostId, []);
    for (const p of downsample(points, MINUTE)) {
      const { at, ...data } = p;
      await this.db
        .insertInto('server_metrics_minute')
        .values({ host_id: hostId, at, data: JSON.stringify(data) })
        .onConflict((oc) => oc.columns(['host_id', 'at']).doUpdateSet({ data: JSON.stringify(data) }))
        .execute();
    }
  }

  async prune(nowMs = Date.now()): Promise<number> {
    const r = await this.db.deleteFrom('server_metrics_minute').where('at', '<', nowMs - this.opts.retentionDays * 24 * HOUR).executeTakeFirst();
    return Number(r.numDeletedRows ?? 0);
  }
}
