import { useEffect, useMemo, useState } from 'react';
import { streamSse } from '../api/sse';
import { LogBuffer, type LogLine } from './log-buffer';
import type { JobLike } from './JobProgress';

/**
 * Follows a job's live log (SSE `/jobs/{id}/logs`, resumed from the last seq on reconnect) into a
 * bounded LogBuffer, and tracks the job's state from the stream's `state` events.
 */
export function useJobLog<J extends JobLike = JobLike>(jobId: string | undefined, maxLines = 100_000) {
  const buffer = useMemo(() => new LogBuffer(maxLines), [jobId, maxLines]);
  const [job, setJob] = useState<J | null>(null);
  const [status, setStatus] = useState<'connecting' | 'live' | 'reconnecting' | 'ended'>('connecting');

  useEffect(() => {
    if (!jobId) return;
    const abort = new AbortController();
    let ended = false;
    setStatus('connecting');
    void streamSse(`/api/v1/jobs/${encodeURIComponent(jobId)}/logs`, {
      signal: abort.signal,
      isDone: () => ended,
      onStatus: (s) => setStatus(s === 'open' ? 'live' : s === 'reconnecting' ? 'reconnecting' : 'ended'),
      onMessage: (m) => {
        if (m.event === 'log') buffer.push(JSON.parse(m.data) as LogLine);
        else if (m.event === 'state') setJob((JSON.parse(m.data) as { job: J }).job);
        else if (m.event === 'end') {
          ended = true;
          const data = JSON.parse(m.data) as { job?: J };
          if (data.job) setJob(data.job);
          setStatus('ended');
        }
      },
    });
    return () => abort.abort();
  }, [jobId, buffer]);

  return { buffer, job, status };
}
