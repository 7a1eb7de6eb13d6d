import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyBaseLogger } from 'fastify';
import pg from 'pg';
import type { Database } from '../../db/database.js';
import { newId } from '../../db/ids.js';

/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more: larger bodies go through `cluster_payloads`. */
export const NOTIFY_MAX_BYTES = 7500;
/** Large bodies are read by every replica within milliseconds; kept a while for slow ones. */
const PAYLOAD_KEEP_MS = 5 * 60_000;
/** A replica whose heartbeat is this many beats old is shown as lost (and its leases expire on their own). */
const LOST_AFTER_BEATS = 3;

type Handler = (data: unknown, from: string) => void;

interface Wire {
  /** sender replica */
  r: string;
  /** topic */
  t: string;
  /** body, or `ref`: the id of its row in cluster_payloads */
  d?: unknown;
  ref?: string;
}

export interface ReplicaView {
  id: string;
  address: string;
  version: string;
  hostname: string;
  pid: number;
  startedAt: number;
  lastHeartbeatAt: number;
  /** `alive`: heartbeat recent; `lost`: stopped beating without saying goodbye (killed, partitioned); `stopped`: shut down cleanly. */
  state: 'alive' | 'lost' | 'stopped';
  current: boolean;
  /** Exactly-once schedules this replica holds right now. */
  leases: string[];
  /** Jobs whose lease this replica holds (running here). */
  jobs: number;
  /** Machine-local duties (activator, samplers …) this replica runs. */
  localDuties: string[];
}

/** A machine-local duty: runs on every replica for its own machine, never handed over. */
export interface LocalDuty { name: string; module: string; description: string }

export interface ClusterOptions {
  database: Database;
  log: FastifyBaseLogger;
  /** Where this replica is reached (SLIPWAY_REPLICA_ADDRESS, default its listen address). */
  address: string;
  version: string;
  heartbeatMs?: number;
}

/** The panel's version (package.json next to the source tree or the build). */
export function panelVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const p = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (p.name === 'slipway' && p.version) return p.version;
      } catch {
        // not ours
      }
    }
    dir = path.dirname(dir);
  }
  return 'unknown';
}

