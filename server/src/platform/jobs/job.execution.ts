import type { ExecOptions, ProcessRunner } from '../../infra/process-runner.js';
import type { HostRegistry } from '../hosts/host-registry.js';
import { JobLogWriter } from './job-log.writer.js';
import { actorOf, overallProgress, parseSteps, toView, type JobRow, type JobStore } from './job.store.js';
import type { JobContext, JobDefinition, JobLogLine, JobStepView, JobView, LogStream } from './types.js';

/** Why a running job's signal was aborted. */
export type AbortReason = 'cancelled' | 'shutdown' | 'lease-lost';

export interface ExecutionHooks {
  store: JobStore;
  hosts: HostRegistry;
  owner: string;
  onLine(line: JobLogLine): void;
  onState(view: JobView): void;
  onError(err: unknown, message: string): void;
}

const PROGRESS_WRITE_INTERVAL_MS = 250;

/**
 * Where step results (what each step's `run` returned, for its `undo`) sit in the job's stored
 * output, next to the steps' shared `state`. The output column is never shown to API readers.
 */
export const STEP_RESULTS_KEY = '$stepResults';

/** Splits a stored output into the steps' shared state and the step results by step index. */
export function unpackOutput(output: string | null): { state: Record<string, unknown>; results: Record<string, unknown> } {
  const all = output ? (JSON.parse(output) as Record<string, unknown>) : {};
  const { [STEP_RESULTS_KEY]: results, ...state } = all;
  return { state, results: (results && typeof results === 'object' ? results : {}) as Record<string, unknown> };
}

