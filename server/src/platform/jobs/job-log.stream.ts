import type { LiveLogEvent, LiveLogRecord, LiveLogSource } from '../live-log/live-log.js';
import type { DurableJobRunner } from './job.service.js';
import { isFinished, toView } from './job.store.js';
import type { JobLogLine } from './types.js';

const PAGE = 500;
/** Catches changes made by another panel process (no live events from there); idle while the job runs here. */
const POLL_MS = 1000;
/** Live lines held for a follower that is behind; past this it catches up from the database. */
const LIVE_MAX = 5000;

const record = (l: JobLogLine): LiveLogRecord => ({ cursor: String(l.seq), seq: l.seq, at: l.at, stream: l.stream, line: l.line });

/** A job log cursor is the seq of the last line delivered (anything else starts at the beginning). */
export function jobLogCursor(cursor: string | undefined): number {
  const n = Number(cursor);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/**
 * One job's log as a live-log source: stored lines after the cursor (a seq), then live ones, then
 * `end` {reason: 'finished', job} once the job finished; `state` {state, job} on every change.
 * Live lines go straight out while the follower is in step; when it falls behind (more than
 * LIVE_MAX lines) nothing more is held for it — it catches up from the database when it pulls
 * again, so a slow client costs no memory.
 */
export function jobLogSource(runner: DurableJobRunner, jobId: string): LiveLogSource {
  return {
    async *open(cursor, signal): AsyncGenerator<LiveLogEvent> {
      let lastSeq = jobLogCursor(cursor);
      let lastState = '';
      let dirty = true;
      let live: JobLogLine[] = [];
      let overflow = false;
      let wake: (() => void) | null = null;
      const poke = () => {
        const w = wake;
        wake = null;
        w?.();
      };
      const unsubscribe = runner.follow(jobId, (e) => {
        if (e.kind === 'log') {
          if (live.length < LIVE_MAX) live.push(e.line);
          else overflow = true;
        } else dirty = true;
        poke();
      });
      const timer = setInterval(() => {
        if (!runner.isExecuting(jobId)) {
          dirty = true;
          poke();
        }
      }, POLL_MS);
      signal.addEventListener('abort', poke, { once: true });
      try {
        for (;;) {
          if (signal.aborted) return;
          if (overflow) {
            overflow = false;
            live = [];
            dirty = true;
          }
          if (live.length && !dirty) {
            const batch: LiveLogRecord[] = [];
            while (live.length && live[0]!.seq <= lastSeq) live.shift();
            while (live.length && live[0]!.seq === lastSeq + 1) {
              const l = live.shift()!;
              lastSeq = l.seq;
              batch.push(record(l));
            }
            if (batch.length) {
              yield { type: 'log', records: batch };
              continue;
            }
            if (live.length) dirty = true; // a gap: read it from the database
          }
          if (dirty) {
            dirty = false;
            live = [];
            // State first: when it is final, every line was written before it, so the read below is complete.
            const row = await runner.store.find(jobId);
            if (!row) {
              yield { type: 'end', reason: 'gone', message: 'The job no longer exists' };
              return;
            }
            for (;;) {
              const lines = await runner.readLines(jobId, lastSeq, PAGE);
              if (lines.length) {
                lastSeq = lines[lines.length - 1]!.seq;
                yield { type: 'log', records: lines.map(record) };
                if (signal.aborted) return;
              }
              if (lines.length < PAGE) break;
            }
            const job = toView(row);
            const key = JSON.stringify(job);
            if (key !== lastState) {
              lastState = key;
              yield { type: 'state', state: job.state, data: { job } };
            }
            if (isFinished(job.state)) {
              yield { type: 'end', reason: 'finished', message: `The job ${job.state}`, data: { job } };
              return;
            }
            continue;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
            if (signal.aborted || dirty || overflow || live.length) poke();
          });
        }
      } finally {
        unsubscribe();
        clearInterval(timer);
        signal.removeEventListener('abort', poke);
      }
    },
  };
}
