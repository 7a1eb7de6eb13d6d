import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { newId } from '../../db/ids.js';
import { ConflictError, DomainRuleError, NotFoundError } from '../errors.js';
import { authorize, listScope, resource } from '../rbac/authorize.js';
import { corePermissions } from '../rbac/core-permissions.js';
import type { Actor, Permission } from '../rbac/permissions.js';
import type { JobRunner, JobRunnerDeps } from './index.js';
import { JobExecution } from './job.execution.js';
import { actorOf, isFinished, overallProgress, parseSteps, toView, JobStore, type JobRow } from './job.store.js';
import { registerJobRoutes } from './jobs.routes.js';
import { defineSelftestJob, SELFTEST_JOB } from './selftest.job.js';
import type { EnqueueOptions, JobDefinition, JobListFilters, JobLogLine, JobStepView, JobView, LaunchOptions } from './types.js';

export type JobEvent = { kind: 'log'; line: JobLogLine } | { kind: 'state'; job: JobView };

/** Cross-replica message: lines of a job committed by the replica running it. */
const JOB_LOG_TOPIC = 'job.log';

/** Tunables; tests shorten them. */
export interface JobRunnerTimings {
  leaseMs: number;
  heartbeatMs: number;
  /** Fallback poll for work enqueued by another process (local enqueues wake workers at once). */
  pollMs: number;
  /** How long stop() waits for running steps to react to their signal. */
  shutdownGraceMs: number;
  /** A job resumed this many times after crashes is interrupted instead. */
  maxAttempts: number;
}

const DEFAULT_TIMINGS: JobRunnerTimings = { leaseMs: 30_000, heartbeatMs: 5_000, pollMs: 2_000, shutdownGraceMs: 10_000, maxAttempts: 5 };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Lease owners are `host/pid/random`: a crashed panel's jobs are recognised on restart because
 * its pid is gone (or, after a restart in a container, reused by us with another random part).
 */
