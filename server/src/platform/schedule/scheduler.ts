import type { FastifyBaseLogger } from 'fastify';
import type { ScheduleLeases } from './leases.js';

export type ScheduledFn = (signal: AbortSignal) => Promise<unknown> | unknown;

export interface ScheduleView {
  /** `<module>.<name>` */
  name: string;
  module: string;
  /** 0: turned off by configuration. */
  everyMs: number;
  running: boolean;
  runs: number;
  lastRunAt: number | null;
  lastDurationMs: number | null;
  /** Whether the last run succeeded (null: not run yet). The last error stays until the next failure replaces it. */
  lastOk: boolean | null;
  lastError: string | null;
  lastErrorAt: number | null;
  /**
   * `cluster`: runs on one replica at a time (the lease holder) once per interval, whichever replica
   * that is; `replica`: a machine-local duty every replica runs for its own machine.
   */
  scope: 'cluster' | 'replica';
  /** This replica runs it now: a local schedule once started, a cluster schedule while it holds the lease. */
  held: boolean;
}

export interface ScheduleOptions {
  /** Machine-local work (this machine's Docker, Caddy, sampler): every replica runs it, no lease. */
  local?: boolean;
}

interface Entry {
  view: ScheduleView;
  fn: ScheduledFn;
  timer: NodeJS.Timeout | null;
  current: Promise<void> | null;
  /** Aborts the run in progress (lease lost, shutdown). */
  runAbort: AbortController | null;
  polling: boolean;
}

/** How often a replica polls a cluster schedule's lease, and how long a lease lasts unrenewed. */
export function leaseTimings(everyMs: number): { pollMs: number; ttlMs: number } {
  const pollMs = Math.min(5_000, Math.max(200, Math.floor(everyMs / 5)));
  return { pollMs, ttlMs: Math.max(1_000, 3 * pollMs) };
}

/**
 * Periodic background work of the modules (`ctx.schedule(name, everyMs, fn)`), with one policy:
 * a run never overlaps the previous one (a tick that finds it still running is skipped), a failure
 * is logged and kept as the schedule's last error, and close stops the timers, aborts the running
 * function's signal and waits for it.
 */
export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly abort = new AbortController();
  private closed = false;

  /**
   * `leases`: the replicas share a PostgreSQL database, so cluster-scoped schedules run under a
   * lease (one replica at a time, taken over within an interval). Without it (SQLite, one process)
   * every schedule is a plain timer in this process.
   */
  constructor(private readonly log: FastifyBaseLogger, private readonly leases?: ScheduleLeases) {}

  /** Declares a schedule; it does not run until `start(module)` (the module is ready). */
  define(module: string, name: string, everyMs: number, fn: ScheduledFn, opts: ScheduleOptions = {}): void {
    if (!/^[a-z][a-z0-9.-]*$/i.test(name)) throw new Error(`bad schedule name ${name}`);
    const full = name.startsWith(`${module}.`) ? name : `${module}.${name}`;
    if (this.entries.has(full)) throw new Error(`schedule ${full} is defined twice`);
    if (!Number.isFinite(everyMs) || everyMs < 0) throw new Error(`schedule ${full}: everyMs must be >= 0`);
    this.entries.set(full, {
      fn, timer: null, current: null, runAbort: null, polling: false,
      view: {
        name: full, module, everyMs, running: false, runs: 0, lastRunAt: null, lastDurationMs: null, lastOk: null, lastError: null, lastErrorAt: null,
        scope: opts.local ? 'replica' : 'cluster', held: false,
      },
    });
  }

  /** Starts the module's schedules (idempotent). A schedule of 0 ms stays off. */
  start(module: string): void {
    if (this.closed) return;
    for (const e of this.entries.values()) {
      if (e.view.module !== module || e.timer || e.view.everyMs <= 0) continue;
      if (this.leases && e.view.scope === 'cluster') {
        e.timer = setInterval(() => void this.pollLease(e), leaseTimings(e.view.everyMs).pollMs);
        void this.pollLease(e);
      } else {
        e.view.held = true;
        e.timer = setInterval(() => void this.tick(e), e.view.everyMs);
      }
      e.timer.unref();
    }
  }

  /** Runs one schedule now (tests, "refresh now"); resolves when that run ends. Skipped while one runs. */
  async runNow(name: string): Promise<void> {
    const e = this.entries.get(name);
    if (!e) throw new Error(`no schedule ${name}`);
    await this.tick(e);
  }

  list(module?: string): ScheduleView[] {
    return [...this.entries.values()].filter((e) => !module || e.view.module === module).map((e) => ({ ...e.view }));
  }

  /** Names of the cluster schedules whose lease this replica holds. */
  heldLeases(): string[] {
    return [...this.entries.values()].filter((e) => e.view.scope === 'cluster' && e.view.held && !!this.leases).map((e) => e.view.name);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const e of this.entries.values()) {
      if (e.timer) clearInterval(e.timer);
      e.timer = null;
    }
    this.abort.abort();
    await Promise.allSettled([...this.entries.values()].map((e) => e.current));
    // Hand leases over at once: another replica runs the next interval without waiting for expiry.
    const held = this.heldLeases();
    for (const e of this.entries.values()) e.view.held = false;
    await this.leases?.release(held).catch((err: unknown) => this.log.warn({ err }, 'could not release schedule leases'));
  }

  /** One poll of a cluster schedule: renew or take the lease; run when due and the run is ours. */
  private async pollLease(e: Entry): Promise<void> {
    if (e.polling || this.closed || !this.leases) return;
    e.polling = true;
    try {
      const { ttlMs } = leaseTimings(e.view.everyMs);
      const st = await this.leases.poll(e.view.name, e.view.everyMs, ttlMs);
      const had = e.view.held;
      e.view.held = st.held && !this.closed;
      if (!st.held) {
        if (had) this.log.warn({ schedule: e.view.name }, `${e.view.name}: lease lost to another replica`);
        e.runAbort?.abort(new Error('lease lost'));
        return;
      }
      if (st.tookOver) this.log.info({ schedule: e.view.name }, `${e.view.name}: took over the lease of a replica that stopped renewing it`);
      if (st.due && !e.current && !this.closed && (await this.leases.claimRun(e.view.name, e.view.everyMs, st.nextRunAt))) void this.tick(e);
    } catch (err) {
      this.log.warn({ err, schedule: e.view.name }, `${e.view.name}: lease poll failed`);
    } finally {
      e.polling = false;
    }
  }

  private tick(e: Entry): Promise<void> {
    if (e.current) return e.current; // never overlaps itself
    if (this.closed) return Promise.resolve();
    const started = Date.now();
    e.view.running = true;
    const runAbort = new AbortController();
    e.runAbort = runAbort;
    e.current = (async () => {
      try {
        await e.fn(AbortSignal.any([this.abort.signal, runAbort.signal]));
        e.view.lastOk = true;
      } catch (err) {
        e.view.lastOk = false;
        e.view.lastError = err instanceof Error ? err.message : String(err);
        e.view.lastErrorAt = Date.now();
        this.log.warn({ err, schedule: e.view.name }, `${e.view.name} failed`);
      } finally {
        e.view.runs++;
        e.view.lastRunAt = started;
        e.view.lastDurationMs = Date.now() - started;
        e.view.running = false;
        e.current = null;
        e.runAbort = null;
      }
    })();
    return e.current;
  }
}
