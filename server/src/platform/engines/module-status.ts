import type { FastifyBaseLogger } from 'fastify';
import { runProbe, type EngineProbe, type ProbeContext, type ProbeResult } from './engine.js';

export const MODULE_STATES = ['ready', 'degraded', 'unavailable'] as const;
export type ModuleState = (typeof MODULE_STATES)[number];

export interface EngineStatus extends ProbeResult {
  id: string;
  title: string;
  optional: boolean;
  checkedAt: number | null;
}

export interface ModuleStatusView {
  id: string;
  title: string;
  status: ModuleState;
  /** Why it is not ready (null when ready). */
  reason: string | null;
  fix: string | null;
  engines: EngineStatus[];
  /** The permission that shows the module in the console's navigation. */
  navPermission: string | null;
  /** Its background work (onReady, schedules) has started. */
  active: boolean;
  checkedAt: number | null;
}

export interface SupervisedModule {
  id: string;
  title: string;
  navPermission?: string;
  engines: EngineProbe<never>[];
  probeContext: ProbeContext<unknown>;
  /** Starts the module's background work; throws when it cannot (the module stays unavailable). */
  activate(): Promise<void>;
}

/** One module's engines and status. */
class Supervisor {
  engines: EngineStatus[];
  status: ModuleState = 'unavailable';
  reason: string | null = 'not probed yet';
  fix: string | null = null;
  active = false;
  activationError: string | null = null;
  /** Background work is expected (the app starts it): not ready until it has started. */
  expectActive = false;
  checkedAt: number | null = null;

  constructor(readonly m: SupervisedModule) {
    this.engines = m.engines.map((e) => ({ id: e.id, title: e.title, optional: !!e.optional, ok: false, checkedAt: null, reason: 'not probed yet' }));
    if (!m.engines.length) {
      this.status = 'ready';
      this.reason = null;
    }
  }

  async probe(): Promise<void> {
    const results = await Promise.all(this.m.engines.map((e) => runProbe(e as EngineProbe<unknown>, this.m.probeContext)));
    const at = Date.now();
    this.engines = this.m.engines.map((e, i) => ({ id: e.id, title: e.title, optional: !!e.optional, ...results[i]!, checkedAt: at }));
    this.checkedAt = at;
    this.compute();
  }

  compute(): void {
    const required = this.engines.find((e) => !e.ok && !e.optional);
    const optional = this.engines.find((e) => !e.ok && e.optional);
    if (required) this.set('unavailable', required.reason ?? `${required.title} is not available`, required.fix ?? null);
    else if (this.activationError) this.set('unavailable', this.activationError, 'see the panel log for details; the panel tries again by itself');
    else if (this.expectActive && !this.active) this.set('unavailable', `${this.m.title} is starting`, null);
    else if (optional) this.set('degraded', optional.reason ?? `${optional.title} is not available`, optional.fix ?? null);
    else this.set('ready', null, null);
  }

  private set(status: ModuleState, reason: string | null, fix: string | null): void {
    this.status = status;
    this.reason = reason;
    this.fix = fix;
  }

  /** Engines are there (ready or degraded) but the work has not started. */
  get startable(): boolean {
    return !this.active && !this.engines.some((e) => !e.ok && !e.optional);
  }

  view(): ModuleStatusView {
    return {
      id: this.m.id, title: this.m.title, status: this.status, reason: this.reason, fix: this.fix,
      engines: this.engines.map((e) => ({ ...e })), navPermission: this.m.navPermission ?? null, active: this.active, checkedAt: this.checkedAt,
    };
  }
}

export interface ModuleRuntimeOptions {
  /** How often a module that is not ready probes its engines again. */
  retryMs: number;
  /** How often a ready module's engines are checked (its status follows them). */
  recheckMs: number;
  log: FastifyBaseLogger;
}