/** `host/pid/random`: the same shape as a job lease owner, so crash detection recognises it. */
export function newReplicaId(): string {
  return `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
}

/**
 * The panel's replicas on one database (issue 15, ADR 0010).
 *
 * On PostgreSQL the replicas share one NOTIFY channel per schema: `send(topic, data)` reaches every
 * other replica's `on(topic)` handlers, in the order this replica sent them (one connection sends,
 * one listens). A body too large for NOTIFY is stored in `cluster_payloads` first and the
 * notification carries its id. On SQLite (one process) nothing leaves the process and `shared` is
 * false. Each replica also beats a row in `cluster_replicas` (GET /api/v1/cluster).
 */
export class Cluster {
  readonly replicaId = newReplicaId();
  readonly shared: boolean;
  readonly startedAt = Date.now();
  readonly heartbeatMs: number;
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly reconnectHandlers = new Set<() => void>();
  private readonly duties: LocalDuty[] = [];
  private readonly channel: string;
  private listener: pg.Client | null = null;
  private sender: pg.Client | null = null;
  private sendChain: Promise<unknown> = Promise.resolve();
  private receiveChain: Promise<unknown> = Promise.resolve();
  private connected = false;
  private stopped = false;
  private timers: NodeJS.Timeout[] = [];
  private reconnectTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: ClusterOptions) {
    this.shared = opts.database.dialect === 'postgres' && !!opts.database.pg;
    this.heartbeatMs = opts.heartbeatMs ?? 5_000;
    const schema = (opts.database.pg?.schema ?? 'public').toLowerCase().replace(/[^a-z0-9_]/g, '_');
    this.channel = `slipway_${schema}`.slice(0, 63);
  }

  private get db() {
    return this.opts.database.db;
  }

  /** True when messages reach the other replicas now (always true on SQLite: there are none). */
  isConnected(): boolean {
    return !this.shared || this.connected;
  }

  on(topic: string, handler: Handler): () => void {
    let set = this.handlers.get(topic);
    if (!set) this.handlers.set(topic, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  /** Called after the listening connection came back: messages sent meanwhile were missed, drop what was cached. */
  onReconnect(fn: () => void): () => void {
    this.reconnectHandlers.add(fn);
    return () => this.reconnectHandlers.delete(fn);
  }

  declareLocalDuty(duty: LocalDuty): void {
    if (!this.duties.some((d) => d.name === duty.name && d.module === duty.module)) this.duties.push(duty);
  }

  localDuties(module?: string): LocalDuty[] {
    return this.duties.filter((d) => !module || d.module === module);
  }

  /** Fire and forget; ordered per sender. Resolves when the notification was handed to PostgreSQL. */
  send(topic: string, data: unknown): Promise<void> {
    if (!this.shared || this.stopped) return Promise.resolve();
    const p = this.sendChain.then(() => this.deliver(topic, data)).catch((err: unknown) => {
      this.opts.log.warn({ err, topic }, 'cluster: could not notify the other replicas');
    });
    this.sendChain = p;
    return p;
  }

  private async deliver(topic: string, data: unknown): Promise<void> {
    const client = await this.senderClient();
    let wire = JSON.stringify({ r: this.replicaId, t: topic, d: data } satisfies Wire);
    if (Buffer.byteLength(wire) > NOTIFY_MAX_BYTES) {
      const id = newId();
      // Same connection, autocommit: the row is committed before the notification is sent.
      await client.query('insert into cluster_payloads (id, body, created_at) values ($1, $2, $3)', [id, JSON.stringify(data), Date.now()]);
      wire = JSON.stringify({ r: this.replicaId, t: topic, ref: id } satisfies Wire);
    }
    await client.query('select pg_notify($1, $2)', [this.channel, wire]);
  }

  private connectOptions(): pg.ClientConfig {
    const { url, schema } = this.opts.database.pg!;
    return { connectionString: url, ...(schema ? { options: `-c search_path=${schema}` } : {}) };
  }

  private async senderClient(): Promise<pg.Client> {
    if (this.sender) return this.sender;
    const c = new pg.Client(this.connectOptions());
    c.on('error', (err) => {
      this.opts.log.warn({ err }, 'cluster: sending connection failed');
      if (this.sender === c) this.sender = null;
    });
    c.on('end', () => {
      if (this.sender === c) this.sender = null;
    });
    await c.connect();
    this.sender = c;
    return c;
  }

  private async listen(): Promise<void> {
    const c = new pg.Client(this.connectOptions());
    const lost = (err?: unknown) => {
      if (this.listener !== c) return;
      this.listener = null;
      this.connected = false;
      if (err) this.opts.log.warn({ err }, 'cluster: listening connection lost; reconnecting');
      c.end().catch(() => {});
      this.scheduleReconnect();
    };
    c.on('error', (err) => lost(err));
    c.on('end', () => lost());
    c.on('notification', (n) => {
      if (n.channel !== this.channel || !n.payload) return;
      // In order: a large body read from the table must not let a later small message overtake it.
      this.receiveChain = this.receiveChain.then(() => this.receive(n.payload!)).catch((err: unknown) => this.opts.log.warn({ err }, 'cluster: message dropped'));
    });
    await c.connect();
    await c.query(`listen "${this.channel}"`);
    this.listener = c;
    this.connected = true;
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.listen().then(() => {
        for (const fn of this.reconnectHandlers) fn();
      }).catch((err: unknown) => {
        this.opts.log.warn({ err }, 'cluster: reconnect failed');
        this.scheduleReconnect();
      });
    }, 1000);
    this.reconnectTimer.unref();
  }

  private async receive(payload: string): Promise<void> {
    const w = JSON.parse(payload) as Wire;
    if (w.r === this.replicaId) return;
    const set = this.handlers.get(w.t);
    if (!set?.size) return;
    let data = w.d;
    if (w.ref) {
      const row = await this.db.selectFrom('cluster_payloads').select('body').where('id', '=', w.ref).executeTakeFirst();
      if (!row) throw new Error(`cluster payload ${w.ref} is gone`);
      data = JSON.parse(row.body);
    }
    for (const h of [...set]) {
      try {
        h(data, w.r);
      } catch (err) {
        this.opts.log.warn({ err, topic: w.t }, 'cluster: handler failed');
      }
    }
  }

  async start(): Promise<void> {
    const now = Date.now();
    await this.db.insertInto('cluster_replicas').values({
      id: this.replicaId, address: this.opts.address, version: this.opts.version, pid: process.pid, hostname: hostname(),
      started_at: this.startedAt, heartbeat_at: now, stopped_at: null, duties: JSON.stringify(this.duties.map((d) => `${d.module}.${d.name}`)),
    }).execute();
    if (this.shared) {
      try {
        await this.listen();
      } catch (err) {
        this.opts.log.error({ err }, 'cluster: cannot LISTEN; retrying (caches are bypassed meanwhile)');
        this.scheduleReconnect();
      }
    }
    const t = setInterval(() => void this.beat().catch((err: unknown) => this.opts.log.warn({ err }, 'cluster: heartbeat failed')), this.heartbeatMs);
    t.unref();
    this.timers.push(t);
  }

  async beat(): Promise<void> {
    await this.db.updateTable('cluster_replicas').set({ heartbeat_at: Date.now(), duties: JSON.stringify(this.duties.map((d) => `${d.module}.${d.name}`)) })
      .where('id', '=', this.replicaId).execute();
  }

  /** The platform's exactly-once schedule `platform.cluster-housekeeping`: old payloads, replicas gone for a day. */
  async housekeeping(): Promise<void> {
    const now = Date.now();
    await this.db.deleteFrom('cluster_payloads').where('created_at', '<', now - PAYLOAD_KEEP_MS).execute();
    await this.db.deleteFrom('cluster_replicas').where('heartbeat_at', '<', now - 86_400_000).execute();
  }

  async replicas(): Promise<ReplicaView[]> {
    const now = Date.now();
    const [rows, leases, jobs] = await Promise.all([
      this.db.selectFrom('cluster_replicas').selectAll().orderBy('started_at', 'asc').execute(),
      this.db.selectFrom('cluster_leases').select(['name', 'holder']).where('expires_at', '>', now).execute(),
      this.db.selectFrom('jobs').select(['lease_owner']).where('state', '=', 'running').where('lease_owner', 'is not', null).execute(),
    ]);
    return rows.map((r) => ({
      id: r.id, address: r.address, version: r.version, hostname: r.hostname, pid: Number(r.pid),
      startedAt: Number(r.started_at), lastHeartbeatAt: Number(r.heartbeat_at),
      state: r.stopped_at !== null ? 'stopped' as const : now - Number(r.heartbeat_at) > LOST_AFTER_BEATS * this.heartbeatMs ? 'lost' as const : 'alive' as const,
      current: r.id === this.replicaId,
      leases: leases.filter((l) => l.holder === r.id).map((l) => l.name).sort(),
      jobs: jobs.filter((j) => j.lease_owner === r.id).length,
      localDuties: (JSON.parse(r.duties) as string[]).sort(),
    }));
  }

  /** Sends what is queued, marks this replica stopped (`quiet`: a sender only, such as the CLI, has no row). */
  async stop(opts: { quiet?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.sendChain.catch(() => {});
    this.stopped = true;
    if (!opts.quiet) await this.db.updateTable('cluster_replicas').set({ stopped_at: Date.now() }).where('id', '=', this.replicaId).execute().catch(() => {});
    const l = this.listener;
    this.listener = null;
    this.connected = false;
    await l?.end().catch(() => {});
    const s = this.sender;
    this.sender = null;
    await s?.end().catch(() => {});
  }
}