function packOutput(state: Record<string, unknown>, results: Record<string, unknown>): string {
  return JSON.stringify(Object.keys(results).length ? { ...state, [STEP_RESULTS_KEY]: results } : state);
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A process runner for one job: commands get the job's signal and their output goes to its log. */
function jobRunner(inner: ProcessRunner, signal: AbortSignal, log: (line: string, stream: LogStream) => void): ProcessRunner {
  const withJob = (opts: ExecOptions = {}): ExecOptions => ({
    ...opts,
    signal: opts.job?.ownCancel ? opts.signal : opts.signal ? AbortSignal.any([opts.signal, signal]) : signal,
  });
  return {
    host: inner.host,
    exec(command, args, opts) {
      const userOnLine = opts?.onLine;
      const shown = opts?.job?.logLine;
      if (opts?.job?.announce) log(opts.job.announce, 'info');
      return inner.exec(command, args, {
        ...withJob(opts),
        onLine: (line, stream) => {
          const l = shown ? shown(line, stream) : line;
          if (l !== null) log(l, stream);
          userOnLine?.(line, stream);
        },
      });
    },
    stream(command, args, opts) {
      return inner.stream(command, args, withJob(opts));
    },
  };
}

/**
 * Runs one claimed job from its current step to the end: per-step state and progress persisted,
 * `state` saved after each step, undo of completed steps in reverse on failure or cancel.
 * A shutdown or a lost lease leaves the row `running` for the caller (recovery) to settle.
 */
export class JobExecution {
  readonly controller = new AbortController();
  readonly writer: JobLogWriter;
  private steps: JobStepView[];
  private state: Record<string, unknown>;
  /** What each completed step's `run` returned (by step index), persisted with the step for its `undo`. */
  private readonly results: Record<string, unknown>;
  private lastProgressWrite = 0;
  private progressTimer: NodeJS.Timeout | null = null;
  private saving: Promise<unknown> = Promise.resolve();
  /** Set once the job reached a final state or was handed back; later writes are no-ops. */
  private settled = false;

  constructor(
    private row: JobRow,
    private readonly def: JobDefinition<unknown>,
    private readonly hooks: ExecutionHooks,
    lastSeq: number,
  ) {
    this.steps = parseSteps(row);
    ({ state: this.state, results: this.results } = unpackOutput(row.output));
    this.writer = new JobLogWriter(hooks.store, row.id, lastSeq, hooks.onLine, (err) => hooks.onError(err, 'could not write job log lines'));
  }

  get id(): string {
    return this.row.id;
  }

  abort(reason: AbortReason): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  private get abortReason(): AbortReason | null {
    return this.controller.signal.aborted ? (this.controller.signal.reason as AbortReason) : null;
  }

  log(line: string, stream: LogStream = 'info'): void {
    this.writer.append(line, stream);
  }

  private view(): JobView {
    return toView(this.row);
  }

  /**
   * Persists the in-memory steps/state and tells followers. Saves run one after another, so a
   * throttled progress write can never land after (and undo) a later step change.
   */
  private save(patch: Partial<JobRow> = {}): Promise<boolean> {
    const write = () => this.write(patch);
    const next = this.saving.then(write, write);
    this.saving = next.catch(() => undefined);
    return next;
  }

  private async write(patch: Partial<JobRow>): Promise<boolean> {
    if (this.settled) return false;
    const full: Partial<JobRow> = {
      steps: JSON.stringify(this.steps),
      progress: overallProgress(this.steps),
      output: packOutput(this.state, this.results),
      ...patch,
    };
    const ok = await this.hooks.store.updateOwned(this.row.id, this.hooks.owner, full);
    if (!ok) {
      this.settled = true;
      this.abort('lease-lost');
      return false;
    }
    this.row = { ...this.row, ...full, updated_at: Date.now() };
    this.hooks.onState(this.view());
    return true;
  }

  private context(signal: AbortSignal): JobContext<unknown> {
    const input = JSON.parse(this.row.input) as unknown;
    const job = { id: this.row.id, type: this.row.type, resource: this.row.resource, attempt: Number(this.row.attempts) };
    const log = (line: string, stream: LogStream = 'info') => this.log(line, stream);
    const ctx: JobContext<unknown> = {
      job,
      input,
      actor: actorOf(this.row),
      signal,
      log,
      progress: (percent) => this.progress(percent),
      state: this.state,
      saveState: async () => {
        await this.save();
      },
      runner: async (hostId) => jobRunner(await this.hooks.hosts.runner(hostId), signal, log),
      attach: (runner) => jobRunner(runner, signal, log),
    };
    return ctx;
  }

  private progress(percent: number): void {
    const step = this.steps[Number(this.row.current_step)];
    if (!step || step.state !== 'running') return;
    step.progress = Math.max(0, Math.min(100, Math.round(percent)));
    // Throttled: a step reporting progress in a tight loop must not hammer the database.
    const wait = this.lastProgressWrite + PROGRESS_WRITE_INTERVAL_MS - Date.now();
    if (wait <= 0) {
      this.lastProgressWrite = Date.now();
      void this.save().catch((e: unknown) => this.hooks.onError(e, 'could not save job progress'));
    } else {
      this.progressTimer ??= setTimeout(() => {
        this.progressTimer = null;
        this.lastProgressWrite = Date.now();
        void this.save().catch((e: unknown) => this.hooks.onError(e, 'could not save job progress'));
      }, wait);
    }
  }

  private clearProgressTimer(): void {
    if (this.progressTimer) clearTimeout(this.progressTimer);
    this.progressTimer = null;
  }

  /** Runs the job; resolves with the final row, or null when it was handed back (shutdown, lost lease). */
  async run(): Promise<JobRow | null> {
    try {
      return await this.runSteps();
    } finally {
      this.clearProgressTimer();
      await this.writer.close();
    }
  }

  private async runSteps(): Promise<JobRow | null> {
    const parsed = this.def.input.safeParse(JSON.parse(this.row.input));
    if (!parsed.success) return this.finish('failed', `invalid input: ${parsed.error.issues.map((i) => i.message).join('; ')}`, -1);
    if (Number(this.row.attempts) > 1) this.log(`Attempt ${this.row.attempts}: continuing at step "${this.steps[Number(this.row.current_step)]?.name ?? '?'}"`);

    const ctx = this.context(this.controller.signal);
    ctx.input = parsed.data;
    for (let i = Number(this.row.current_step); i < this.def.steps.length; i++) {
      const step = this.def.steps[i]!;
      const view = this.steps[i]!;
      if (view.state === 'succeeded') continue;
      if (this.abortReason) return this.stopAt(i);
      Object.assign(view, { state: 'running', progress: 0, startedAt: Date.now(), finishedAt: null });
      if (!(await this.save({ current_step: i }))) return null;
      this.row.current_step = i;
      this.log(`▶ ${step.name}`);
      let result: unknown;
      try {
        result = await step.run(ctx);
      } catch (e) {
        if (this.abortReason) return this.stopAt(i);
        this.clearProgressTimer();
        Object.assign(view, { state: 'failed', finishedAt: Date.now() });
        const message = `${step.name}: ${errorMessage(e)}`;
        this.log(`✗ ${message}`, 'error');
        return this.finish('failed', message, i);
      }
      this.clearProgressTimer();
      // Saved in the same write that marks the step succeeded: a crash after it finds both.
      if (result !== undefined) this.results[String(i)] = JSON.parse(JSON.stringify(result)) as unknown;
      if (this.abortReason === 'lease-lost' || this.abortReason === 'shutdown') {
        // The step completed: record it so a resumed job does not repeat it.
        Object.assign(view, { state: 'succeeded', progress: 100, finishedAt: Date.now() });
        await this.save();
        return this.stopAt(i + 1);
      }
      Object.assign(view, { state: 'succeeded', progress: 100, finishedAt: Date.now() });
      if (!(await this.save())) return null;
      if (this.abortReason === 'cancelled') return this.stopAt(i + 1);
    }
    return this.finish('succeeded', null, this.def.steps.length);
  }

  /** The signal fired while step `i` ran (or before it started). */
  private async stopAt(i: number): Promise<JobRow | null> {
    const reason = this.abortReason;
    if (reason === 'cancelled') {
      const step = this.steps[i];
      if (step && step.state === 'running') Object.assign(step, { state: 'skipped', finishedAt: Date.now() });
      this.log('Cancelled', 'warn');
      return this.finish('cancelled', 'cancelled by request', i);
    }
    // Shutdown or lost lease: hand the job back; recovery decides to resume or interrupt it.
    if (reason === 'shutdown' && !this.settled) {
      this.log('The panel is shutting down: this job stops here', 'warn');
      await this.save({ current_step: Math.min(i, this.steps.length - 1) });
    }
    return null;
  }

  private async undoCompleted(upTo: number): Promise<void> {
    const done = this.def.steps.map((s, i) => ({ s, i })).filter(({ i }) => i < upTo + 1 && this.steps[i]?.state === 'succeeded').reverse();
    if (!done.some(({ s }) => s.undo)) return;
    // Undo runs to completion even though the job's own signal is aborted (cancel).
    const ctx = this.context(new AbortController().signal);
    ctx.input = JSON.parse(this.row.input) as unknown;
    ctx.input = this.def.input.parse(ctx.input);
    for (const { s, i } of done) {
      if (!s.undo) continue;
      this.log(`↶ undo ${s.name}`, 'warn');
      try {
        await s.undo(ctx, this.results[String(i)]);
        Object.assign(this.steps[i]!, { state: 'undone', finishedAt: Date.now() });
      } catch (e) {
        this.log(`undo of ${s.name} failed: ${errorMessage(e)}`, 'error');
      }
      await this.save();
    }
  }

  private async finish(state: 'succeeded' | 'failed' | 'cancelled', error: string | null, at: number): Promise<JobRow | null> {
    if (state !== 'succeeded') {
      await this.undoCompleted(at);
      for (const s of this.steps) if (s.state === 'pending') s.state = 'skipped';
    }
    if (state === 'succeeded') this.log('✓ done');
    await this.writer.flush();
    const finishedAt = Date.now();
    const ok = await this.save({
      state,
      error,
      finished_at: finishedAt,
      lease_owner: null,
      lease_expires_at: null,
      current_step: Math.max(0, Math.min(at, this.steps.length - 1)),
      progress: state === 'succeeded' ? 100 : overallProgress(this.steps),
    });
    this.settled = true;
    return ok ? this.row : null;
  }
}
