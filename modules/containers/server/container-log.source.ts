import { LiveLogChannel, type LiveLogSource, parseLeadingTimestamp, TimestampCursor } from '../../../server/src/sdk.js';

export interface ContainerLogStart {
  follow: boolean;
  /** Past lines on a first connection; `all` when resuming (only lines since the cursor's instant come). */
  tail: number | 'all';
  /** docker's `since` (seconds.nanoseconds, inclusive) when resuming. */
  since?: string;
}

type Handle = { stop(): void; done: Promise<unknown> };

/**
 * A container's output as a live log. Lines carry docker's `--timestamps` stamp, which is the
 * cursor (`t<ns>.<k>`, see TimestampCursor): a reconnect asks docker for lines since that instant
 * and drops those already delivered, so a sleeping or crashed container's tail is never appended
 * twice. When docker's stream ends, the container is looked at: stopped (or gone) ends the log
 * with `end` {reason: 'stopped' | 'gone'} so the client stops instead of reconnecting; a running
 * one closes without `end` and the client resumes.
 *
 * `start` runs at once (it checks access and that the container exists, so a route answers
 * 403/404/422 before the stream opens); lines are held in a bounded channel until the client pulls.
 */
export async function openContainerLog(
  start: (o: ContainerLogStart, onLine: (l: { stream: string; line: string }) => void) => Promise<Handle>,
  o: { cursor?: string; tail: number; follow: boolean; state(): Promise<{ running: boolean; exitCode?: number | null } | null>; maxQueued?: number },
): Promise<LiveLogSource> {
  const ac = new AbortController();
  const ch = new LiveLogChannel(ac.signal, o.maxQueued);
  const tc = new TimestampCursor(o.cursor);
  // A cursor this log does not know (not a timestamp one): new lines only, never the tail again.
  const h = await start({ follow: o.follow, tail: tc.resuming ? 'all' : o.cursor ? 0 : o.tail, ...(tc.resuming ? { since: tc.since } : {}) }, (l) => {
    const ts = parseLeadingTimestamp(l.line);
    const cursor = tc.next(ts ? ts.ns : null);
    if (cursor !== null) ch.push({ cursor, ...(ts ? { at: ts.ms } : {}), stream: l.stream, line: l.line });
  });
  void h.done.then(async () => {
    if (ac.signal.aborted) return;
    if (!o.follow) return ch.end('finished', 'End of the log');
    const st = await o.state().catch(() => null);
    if (!st) return ch.end('gone', 'The container no longer exists');
    if (!st.running) return ch.end('stopped', `The container stopped${st.exitCode !== undefined && st.exitCode !== null ? ` (exit code ${st.exitCode})` : ''}`);
    ch.close(); // docker ended the stream of a running container: the client resumes from its cursor
  });
  let opened = false;
  return {
    async *open(_cursor, signal) {
      // One stream per request: the cursor was taken when it started.
      if (opened) throw new Error('container log opened twice');
      opened = true;
      const abort = () => ac.abort();
      signal.addEventListener('abort', abort, { once: true });
      try {
        if (!tc.resuming && o.cursor) yield { type: 'state', state: 'resumed', message: 'Reconnected with a position this log does not know: showing new lines only' };
        yield* ch;
      } finally {
        signal.removeEventListener('abort', abort);
        ac.abort();
        h.stop();
      }
    },
  };
}
