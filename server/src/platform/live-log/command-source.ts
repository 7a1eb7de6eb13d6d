import type { StreamHandle } from '../../infra/process-runner.js';
import { channelSource, parseLeadingTimestamp, TimestampCursor, type LiveLogSource } from './live-log.js';

export interface CommandLogOptions {
  /**
   * Starts the command (through a host's ProcessRunner, argv only). `lines`: how many past lines
   * it should print first (its `--tail`/`-n`); `signal` kills it.
   */
  run(o: { lines: number; signal: AbortSignal }): StreamHandle | Promise<StreamHandle>;
  /** Past lines on a first connection. */
  lines: number;
  /**
   * Past lines asked for on a reconnect, of which those already delivered are dropped (by their
   * leading timestamp). Lines older than that window that the client missed are announced, not sent.
   */
  resumeLines?: number;
  /** The command prints an RFC 3339 timestamp before each line (docker/dokku logs): cursors come from it. */
  timestamps?: boolean;
  /** stderr lines are output (a log command) rather than the command's own complaints; default true. */
  stderrIsOutput?: boolean;
}

/**
 * A log read from a running command (`dokku logs <app> -t`, `docker logs -f`, …). With
 * `timestamps`, a reconnect resumes after the last line delivered; without, a reconnect starts
 * with new lines only (and says so): it never replays the tail.
 */
export function commandLogSource(o: CommandLogOptions): LiveLogSource {
  return channelSource(async (ch, cursor, signal) => {
    const tc = new TimestampCursor(o.timestamps ? cursor : undefined);
    const counted = !o.timestamps && cursor !== undefined && /^n\d+$/.test(cursor);
    let n = counted ? Number(cursor!.slice(1)) : 0;
    let lines = o.lines;
    if (tc.resuming) lines = o.resumeLines ?? Math.max(o.lines, 1000);
    else if (cursor !== undefined) {
      lines = 0;
      ch.state('resumed', 'Reconnected: showing new lines only (lines written meanwhile are not replayed)');
    }
    const inner = new AbortController();
    const abort = () => inner.abort();
    signal.addEventListener('abort', abort, { once: true });
    const h = await o.run({ lines, signal: inner.signal });
    let lastErr = '';
    void (async () => {
      try {
        for await (const { line, stream } of h.lines) {
          if (stream === 'stderr' && o.stderrIsOutput === false) {
            lastErr = line;
            ch.state('notice', line);
            continue;
          }
          if (stream === 'stderr') lastErr = line;
          if (o.timestamps) {
            const ts = parseLeadingTimestamp(line);
            const c = tc.next(ts ? ts.ns : null);
            if (c === null) continue;
            ch.push({ cursor: c, ...(ts ? { at: ts.ms } : {}), stream, line });
          } else ch.push({ cursor: `n${++n}`, stream, line });
        }
        const code = await h.done;
        if (signal.aborted) return;
        if (code === 0 || code === null) ch.end('finished', 'The command ended');
        else ch.end('error', `The command exited with status ${code}${lastErr ? `: ${lastErr.slice(0, 300)}` : ''}`);
      } catch (e) {
        if (!signal.aborted) ch.end('error', `The command failed: ${(e as Error).message.slice(0, 300)}`);
      }
    })();
    return () => {
      signal.removeEventListener('abort', abort);
      inner.abort();
      h.stop();
    };
  });
}
