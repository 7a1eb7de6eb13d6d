import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { openSse } from '../../http/sse.js';
import { AppError } from '../errors.js';

/**
 * One live-log path for every log the panel streams (a job's log, a file, a journal, a
 * container's output, a command's output), in one wire format over SSE and WebSocket:
 *
 * - `log`   one line: `{ seq, at?, stream, line, level?, cursor }`; over SSE its `id:` is the cursor.
 * - `state` what the follower should know: `{ state, message?, ... }` (`live`, `waiting`, `notice`,
 *   `skipped` {count}, `resumed`, a job's state with `{ job }` …).
 * - `end`   the log is over and the client must not reconnect: `{ reason, message?, ... }`
 *   (`finished` a job or a one-shot read ended, `stopped` the container stopped, `gone` the
 *   resource no longer exists, `error` the source failed).
 *
 * Every follow resumes from the last line it delivered: a reconnecting EventSource sends
 * `Last-Event-ID`, other clients `?since=<cursor>`. A source never sends a line at or before the
 * cursor again, so a reconnect never re-appends what the client already has. A stream that
 * closes without `end` (a hiccup) is meant to be reconnected with the last cursor.
 *
 * SSE streams are registered under the caller's session (`openSse`), WebSockets by the auth hook:
 * revocation ends them either way.
 */

/** One line of a live log. */
export interface LiveLogRecord {
  /** Where the log stands after this line: give it back (`Last-Event-ID` / `?since=`) to resume after it. */
  cursor: string;
  /** The source's own ordinal (a job log's seq); others get one counted per connection. */
  seq?: number;
  /** Epoch ms when the source says (job rows, journald, docker timestamps). */
  at?: number;
  /** stdout / stderr / a job log's stream / … */
  stream: string;
  line: string;
  /** debug / info / warn / error when known. */
  level?: string | null;
}

/** Why a log ended (the client shows it and stops following). */
export type LiveLogEndReason = 'finished' | 'stopped' | 'exited' | 'rotated' | 'gone' | 'error' | (string & {});

export type LiveLogEvent =
  | { type: 'log'; records: LiveLogRecord[] }
  | { type: 'state'; state: string; message?: string; data?: Record<string, unknown> }
  | { type: 'end'; reason: LiveLogEndReason; message?: string; data?: Record<string, unknown> };

/**
 * A log that can be followed from a cursor. `open` yields events until the log ends (an `end`
 * event), the signal aborts (the client left), or the source returns (the client should resume).
 * A source only waits on promises that settle when `signal` aborts.
 */
export interface LiveLogSource {
  open(cursor: string | undefined, signal: AbortSignal): AsyncIterable<LiveLogEvent>;
}

/** The resume point a client sent: `Last-Event-ID` wins over `?since=` (which may already be a number). */
export function liveLogCursor(req: FastifyRequest): string | undefined {
  const h = req.headers['last-event-id'];
  if (typeof h === 'string' && h.trim()) return h.trim().slice(0, 600);
  const q = (req.query as Record<string, unknown> | undefined)?.since;
  if (typeof q === 'string' && q.trim()) return q.trim().slice(0, 600);
  if (typeof q === 'number' && Number.isFinite(q) && q > 0) return String(q);
  return undefined;
}

interface Sink {
  log(r: LiveLogRecord & { seq: number }): boolean;
  /** Writes of a batch go out together (one syscall, not one per line). */
  cork(): void;
  uncork(): void;
  event(type: 'state' | 'end', body: Record<string, unknown>): boolean;
  readonly full: boolean;
  drained(): Promise<void>;
  close(): void;
  readonly closed: boolean;
  onClose(fn: () => void): void;
}

const WS_HIGH_WATER = 1024 * 1024;

function wireLog(r: LiveLogRecord & { seq: number }): Record<string, unknown> {
  const out: Record<string, unknown> = { seq: r.seq };
  if (r.at !== undefined) out.at = r.at;
  out.stream = r.stream;
  out.line = r.line;
  if (r.level !== undefined) out.level = r.level;
  out.cursor = r.cursor;
  return out;
}

function sseSink(req: FastifyRequest, reply: FastifyReply, heartbeatMs?: number): Sink {
  const stream = openSse(req, reply, heartbeatMs);
  return {
    log: (r) => stream.send({ id: r.cursor, event: 'log', data: wireLog(r) }),
    cork: () => reply.raw.cork(),
    uncork: () => reply.raw.uncork(),
    event: (type, body) => stream.send({ event: type, data: body }),
    get full() {
      return reply.raw.writableNeedDrain;
    },
    drained: () => stream.drained(),
    close: () => stream.close(),
    get closed() {
      return stream.closed;
    },
    onClose: (fn) => stream.onClose(fn),
  };
}

