import { type Actor, authorize, can, type HostRegistry } from '../../../server/src/sdk.js';
import type { Alert } from './metrics/alerts.js';
import type { MetricsService } from './metrics/metrics.service.js';
import type { ServerDb } from './server.migrations.js';
import { serverPermissions } from './server.permissions.js';

/** The app's dashboard counts (platform OverviewCounts), filled by every module through `ctx.overview.count`. */
export interface ModuleCounts {
  list(actor: Actor, can: (actor: Actor, permission: string) => boolean): Promise<{ id: string; module: string; title: string; count: number | null }[]>;
}

export interface SystemOverview {
  hosts: {
    id: string; name: string; kind: string; status: string; capabilities: Record<string, boolean>;
    sampler: { state: string; error: string | null; lastSampleAt: number | null } | null;
    metrics: { cpuPercent: number; cores: number; load1: number; memUsedPercent: number; diskMaxUsedPercent: number; uptimeSeconds: number } | null;
  }[];
  totals: { hosts: number; online: number; cores: number; memoryTotalBytes: number; memoryUsedBytes: number; diskTotalBytes: number; diskUsedBytes: number };
  modules: { id: string; title: string; count: number | null }[];
  jobs: { queued: number; running: number; failedLastDay: number };
  alerts: Alert[];
  at: number;
}

export class OverviewService {
  constructor(private readonly db: ServerDb, private readonly hosts: HostRegistry, private readonly metrics: MetricsService, private readonly counts: ModuleCounts) {}

  async get(actor: Actor): Promise<SystemOverview> {
    authorize(actor, serverPermissions['metrics.read']);
    const list = await this.hosts.list();
    const totals = { hosts: list.length, online: 0, cores: 0, memoryTotalBytes: 0, memoryUsedBytes: 0, diskTotalBytes: 0, diskUsedBytes: 0 };
    const hosts = list.map((h) => {
      const s = this.metrics.current(h.id);
      const sampler = this.metrics.status(h.id) ?? null;
      if (sampler?.state === 'ok') totals.online++;
      if (s) {
        totals.cores += s.cpu.cores;
        totals.memoryTotalBytes += s.memory.totalBytes;
        totals.memoryUsedBytes += s.memory.usedBytes;
        for (const d of s.disks) {
          totals.diskTotalBytes += d.usedBytes + d.availableBytes;
          totals.diskUsedBytes += d.usedBytes;
        }
      }
      return {
        id: h.id, name: h.name, kind: h.kind, status: sampler?.state === 'error' ? 'unreachable' : h.status, capabilities: h.capabilities,
        sampler: sampler ? { ...sampler } : null,
        metrics: s ? { cpuPercent: s.cpu.percent, cores: s.cpu.cores, load1: s.load.load1, memUsedPercent: s.memory.usedPercent, diskMaxUsedPercent: Math.max(0, ...s.disks.map((d) => d.usedPercent)), uptimeSeconds: s.uptimeSeconds } : null,
      };
    });
    // Each count is what this actor may see (a tenant counts its own sites).
    const modules = (await this.counts.list(actor, can)).map((c) => ({ id: c.id, title: c.title, count: c.count }));
    const jobRows = await this.db
      .selectFrom('jobs')
      .select((eb) => ['state', eb.fn.countAll<number>().as('n')])
      .where((eb) => eb.or([eb('state', 'in', ['queued', 'running']), eb.and([eb('state', '=', 'failed'), eb('finished_at', '>', Date.now() - 86_400_000)])]))
      .groupBy('state')
      .execute();
    const count = (state: string) => Number(jobRows.find((r) => r.state === state)?.n ?? 0);
    return { hosts, totals, modules, jobs: { queued: count('queued'), running: count('running'), failedLastDay: count('failed') }, alerts: this.metrics.activeAlerts(), at: Date.now() };
  }
}
