import type { z } from 'zod';
import type { ProcessRunner } from '../../infra/process-runner.js';
import type { Actor } from '../rbac/permissions.js';

export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const FINISHED_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled', 'interrupted'];

export type LogStream = 'info' | 'stdout' | 'stderr' | 'error' | 'warn';

export interface JobContext<I> {
  job: { id: string; type: string; resource: string | null; attempt: number };
  input: I;
  actor: Actor;
  /** Aborted when the job is cancelled or the panel shuts down; pass it to every exec. */
  signal: AbortSignal;
  log(line: string, stream?: LogStream): void;
  /** Progress of the current step, 0..100. */
  progress(percent: number): void;
  /** Data shared between steps and persisted with the job (for resume and undo after a crash). */
  state: Record<string, unknown>;
  /** Saves `state` now (the runner also saves it after each step). */
  saveState(): Promise<void>;
  /**
   * A host's process runner for this job: commands get the job's signal (cancel kills them) and
   * their output lines go to the job log; an adapter shapes both per command with `ExecOptions.job`.
   */
  runner(hostId?: string): Promise<ProcessRunner>;
  /** The same for a runner the module opened itself (e.g. the apps module's dokku-user SSH login). */
  attach(runner: ProcessRunner): ProcessRunner;
}

/**
 * One step of a job. What `run` returns (JSON-serialisable: ids it created, the previous value it
 * replaced) is persisted with the step when it succeeds, and handed to its `undo`, also after a
 * crash and a resume in another process. `R` types it: `JobStep<Input, { volume: string }>`.
 */
// `any` by default: a job's steps each return their own shape.
export interface JobStep<I, R = any> {
  name: string;
  run(ctx: JobContext<I>): Promise<R | void>;
  /** Reverses this step when a later step fails or the job is cancelled; `done` is what its `run` returned (undefined if nothing). */
  undo?(ctx: JobContext<I>, done: R | undefined): Promise<void>;
  /** Safe to run again after a crash interrupted it; otherwise the job ends `interrupted`. */
  idempotent?: boolean;
}

export interface JobDefinition<I> {
  /** e.g. 'sites.create' */
  type: string;
  input: z.ZodType<I>;
  title(input: I): string;
  steps: JobStep<I>[];
}

export interface EnqueueOptions {
  actor: Actor;
  /** Lock key such as `site:example.com`: one job per resource at a time, the rest wait in order. */
  resource?: string;
}

/** A change started as a job: `jobs.launch(actor, { type, input, resource, audit })`. */
export interface LaunchOptions<I> {
  /** The job type (as defined with `jobs.define`). */
  type: string;
  input: I;
  /** Lock key such as `container:<id>`: one job per resource at a time, the rest wait in order. */
  resource: string;
  /**
   * The audit entry of the change, written with outcome `started` (the job's id in its details as
   * `jobId`); when the job ends a second entry with the same action and target records its real
   * outcome (`success`, or `failure` with `details.jobState` and the error). Give `target.name`.
   */
  audit: { action: string; target: { type: string; id: string; name?: string }; details?: Record<string, unknown> };
}

export interface JobStepView { name: string; state: 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'undone'; progress: number; startedAt: number | null; finishedAt: number | null }

export interface JobView {
  id: string;
  type: string;
  title: string;
  state: JobState;
  resource: string | null;
  steps: JobStepView[];
  currentStep: number;
  progress: number;
  error: string | null;
  actor: { id: string | null; name: string | null };
  cancelRequested: boolean;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** What the job works on, as an audit target, with its name when known (listed and single jobs). */
  target?: { type: string; id: string; name?: string };
}

export interface JobLogLine { seq: number; at: number; stream: LogStream; line: string }

export interface JobListFilters { state?: JobState[]; type?: string; resource?: string; limit: number; before?: string }

export interface JobService {
  define<I>(def: JobDefinition<I>): void;
  enqueue<I>(type: string, input: I, opts: EnqueueOptions): Promise<JobView>;
  /**
   * Starts a change as a job: enqueues it under its lock key and writes the change's `started` audit
   * entry (with the job id). Returns the job for a `202 { job }`. Permission checks come first,
   * in the caller (`authorize`).
   */
  launch<I>(actor: Actor, opts: LaunchOptions<I>): Promise<JobView>;
  get(id: string, actor: Actor): Promise<JobView>;
  list(filters: JobListFilters, actor: Actor): Promise<{ items: JobView[]; nextBefore: string | null }>;
  cancel(id: string, actor: Actor): Promise<JobView>;
  logs(id: string, actor: Actor, afterSeq?: number, limit?: number): Promise<JobLogLine[]>;
  /** Live log lines and state changes of one job; returns an unsubscribe function. */
  follow(id: string, listener: (e: { kind: 'log'; line: JobLogLine } | { kind: 'state'; job: JobView }) => void): () => void;
  /** Resolves when the job reaches a finished state (tests, CLI). */
  waitFor(id: string, timeoutMs?: number): Promise<JobView>;
}