function wsSink(socket: WebSocket): Sink {
  let closed = socket.readyState !== socket.OPEN;
  const closeFns: (() => void)[] = [];
  const finish = () => {
    if (closed) return;
    closed = true;
    for (const fn of closeFns.splice(0)) fn();
  };
  socket.on('close', finish);
  socket.on('error', finish);
  const full = () => socket.bufferedAmount > WS_HIGH_WATER;
  const raw = () => (socket as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
  const send = (body: Record<string, unknown>) => {
    if (closed) return false;
    socket.send(JSON.stringify(body));
    return !full();
  };
  return {
    log: (r) => send({ type: 'log', ...wireLog(r) }),
    cork: () => raw()?.cork(),
    uncork: () => raw()?.uncork(),
    event: (type, body) => send({ type, ...body }),
    get full() {
      return full();
    },
    // ws has no drain event on the socket object: watch its buffer go down.
    drained: () => new Promise<void>((resolve) => {
      const check = () => (closed || socket.bufferedAmount <= WS_HIGH_WATER / 4 ? resolve() : setTimeout(check, 10));
      check();
    }),
    close() {
      if (!closed) socket.close(1000, 'end');
      finish();
    },
    get closed() {
      return closed;
    },
    onClose(fn) {
      if (closed) fn();
      else closeFns.push(fn);
    },
  };
}

const isSocket = (o: FastifyReply | WebSocket): o is WebSocket => typeof (o as WebSocket).send === 'function' && typeof (o as WebSocket).readyState === 'number' && !('hijack' in o);

/** What a client may read of a failure: a domain error's message; anything else stays in the panel's log. */
function publicMessage(e: unknown): string {
  return e instanceof AppError ? e.message : 'The log could not be read; the panel\'s log has the details';
}

export interface ServeLiveLogOptions {
  log?: FastifyBaseLogger;
  /** The resume point (default: `Last-Event-ID`, else `?since=`). */
  cursor?: string;
  heartbeatMs?: number;
}

/**
 * Streams `source` to the client of `req`: an SSE response (pass the reply; it is hijacked) or a
 * WebSocket (pass the socket of a `websocket: true` route). Access checks happen before: a route
 * answers 403/404/422 as JSON before calling this. Resolves when the stream is over.
 */
export async function serveLiveLog(req: FastifyRequest, out: FastifyReply | WebSocket, source: LiveLogSource, opts: ServeLiveLogOptions = {}): Promise<void> {
  const sink = isSocket(out) ? wsSink(out) : sseSink(req, out, opts.heartbeatMs);
  const cursor = opts.cursor ?? liveLogCursor(req);
  const ac = new AbortController();
  sink.onClose(() => ac.abort());
  let seq = 0;
  let ended = false;
  try {
    for await (const ev of source.open(cursor, ac.signal)) {
      if (sink.closed) break;
      if (ev.type === 'log') {
        let full = false;
        sink.cork();
        try {
          for (const r of ev.records) {
            seq = r.seq ?? seq + 1;
            if (!sink.log({ ...r, seq })) full = true;
            if (sink.closed) break;
          }
        } finally {
          sink.uncork();
        }
        if (full) await sink.drained();
      } else if (ev.type === 'state') {
        if (!sink.event('state', { ...ev.data, state: ev.state, ...(ev.message ? { message: ev.message } : {}) })) await sink.drained();
      } else {
        ended = true;
        sink.event('end', { ...ev.data, reason: ev.reason, ...(ev.message ? { message: ev.message } : {}) });
        break;
      }
    }
  } catch (e) {
    if (!sink.closed && !ac.signal.aborted) {
      opts.log?.warn({ err: e, url: req.url }, 'live log failed');
      ended = true;
      sink.event('end', { reason: 'error', message: publicMessage(e) });
    }
  } finally {
    ac.abort();
    if (!sink.closed) {
      // Without an `end` the client reconnects with its last cursor and resumes.
      void ended;
      sink.close();
    }
  }
}

// ---- building blocks for sources ------------------------------------------------------------

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleepUnless(signal: AbortSignal, ms: number): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

type Entry = { r: LiveLogRecord } | { ev: Exclude<LiveLogEvent, { type: 'log' }> };

/**
 * A bounded queue between a push source (a file follower, a process's output, docker's log
 * stream) and the pull of `serveLiveLog`. A slow client never makes the panel hold more than
 * `maxQueued` lines: the oldest unsent lines are dropped and the client gets one
 * `state: skipped {count}` before the newer ones. Iterate it once.
 */
export class LiveLogChannel implements AsyncIterable<LiveLogEvent> {
  private queue: Entry[] = [];
  private records = 0;
  private skipped = 0;
  private done = false;
  private failure: unknown = null;
  private wake: (() => void) | null = null;
  /** Totals, for tests and the benchmark. */
  readonly stats = { delivered: 0, skipped: 0, maxQueued: 0 };

  constructor(private readonly signal: AbortSignal, private readonly maxQueued = 10_000, private readonly batch = 2_000) {
    signal.addEventListener('abort', () => this.notify(), { once: true });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  get closed(): boolean {
    return this.done || this.signal.aborted;
  }

  get queued(): number {
    return this.records;
  }

  push(...records: LiveLogRecord[]): void {
    if (this.closed || !records.length) return;
    for (const r of records) this.queue.push({ r });
    this.records += records.length;
    const over = this.records - this.maxQueued;
    if (over > 0) {
      let drop = over;
      this.queue = this.queue.filter((e) => !('r' in e) || drop-- <= 0);
      this.records -= over;
      this.skipped += over;
      this.stats.skipped += over;
    }
    if (this.records > this.stats.maxQueued) this.stats.maxQueued = this.records;
    this.notify();
  }

  state(state: string, message?: string, data?: Record<string, unknown>): void {
    if (this.closed) return;
    this.queue.push({ ev: { type: 'state', state, ...(message ? { message } : {}), ...(data ? { data } : {}) } });
    this.notify();
  }

  /** The log is over: what is queued is still delivered, then `end`. */
  end(reason: LiveLogEndReason, message?: string, data?: Record<string, unknown>): void {
    if (this.closed) return;
    this.queue.push({ ev: { type: 'end', reason, ...(message ? { message } : {}), ...(data ? { data } : {}) } });
    this.done = true;
    this.notify();
  }

  /** Stops without `end`: the client resumes from its cursor. */
  close(): void {
    this.done = true;
    this.notify();
  }

  fail(e: unknown): void {
    this.failure = e;
    this.done = true;
    this.notify();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<LiveLogEvent> {
    for (;;) {
      if (this.signal.aborted) return;
      if (this.skipped) {
        const count = this.skipped;
        this.skipped = 0;
        yield { type: 'state', state: 'skipped', message: `${count} lines skipped (the connection could not keep up)`, data: { count } };
        continue;
      }
      const head = this.queue[0];
      if (head) {
        if ('ev' in head) {
          this.queue.shift();
          yield head.ev;
          if (head.ev.type === 'end') return;
          continue;
        }
        let n = 0;
        while (n < this.batch && n < this.queue.length && 'r' in this.queue[n]!) n++;
        const records = (this.queue.splice(0, n) as { r: LiveLogRecord }[]).map((e) => e.r);
        this.records -= records.length;
        this.stats.delivered += records.length;
        yield { type: 'log', records };
        continue;
      }
      if (this.failure) throw this.failure;
      if (this.done) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }
}

/** A source that yields the events of `run`'s channel; `run` starts the push work and returns its stop function. */
export function channelSource(run: (ch: LiveLogChannel, cursor: string | undefined, signal: AbortSignal) => Promise<(() => void | Promise<void>) | void>, maxQueued?: number): LiveLogSource {
  return {
    async *open(cursor, signal) {
      const ch = new LiveLogChannel(signal, maxQueued);
      const stop = await run(ch, cursor, signal);
      try {
        yield* ch;
      } finally {
        await stop?.();
      }
    },
  };
}

/** Keeps only the lines `match` accepts (a server-side text or level filter); other events pass. */
export function filterSource(source: LiveLogSource, match: (r: LiveLogRecord) => boolean): LiveLogSource {
  return {
    async *open(cursor, signal) {
      for await (const ev of source.open(cursor, signal)) {
        if (ev.type !== 'log') {
          yield ev;
          continue;
        }
        const records = ev.records.filter(match);
        if (records.length) yield { type: 'log', records };
      }
    },
  };
}

/** Reads a source to its end (or `limit` lines, or `idleMs` without a line): a one-shot tail. */
export async function collectLiveLog(source: LiveLogSource, o: { limit: number; idleMs?: number; timeoutMs?: number; signal?: AbortSignal }): Promise<{ records: LiveLogRecord[]; end?: { reason: string; message?: string } }> {
  const ac = new AbortController();
  o.signal?.addEventListener('abort', () => ac.abort(), { once: true });
  const records: LiveLogRecord[] = [];
  let end: { reason: string; message?: string } | undefined;
  let idle: NodeJS.Timeout | null = null;
  const arm = () => {
    if (!o.idleMs) return;
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => ac.abort(), o.idleMs);
  };
  const overall = setTimeout(() => ac.abort(), o.timeoutMs ?? 15_000);
  arm();
  try {
    for await (const ev of source.open(undefined, ac.signal)) {
      if (ev.type === 'log') {
        records.push(...ev.records);
        if (records.length >= o.limit) break;
        arm();
      } else if (ev.type === 'end') {
        end = { reason: ev.reason, ...(ev.message ? { message: ev.message } : {}) };
        break;
      }
    }
  } finally {
    ac.abort();
    if (idle) clearTimeout(idle);
    clearTimeout(overall);
  }
  return { records: records.slice(-o.limit), ...(end ? { end } : {}) };
}

// ---- cursors from a line's own timestamp (docker, dokku) ------------------------------------

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})\s?/;

/** A leading RFC 3339 timestamp (docker's `--timestamps`): nanoseconds since the epoch, ms, and the rest of the line. */
export function parseLeadingTimestamp(line: string): { ns: bigint; ms: number; rest: string } | null {
  const m = RFC3339.exec(line);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (!Number.isFinite(ms)) return null;
  const frac = (m[2] ?? '').padEnd(9, '0');
  const ns = BigInt(ms) * 1_000_000n + BigInt(frac);
  return { ns, ms: ms + Math.floor(Number(frac) / 1e6), rest: line.slice(m[0].length) };
}

const TS_CURSOR = /^t(\d{1,22})\.(\d{1,9}|\*)$/;

/**
 * Cursors for logs whose lines carry their own timestamp, where several lines may share one:
 * `t<ns>.<k>` is "the k-th line stamped <ns>", `t<ns>.*` "every line stamped <ns>". Resuming asks
 * the engine for lines since <ns> (docker's `since` includes that instant) and drops the first k
 * lines stamped <ns> (all of them for `*`) and anything older, so nothing is delivered twice.
 *
 * A fresh connection starts inside the log (its tail), so it cannot know how many earlier lines
 * share its first instant: lines of that instant get `*`. Dropping on resume errs towards losing
 * a line (a reconnect in the middle of one instant, or a stderr line stamped before the stdout
 * line delivered last), never towards sending one twice.
 */
export class TimestampCursor {
  private ns: bigint | null = null;
  /** Lines stamped `ns` delivered; null = all of them (the first instant of a fresh connection). */
  private k: number | null = 0;
  /** While resuming: lines at or before this point were delivered already. */
  private readonly after: { ns: bigint; k: number | null } | null;
  private seenAtAfter = 0;

  constructor(resumeFrom?: string) {
    const m = resumeFrom ? TS_CURSOR.exec(resumeFrom) : null;
    this.after = m ? { ns: BigInt(m[1]!), k: m[2] === '*' ? null : Number(m[2]) } : null;
    if (this.after) {
      this.ns = this.after.ns;
      this.k = this.after.k;
    }
  }

  /** True when the client gave a usable cursor. */
  get resuming(): boolean {
    return this.after !== null;
  }

  /** `since` for docker (seconds.nanoseconds), when resuming. */
  get since(): string | undefined {
    if (!this.after) return undefined;
    const s = this.after.ns / 1_000_000_000n;
    const n = this.after.ns % 1_000_000_000n;
    return `${s}.${n.toString().padStart(9, '0')}`;
  }

  /** The cursor a line gets, or null when it was delivered before (the reconnect replays it). */
  next(ns: bigint | null): string | null {
    if (ns === null) return this.current(); // an unstamped line rides on the last stamp
    if (this.after) {
      if (ns < this.after.ns) return null;
      if (ns === this.after.ns && (this.after.k === null || ++this.seenAtAfter <= this.after.k)) return null;
    }
    // Never backwards: a line older than one already delivered keeps the cursor where it is
    // (resuming drops what is older than the cursor's instant, so it is not sent twice).
    if (this.ns !== null && ns < this.ns) return this.current();
    if (this.ns === ns) {
      if (this.k !== null) this.k++;
    } else {
      // The very first instant of a fresh connection: how many lines before the tail share it is unknown.
      this.k = this.ns === null && !this.after ? null : 1;
      this.ns = ns;
    }
    return this.current();
  }

  current(): string {
    return this.ns === null ? 't0.0' : `t${this.ns}.${this.k === null ? '*' : this.k}`;
  }
}
