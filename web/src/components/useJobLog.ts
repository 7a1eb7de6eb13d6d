import type { JobLike } from './JobProgress';
import { useLiveLog, type LiveLogStatus } from './useLiveLog';

/**
 * Follows a job's live log (SSE `/jobs/{id}/logs`, resumed from the last seq on reconnect) into a
 * bounded LogBuffer, and tracks the job's state from the stream's `state` and `end` events.
 */
export function useJobLog<J extends JobLike = JobLike>(jobId: string | undefined, maxLines = 100_000) {
  const live = useLiveLog<{ job?: J }>(jobId ? `/api/v1/jobs/${encodeURIComponent(jobId)}/logs` : null, { maxLines });
  const job = ((live.end?.job as J | undefined) ?? live.state?.job ?? null) as J | null;
  const status: LiveLogStatus = live.status;
  return { buffer: live.buffer, job, status };
}