function ownerAlive(owner: string, self: string): boolean {
  if (owner === self) return true;
  const [host, pidText] = owner.split('/');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return true;
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The durable job runner: definitions, queue, workers, leases, cancel, crash recovery, live logs. */
export class DurableJobRunner implements JobRunner {
  readonly store: JobStore;
  /** This process's lease owner id (the replica id when the app runs with a cluster). */
  readonly owner: string;
  private readonly timings: JobRunnerTimings;
  private readonly defs = new Map<string, JobDefinition<unknown>>();
  private readonly executions = new Map<string, { exec: JobExecution; done: Promise<void> }>();
  private readonly listeners = new Map<string, Set<(e: JobEvent) => void>>();
  private waiters: (() => void)[] = [];
  private workerLoops: Promise<void>[] = [];
  private timers: NodeJS.Timeout[] = [];
  private started = false;
  private stopping = false;

  constructor(
    private readonly deps: JobRunnerDeps,
    timings: Partial<JobRunnerTimings> = {},
  ) {
    this.store = new JobStore(deps.db, deps.dialect);
    this.timings = { ...DEFAULT_TIMINGS, ...timings };
    this.owner = deps.cluster?.replicaId ?? `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
    const cluster = deps.cluster;
    if (cluster?.shared) {
      // Replicas: followers of a job running elsewhere get its lines as soon as they are committed
      // there (one message per 50 ms batch), and its state changes through the event bus.
      this.store.onLinesCommitted = (jobId, lines) => void cluster.send(JOB_LOG_TOPIC, { jobId, lines });
      cluster.on(JOB_LOG_TOPIC, (data) => {
        const { jobId, lines } = data as { jobId: string; lines: JobLogLine[] };
        if (!this.listeners.has(jobId) || this.executions.has(jobId)) return;
        for (const line of lines) this.emit(jobId, { kind: 'log', line });
      });
      deps.events.subscribe((e) => {
        if (e.type !== 'job.updated' || !deps.events.isRemote(e) || !e.resource || !this.listeners.has(e.resource.id)) return;
        const job = (e.data as { job?: JobView } | undefined)?.job;
        if (job) this.emit(e.resource.id, { kind: 'state', job });
      });
    }
    defineSelftestJob(this, deps);
  }

  define<I>(def: JobDefinition<I>): void {
    if (this.defs.has(def.type)) throw new Error(`job type ${def.type} is defined twice`);
    if (!def.steps.length) throw new Error(`job type ${def.type} has no steps`);
    this.defs.set(def.type, def as JobDefinition<unknown>);
  }

  async enqueue<I>(type: string, input: I, opts: EnqueueOptions): Promise<JobView> {
    const def = this.defs.get(type);
    if (!def) throw new DomainRuleError(`Unknown job type ${type}`, 'unknown_job_type');
    const parsed = def.input.parse(input);
    const at = Date.now();
    const steps: JobStepView[] = def.steps.map((s) => ({ name: s.name, state: 'pending', progress: 0, startedAt: null, finishedAt: null }));
    const row: JobRow = {
      id: newId(),
      type,
      title: def.title(parsed).slice(0, 300),
      state: 'queued',
      resource: opts.resource ?? null,
      input: JSON.stringify(parsed ?? null),
      output: null,
      error: null,
      steps: JSON.stringify(steps),
      current_step: 0,
      progress: 0,
      actor_id: opts.actor.userId,
      actor_name: opts.actor.username,
      actor_kind: opts.actor.kind,
      actor_role: opts.actor.role,
      cancel_requested: 0,
      attempts: 0,
      lease_owner: null,
      lease_expires_at: null,
      created_at: at,
      started_at: null,
      finished_at: null,
      updated_at: at,
    };
    await this.store.insert(row);
    const view = toView(row);
    this.publish(view);
    this.wake();
    return view;
  }

  async launch<I>(actor: Actor, opts: LaunchOptions<I>): Promise<JobView> {
    const job = await this.enqueue(opts.type, opts.input, { actor, resource: opts.resource });
    await this.deps.audit.record({ actor, action: opts.audit.action, target: opts.audit.target, outcome: 'started', details: { ...opts.audit.details, jobId: job.id } });
    return job;
  }

  /** The system self-test, started from the API (one audit entry). */
  async enqueueSelftest(actor: Actor): Promise<JobView> {
    authorize(actor, corePermissions['jobs.selftest']);
    const job = await this.enqueue(SELFTEST_JOB, {}, { actor });
    await this.deps.audit.record({ actor, action: 'job.selftest', target: { type: 'job', id: job.id }, outcome: 'success' });
    return job;
  }

  /** The row, authorized for `permission`: a job is owned by whoever started it (the `user` role sees only its own; others are "not found"). */
  private async authorizedRow(id: string, actor: Actor, permission: Permission): Promise<JobRow> {
    return authorize(actor, permission, resource('Job', id, await this.store.find(id), (r) => r.actor_id));
  }

  async get(id: string, actor: Actor): Promise<JobView> {
    return (await this.named([toView(await this.authorizedRow(id, actor, corePermissions['jobs.read']))]))[0]!;
  }

  async list(filters: JobListFilters, actor: Actor): Promise<{ items: JobView[]; nextBefore: string | null }> {
    authorize(actor, corePermissions['jobs.read']);
    const { rows, nextBefore } = await this.store.list(filters, listScope(actor, corePermissions['jobs.read']));
    return { items: await this.named(rows.map(toView)), nextBefore };
  }

  /**
   * Adds `target` (type, id, name) to jobs whose lock key names a resource (issue 18: names, not ids):
   * `vps:<id>` is the audit target `vps/<id>`, `netboot:machine:<id>` is `netboot-machine/<id>`; the
   * name is the one the audit log knows for it. A job without a known name keeps `target` with its id.
   */
  private async named(views: JobView[]): Promise<JobView[]> {
    const candidates = views.map((v) => resourceTargets(v.resource));
    const refs = candidates.flat();
    if (!refs.length) return views;
    const names = await Promise.resolve(this.deps.audit.targetNames?.(refs)).then((m) => m ?? new Map<string, string>(), () => new Map<string, string>());
    return views.map((v, i) => {
      const mine = candidates[i]!;
      if (!mine.length) return v;
      const hit = mine.find((r) => names.has(`${r.type}:${r.id}`)) ?? mine[mine.length - 1]!;
      const name = names.get(`${hit.type}:${hit.id}`);
      return { ...v, target: { type: hit.type, id: hit.id, ...(name ? { name } : {}) } };
    });
  }

  async cancel(id: string, actor: Actor): Promise<JobView> {
    let row = await this.authorizedRow(id, actor, corePermissions['jobs.cancel']);
    if (row.state === 'queued') {
      const steps = parseSteps(row).map((s) => ({ ...s, state: 'skipped' as const }));
      const cancelled = await this.store.transition(id, { state: 'queued' }, {
        state: 'cancelled', cancel_requested: 1, finished_at: Date.now(), error: 'cancelled before it started', steps: JSON.stringify(steps),
      });
      if (cancelled) {
        await this.store.appendLines(id, [{ stream: 'warn', line: `Cancelled by ${actor.username} before it started` }]);
        await this.deps.audit.record({ actor, action: 'job.cancel', target: { type: 'job', id }, outcome: 'success', details: { type: row.type, was: 'queued' } });
        this.deps.metrics.jobsFinished.inc({ type: row.type, state: 'cancelled' });
        await this.auditOutcome(cancelled);
        const view = toView(cancelled);
        this.publish(view);
        this.wake();
        return view;
      }
      row = (await this.store.find(id))!; // claimed meanwhile: cancel it as a running job
    }
    if (row.state !== 'running') throw new ConflictError(`Job ${id} already finished (${row.state})`);
    await this.store.requestCancel(id);
    this.executions.get(id)?.exec.abort('cancelled');
    await this.deps.audit.record({ actor, action: 'job.cancel', target: { type: 'job', id }, outcome: 'success', details: { type: row.type, was: 'running' } });
    const view = toView((await this.store.find(id))!);
    if (!isFinished(view.state)) this.publish(view);
    return view;
  }

  async logs(id: string, actor: Actor, afterSeq = 0, limit = 1000): Promise<JobLogLine[]> {
    await this.assertLogReadable(id, actor);
    return this.readLines(id, afterSeq, limit);
  }

  /**
   * Who reads a job's log (JSON page, SSE, WebSocket): `core.jobs.logs` — the job's owner (whoever
   * started it), and for anyone else's job `core.jobs.logs.others` (operator, admin: docs/SECURITY.md).
   * Support, billing and viewer see other users' jobs (state, steps) but not their output (403); the
   * `user` role does not even see they exist (404).
   */
  async assertLogReadable(id: string, actor: Actor): Promise<JobView> {
    return toView(await this.authorizedRow(id, actor, corePermissions['jobs.logs']));
  }

  /**
   * Stored lines after `afterSeq`, including lines of a local running job not yet committed.
   * The pending snapshot is taken before the query: a batch committing in between is then found
   * in one or the other, and pending lines are always newer than stored ones.
   */
  async readLines(id: string, afterSeq: number, limit: number): Promise<JobLogLine[]> {
    const pending = this.executions.get(id)?.exec.writer.pending() ?? [];
    const stored = await this.store.readLines(id, afterSeq, limit);
    if (stored.length >= limit) return stored;
    const last = stored.length ? stored[stored.length - 1]!.seq : afterSeq;
    return stored.concat(pending.filter((l) => l.seq > last).slice(0, limit - stored.length));
  }

  /** True while this process runs the job (its log and state changes then arrive as live events). */
  isExecuting(id: string): boolean {
    return this.executions.has(id);
  }

  follow(id: string, listener: (e: JobEvent) => void): () => void {
    let set = this.listeners.get(id);
    if (!set) this.listeners.set(id, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (!set.size) this.listeners.delete(id);
    };
  }

  private emit(id: string, e: JobEvent): void {
    const set = this.listeners.get(id);
    if (!set) return;
    for (const l of [...set]) {
      try {
        l(e);
      } catch (err) {
        this.deps.log.warn({ err, jobId: id }, 'job follower failed');
      }
    }
  }

  /** The change's real outcome, next to the entry that started it (the audit log is append-only). */
  private async auditOutcome(row: JobRow): Promise<void> {
    try {
      await this.deps.audit.recordJobOutcome({ id: row.id, createdAt: Number(row.created_at), state: row.state, error: row.error }, actorOf(row));
    } catch (err) {
      this.deps.log.error({ err, jobId: row.id }, 'could not record the job outcome in the audit log');
    }
  }

  private publish(view: JobView): void {
    this.emit(view.id, { kind: 'state', job: view });
    this.deps.events.publish({ type: 'job.updated', resource: { type: 'job', id: view.id }, ownerId: view.actor.id, data: { job: view } });
  }

  async waitFor(id: string, timeoutMs = 60_000): Promise<JobView> {
    const deadline = Date.now() + timeoutMs;
    return new Promise<JobView>((resolve, reject) => {
      let timer: NodeJS.Timeout | null = null;
      const done = (fn: () => void) => {
        unsubscribe();
        if (timer) clearTimeout(timer);
        fn();
      };
      const unsubscribe = this.follow(id, (e) => {
        if (e.kind === 'state' && isFinished(e.job.state)) done(() => resolve(e.job));
      });
      // Polling covers jobs finished by another process (or before we subscribed).
      const check = async () => {
        try {
          const row = await this.store.find(id);
          if (!row) return done(() => reject(new NotFoundError('Job', id)));
          if (isFinished(row.state)) return done(() => resolve(toView(row)));
          if (Date.now() > deadline) return done(() => reject(new Error(`job ${id} still ${row.state} after ${timeoutMs} ms`)));
          timer = setTimeout(() => void check(), 200);
        } catch (e) {
          done(() => reject(e as Error));
        }
      };
      void check();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  private async workerLoop(): Promise<void> {
    while (this.started && !this.stopping) {
      let row: JobRow | undefined;
      try {
        row = await this.store.claim([...this.defs.keys()], this.owner, this.timings.leaseMs);
      } catch (err) {
        this.deps.log.error({ err }, 'job claim failed');
        await this.idle(1000);
        continue;
      }
      if (!row) {
        await this.idle(this.timings.pollMs);
        continue;
      }
      await this.execute(row);
    }
  }

  private async execute(row: JobRow): Promise<void> {
    const def = this.defs.get(row.type)!;
    let exec: JobExecution;
    try {
      exec = new JobExecution(row, def, {
        store: this.store,
        hosts: this.deps.hosts,
        owner: this.owner,
        onLine: (line) => this.emit(row.id, { kind: 'log', line }),
        onState: (view) => this.publish(view),
        onError: (err, message) => this.deps.log.error({ err, jobId: row.id }, message),
      }, await this.store.maxSeq(row.id));
    } catch (err) {
      this.deps.log.error({ err, jobId: row.id }, 'could not start job');
      return;
    }
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    this.executions.set(row.id, { exec, done });
    this.deps.metrics.jobsRunning.inc();
    this.publish(toView(row));
    try {
      // A cancel that came between the claim and the registration above is only in the database.
      const latest = await this.store.find(row.id);
      if (latest && Number(latest.cancel_requested) === 1) exec.abort('cancelled');
      const final = await exec.run();
      if (final) this.deps.metrics.jobsFinished.inc({ type: final.type, state: final.state });
      if (final && isFinished(final.state)) await this.auditOutcome(final);
    } catch (err) {
      // Left `running` under our lease: once it expires, recovery settles it.
      this.deps.log.error({ err, jobId: row.id }, 'job execution failed unexpectedly');
    } finally {
      this.executions.delete(row.id);
      this.deps.metrics.jobsRunning.dec();
      finish();
      // A finished job may unblock the next one on its resource.
      this.wake();
    }
  }

  private async heartbeat(): Promise<void> {
    const ids = [...this.executions.keys()];
    if (!ids.length) return;
    const alive = await this.store.heartbeat(this.owner, ids, this.timings.leaseMs);
    for (const id of ids) {
      const entry = this.executions.get(id);
      if (!entry) continue;
      const lease = alive.get(id);
      if (!lease) entry.exec.abort('lease-lost');
      else if (lease.cancelRequested) entry.exec.abort('cancelled');
    }
  }

  /**
   * Settles jobs left `running` by a panel that is gone: back to `queued` (continuing at the
   * interrupted step) when that step is safe to repeat, otherwise `interrupted`. Never left running.
   */
  async recoverAbandoned(onStart = false): Promise<number> {
    let settled = 0;
    for (const row of await this.store.running()) {
      if (row.lease_owner === this.owner) continue;
      const expired = row.lease_expires_at === null || Number(row.lease_expires_at) < Date.now();
      const dead = onStart && (!row.lease_owner || !ownerAlive(row.lease_owner, this.owner));
      if (!expired && !dead) continue;
      if (await this.settle(row, dead ? 'the panel process running it stopped' : 'its lease expired')) settled++;
    }
    return settled;
  }

  private async settle(row: JobRow, why: string): Promise<boolean> {
    const steps = parseSteps(row);
    const i = Math.min(Number(row.current_step), steps.length - 1);
    const step = steps[i];
    const def = this.defs.get(row.type);
    const midStep = step?.state === 'running';
    const safe = !midStep || def?.steps[i]?.idempotent === true;
    const from = { state: 'running', leaseOwner: row.lease_owner };
    const stepName = step?.name ?? '?';
    if (safe && Number(row.attempts) < this.timings.maxAttempts && Number(row.cancel_requested) !== 1) {
      if (midStep) Object.assign(step, { state: 'pending', progress: 0, startedAt: null });
      const queued = await this.store.transition(row.id, from, {
        state: 'queued', lease_owner: null, lease_expires_at: null, steps: JSON.stringify(steps), progress: overallProgress(steps),
      });
      if (!queued) return false;
      await this.store.appendLines(row.id, [{ stream: 'warn', line: `Job stopped during step "${stepName}" because ${why}; the step is safe to repeat, so the job continues there` }]);
      this.publish(toView(queued));
      this.wake();
      return true;
    }
    const reason = Number(row.cancel_requested) === 1 ? 'a cancel was pending'
      : !safe ? `step "${stepName}" is not safe to repeat automatically; check its effects, then run the job again`
        : `it was already attempted ${row.attempts} times`;
    if (midStep) Object.assign(step, { state: 'failed', finishedAt: Date.now() });
    for (const s of steps) if (s.state === 'pending') s.state = 'skipped';
    const interrupted = await this.store.transition(row.id, from, {
      state: 'interrupted', lease_owner: null, lease_expires_at: null, finished_at: Date.now(), steps: JSON.stringify(steps),
      error: `Interrupted during step "${stepName}" because ${why}`,
    });
    if (!interrupted) return false;
    await this.store.appendLines(row.id, [{ stream: 'error', line: `Job interrupted during step "${stepName}" because ${why}: ${reason}` }]);
    this.deps.metrics.jobsFinished.inc({ type: row.type, state: 'interrupted' });
    await this.auditOutcome(interrupted);
    this.publish(toView(interrupted));
    this.wake();
    return true;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    const recovered = await this.recoverAbandoned(true);
    if (recovered) this.deps.log.warn({ recovered }, 'settled jobs left running by a previous panel process');
    const every = (ms: number, fn: () => Promise<unknown>, what: string) => {
      const t = setInterval(() => void fn().catch((err: unknown) => this.deps.log.error({ err }, what)), ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.timings.heartbeatMs, () => this.heartbeat(), 'job heartbeat failed');
    every(Math.max(this.timings.leaseMs / 2, 1000), () => this.recoverAbandoned(false), 'job recovery failed');
    this.workerLoops = Array.from({ length: Math.max(1, this.deps.workers) }, () => this.workerLoop());
  }

  isRunning(): boolean {
    return this.started && !this.stopping;
  }

  /** Stops claiming, signals running steps to stop and hands their jobs back (resume or interrupted). */
  async stop(): Promise<void> {
    if (!this.started || this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.wake();
    const running = [...this.executions.values()];
    for (const { exec } of running) exec.abort('shutdown');
    await Promise.race([Promise.all(running.map((r) => r.done)), sleep(this.timings.shutdownGraceMs)]);
    for (const { exec } of running) {
      const row = await this.store.find(exec.id).catch(() => undefined);
      if (row && row.state === 'running' && row.lease_owner === this.owner) await this.settle(row, 'the panel shut down').catch(() => false);
    }
    await Promise.race([Promise.all(this.workerLoops), sleep(1000)]);
    this.workerLoops = [];
    this.started = false;
  }

  registerRoutes(app: Parameters<JobRunner['registerRoutes']>[0]): void {
    registerJobRoutes(app, this, this.deps);
  }
}

/** The audit targets a lock key may stand for: `a:rest` is type `a`, `a:b:rest` may also be type `a-b` (first match with a name wins). */
export function resourceTargets(resource: string | null): { type: string; id: string }[] {
  if (!resource) return [];
  const m = /^([a-z][a-z0-9_]*):(.+)$/.exec(resource);
  if (!m) return [];
  const out = [{ type: m[1]!, id: m[2]! }];
  const sub = /^([a-z][a-z0-9_]*):(.+)$/.exec(m[2]!);
  if (sub) out.unshift({ type: `${m[1]}-${sub[1]}`, id: sub[2]! });
  return out;
}
