import { z } from 'zod';
import { JOB_STATES } from '../platform/jobs/types.js';

/** Shared response/request shapes used across modules (one schema language for API, config and UI). */
export const ErrorResponse = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

export const JobSummary = z.object({
  id: z.string(),
  type: z.string(),
  title: z.string(),
  state: z.enum(JOB_STATES),
  resource: z.string().nullable(),
  steps: z.array(z.object({
    name: z.string(),
    state: z.enum(['pending', 'running', 'succeeded', 'failed', 'skipped', 'undone']),
    progress: z.number(),
    startedAt: z.number().nullable(),
    finishedAt: z.number().nullable(),
  })),
  currentStep: z.number(),
  progress: z.number(),
  error: z.string().nullable(),
  actor: z.object({ id: z.string().nullable(), name: z.string().nullable() }),
  cancelRequested: z.boolean(),
  createdAt: z.number(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  /** What the job works on (from its lock key), with its name when the audit log knows it: link to it instead of showing an id. */
  target: z.object({ type: z.string(), id: z.string(), name: z.string().optional() }).optional(),
});

/** What a long operation answers: 202 { job }. */
export const JobAccepted = z.object({ job: JobSummary });

export const Limit = z.coerce.number().int().min(1).max(500).default(50);
export const IdParam = z.object({ id: z.string().min(1).max(100) });
export const Ok = z.object({ ok: z.literal(true) });
