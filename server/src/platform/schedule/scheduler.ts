import type { FastifyBaseLogger } from 'fastify';

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
}

interface Entry {
  view: ScheduleView;
  fn: ScheduledFn;
  timer: NodeJS.Timeout | null;
  current: Promise<void> | null;
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

  constructor(private readonly log: FastifyBaseLogger) {}

  /** Declares a schedule; it does not run until `start(module)` (the module is ready). */
  define(module: string, name: string, everyMs: number, fn: ScheduledFn): void {
    if (!/^[a-z][a-z0-9.-]*$/i.test(name)) throw new Error(`bad schedule name ${name}`);
    const full = name.startsWith(`${module}.`) ? name : `${module}.${name}`;
    if (this.entries.has(full)) throw new Error(`schedule ${full} is defined twice`);
    if (!Number.isFinite(everyMs) || everyMs < 0) throw new Error(`schedule ${full}: everyMs must be >= 0`);
    this.entries.set(full, {
      fn, timer: null, current: null,
      view: { name: full, module, everyMs, running: false, runs: 0, lastRunAt: null, lastDurationMs: null, lastOk: null, lastError: null, lastErrorAt: null },
    });
  }

  /** Starts the module's schedules (idempotent). A schedule of 0 ms stays off. */
  start(module: string): void {
    if (this.closed) return;
    for (const e of this.entries.values()) {
      if (e.view.module !== module || e.timer || e.view.everyMs <= 0) continue;
      e.timer = setInterval(() => void this.tick(e), e.view.everyMs);
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

  async close(): Promise<void> {
    this.closed = true;
    for (const e of this.entries.values()) {
      if (e.timer) clearInterval(e.timer);
      e.timer = null;
    }
    this.abort.abort();
    await Promise.allSettled([...this.entries.values()].map((e) => e.current));
  }

  private tick(e: Entry): Promise<void> {
    if (e.current) return e.current; // never overlaps itself
    if (this.closed) return Promise.resolve();
    const started = Date.now();
    e.view.running = true;
    e.current = (async () => {
      try {
        await e.fn(this.abort.signal);
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
      }
    })();
    return e.current;
  }
}