/**
 * Probes every module's engines at start and keeps probing in the background: a module whose
 * required engine is missing is `unavailable` (its routes answer 503 module_unavailable), one
 * missing only an optional engine is `degraded`. A module's background work starts once its
 * engines answer, at start or later without a restart; a failure to start it never stops the panel.
 */
export class ModuleRuntime {
  private readonly sups = new Map<string, Supervisor>();
  private timer: NodeJS.Timeout | null = null;
  private loop: Promise<void> | null = null;
  private lastRecheck = 0;
  private closed = false;
  private readonly listeners = new Set<(m: ModuleStatusView) => void>();

  constructor(private readonly opts: ModuleRuntimeOptions) {}

  add(m: SupervisedModule): void {
    this.sups.set(m.id, new Supervisor(m));
  }

  /** Current status of one module (unknown ids: undefined). */
  get(id: string): ModuleStatusView | undefined {
    return this.sups.get(id)?.view();
  }

  isUsable(id: string): boolean {
    const s = this.sups.get(id);
    return !s || s.status !== 'unavailable';
  }

  list(): ModuleStatusView[] {
    return [...this.sups.values()].map((s) => s.view());
  }

  /** Called whenever a module's status changes (the event bus publishes it). */
  onChange(fn: (m: ModuleStatusView) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Probes every module once (in parallel). */
  async probeAll(): Promise<void> {
    await Promise.all([...this.sups.values()].map((s) => this.probe(s)));
  }

  /**
   * The first probe, then (with `background`) starts the work of every module whose engines answer
   * (in registration order, awaited) and the retry loop.
   */
  async start(background: boolean): Promise<void> {
    if (background) for (const s of this.sups.values()) s.expectActive = true;
    await this.probeAll();
    if (!background) return;
    for (const s of this.sups.values()) await this.activate(s);
    this.lastRecheck = Date.now();
    this.timer = setInterval(() => {
      if (!this.loop) this.loop = this.round().finally(() => (this.loop = null));
    }, this.opts.retryMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.loop;
  }

  private async round(): Promise<void> {
    const recheck = Date.now() - this.lastRecheck >= this.opts.recheckMs;
    if (recheck) this.lastRecheck = Date.now();
    for (const s of this.sups.values()) {
      if (this.closed) return;
      if (s.active && !recheck) continue;
      if (s.m.engines.length || !s.active) await this.probe(s);
      if (!this.closed) await this.activate(s);
    }
  }

  private async probe(s: Supervisor): Promise<void> {
    const before = `${s.status}|${s.reason}`;
    await s.probe();
    this.changed(s, before);
  }

  private async activate(s: Supervisor): Promise<void> {
    if (!s.startable || this.closed) return;
    const before = `${s.status}|${s.reason}`;
    try {
      await s.m.activate();
      s.active = true;
      s.activationError = null;
      this.opts.log.info({ module: s.m.id, status: s.status }, `module ${s.m.id} started`);
    } catch (e) {
      s.activationError = `${s.m.title} could not start: ${e instanceof Error ? e.message : String(e)}`;
      this.opts.log.error({ err: e, module: s.m.id }, `module ${s.m.id} could not start; retrying in ${this.opts.retryMs} ms`);
    }
    s.compute();
    this.changed(s, before);
  }

  private changed(s: Supervisor, before: string): void {
    if (`${s.status}|${s.reason}` === before) return;
    const v = s.view();
    const starting = s.expectActive && !s.active && !s.activationError && v.status === 'unavailable' && !v.engines.some((e) => !e.ok && !e.optional);
    if (starting) {
      /* not worth a line: it starts right after */
    } else if (v.status !== 'ready') this.opts.log.warn({ module: v.id, status: v.status, reason: v.reason, fix: v.fix }, `module ${v.id} is ${v.status}: ${v.reason}`);
    else this.opts.log.info({ module: v.id }, `module ${v.id} is ready`);
    for (const fn of this.listeners) fn(v);
  }
}
