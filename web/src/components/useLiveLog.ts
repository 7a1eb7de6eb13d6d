import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { streamSse } from '../api/sse';
import { LogBuffer } from './log-buffer';

/** connecting → live ⇄ reconnecting → ended (with a reason). */
export type LiveLogStatus = 'connecting' | 'live' | 'reconnecting' | 'ended';

/** Why a live log ended: `finished` (a job), `stopped` (a container), `gone`, `error`, `revoked` (the session ended), `refused` (the server said no). */
export interface LiveLogEnd {
  reason: string;
  message?: string;
  [k: string]: unknown;
}

export interface UseLiveLogOptions {
  /** Lines kept in memory (older ones are dropped and counted). */
  maxLines?: number;
  /** Show `state` messages (rotation, skipped lines, "resumed") as lines in the log; default true. */
  inlineNotices?: boolean;
}

export interface LiveLog<S = Record<string, unknown>> {
  buffer: LogBuffer;
  status: LiveLogStatus;
  /** Set once the stream ended; the hook does not reconnect after that. */
  end: LiveLogEnd | null;
  /** The data of the last `state` event (a job's `{ state, job }`). */
  state: S | null;
  /** A short text for the viewer's badge: "live", "reconnecting…", "ended: The container stopped (exit code 1)". */
  label: string;
  /** Follow again after an end, from the last line received: nothing is appended twice. */
  restart(): void;
}

interface WireLog {
  seq?: number;
  at?: number;
  stream?: string;
  line?: string;
  level?: string | null;
}

const NOTICE_STATES = new Set(['notice', 'skipped', 'resumed']);
const SEEN_MAX = 5000;

/**
 * Follows a live log in the panel's one wire format (SSE: `log` with `id:` = cursor, `state`,
 * `end`) into a bounded LogBuffer. A dropped connection reconnects with the last id
 * (Last-Event-ID), so the server resumes after the last line received; a line id seen already is
 * never appended again. After `end` it stops and says why; a refused stream (403/404/422) ends
 * at once instead of retrying forever.
 */
export function useLiveLog<S = Record<string, unknown>>(url: string | null | undefined, opts: UseLiveLogOptions = {}): LiveLog<S> {
  const maxLines = opts.maxLines ?? 100_000;
  const inline = opts.inlineNotices ?? true;
  const buffer = useMemo(() => new LogBuffer(maxLines), [url, maxLines]);
  const [status, setStatus] = useState<LiveLogStatus>('connecting');
  const [end, setEnd] = useState<LiveLogEnd | null>(null);
  const [state, setState] = useState<S | null>(null);
  const [attempt, setAttempt] = useState(0);
  // Per URL: the last id received and the ids already appended (a reconnect never re-appends).
  const resume = useRef<{ url: string | null | undefined; lastId?: string; seen: Set<string> }>({ url, seen: new Set() });
  if (resume.current.url !== url) resume.current = { url, seen: new Set() };

  useEffect(() => {
    if (!url) return;
    const abort = new AbortController();
    const r = resume.current;
    let ended = false;
    setEnd(null);
    setStatus('connecting');
    const finish = (e: LiveLogEnd) => {
      ended = true;
      setEnd(e);
      setStatus('ended');
    };
    void streamSse(url, {
      signal: abort.signal,
      lastEventId: r.lastId,
      isDone: () => ended,
      onStatus: (s) => {
        if (ended || abort.signal.aborted) return;
        setStatus(s === 'open' ? 'live' : s === 'reconnecting' ? 'reconnecting' : 'ended');
      },
      onRefused: async (res) => {
        let message = `The server refused the log (${res.status})`;
        try {
          const body = (await res.json()) as { error?: { message?: string } };
          if (body.error?.message) message = body.error.message;
        } catch {
          /* not JSON */
        }
        if (!abort.signal.aborted) finish({ reason: 'refused', message, status: res.status });
      },
      onMessage: (m) => {
        if (abort.signal.aborted) return;
        if (m.event === 'log') {
          if (m.id) {
            if (r.seen.has(m.id)) return;
            r.seen.add(m.id);
            if (r.seen.size > SEEN_MAX) r.seen.delete(r.seen.values().next().value as string);
            r.lastId = m.id;
          }
          const d = JSON.parse(m.data) as WireLog;
          const stream = d.level && d.level !== 'info' && d.level !== 'debug' ? d.level : d.stream;
          buffer.push({ seq: d.seq ?? buffer.length + 1, at: d.at, stream, line: d.line ?? '' });
        } else if (m.event === 'state') {
          const d = JSON.parse(m.data) as { state?: string; message?: string } & Record<string, unknown>;
          if (d.state && NOTICE_STATES.has(d.state)) {
            if (inline && d.message) buffer.push({ seq: buffer.length + 1, stream: d.state === 'skipped' ? 'warn' : 'info', line: `— ${d.message} —` });
          } else setState(d as S);
        } else if (m.event === 'end') {
          finish(JSON.parse(m.data) as LiveLogEnd);
        } else if (m.event === 'revoked') {
          finish({ reason: 'revoked', message: 'Your session ended; sign in again to follow this log' });
        }
      },
    });
    return () => abort.abort();
  }, [url, buffer, attempt, inline]);

  const restart = useCallback(() => setAttempt((a) => a + 1), []);
  const label = status === 'ended' ? (end?.message ? `ended: ${end.message}` : 'ended') : status === 'reconnecting' ? 'reconnecting…' : status;
  return { buffer, status, end, state, label, restart };
}
