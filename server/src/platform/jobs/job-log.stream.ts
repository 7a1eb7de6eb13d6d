import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import type { SseStream } from '../../http/sse.js';
import type { DurableJobRunner } from './job.service.js';
import { isFinished, toView } from './job.store.js';
import type { JobLogLine, JobView } from './types.js';

export type LogMessage = { type: 'log'; line: JobLogLine } | { type: 'state'; job: JobView } | { type: 'end'; job: JobView };

/** Where a follower's messages go (an SSE response or a WebSocket). */
export interface LogSink {
  /** false when the client's buffer is full: stop pushing until `drained()`. */
  send(msg: LogMessage): boolean;
  readonly full: boolean;
  drained(): Promise<void>;
  close(): void;
  readonly closed: boolean;
  onClose(fn: () => void): void;
}

const PAGE = 500;
/** Catches changes made by another panel process (no live events from there); idle while the job runs here. */
const POLL_MS = 1000;

export function sseSink(stream: SseStream, raw: { writableNeedDrain: boolean }): LogSink {
  return {
    send(msg) {
      if (msg.type === 'log') return stream.send({ id: msg.line.seq, event: 'log', data: msg.line });
      return stream.send({ event: msg.type, data: { job: msg.job } });
    },
    get full() {
      return raw.writableNeedDrain;
    },
    drained: () => stream.drained(),
    close: () => stream.close(),
    get closed() {
      return stream.closed;
    },
    onClose: (fn) => stream.onClose(fn),
  };
}

const WS_HIGH_WATER = 512 * 1024;

export function wsSink(socket: WebSocket): LogSink {
  let closed = socket.readyState !== socket.OPEN;
  const closeFns: (() => void)[] = [];
  const finish = () => {
    if (closed) return;
    closed = true;
    for (const fn of closeFns) fn();
  };
  socket.on('close', finish);
  socket.on('error', finish);
  const full = () => socket.bufferedAmount > WS_HIGH_WATER;
  return {
    send(msg) {
      if (closed) return false;
      const body = msg.type === 'log' ? { type: 'log', ...msg.line } : msg;
      socket.send(JSON.stringify(body));
      return !full();
    },
    get full() {
      return full();
    },
    // ws has no drain event on the socket object: watch its buffer empty.
    drained: () =>
      new Promise<void>((resolve) => {
        const check = () => (closed || !full() ? resolve() : setTimeout(check, 25));
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

/**
 * Streams one job's log to a follower: stored lines after `since`, then live ones, then `end` once
 * the job finished. Live lines go straight out while the follower is in step; when its buffer is
 * full nothing more is queued for it — after it drains, the pump catches up from the database, so
 * a slow client costs no memory.
 */
export function pipeJobLog(runner: DurableJobRunner, jobId: string, since: number, sink: LogSink, log: FastifyBaseLogger): void {
  let lastSeq = since;
  let lastState = '';
  let pumping = false;
  let again = false;
  let ended = false;

  const sendState = (job: JobView): boolean => {
    const key = JSON.stringify(job);
    if (key === lastState) return true;
    lastState = key;
    return sink.send({ type: 'state', job });
  };

  const pump = async (): Promise<void> => {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        if (sink.full) await sink.drained();
        if (sink.closed) return;
        // State first: when it is final, every line was written before it, so the read below is complete.
        const row = await runner.store.find(jobId);
        if (!row) return sink.close();
        for (;;) {
          const lines = await runner.readLines(jobId, lastSeq, PAGE);
          for (const line of lines) {
            lastSeq = line.seq;
            if (!sink.send({ type: 'log', line })) await sink.drained();
            if (sink.closed) return;
          }
          if (lines.length < PAGE) break;
        }
        const job = toView(row);
        sendState(job);
        if (isFinished(job.state)) {
          ended = true;
          sink.send({ type: 'end', job });
          sink.close();
          return;
        }
      } while (again && !sink.closed);
    } catch (err) {
      log.warn({ err, jobId }, 'job log stream failed');
      sink.close();
    } finally {
      pumping = false;
    }
  };

  const unsubscribe = runner.follow(jobId, (e) => {
    if (sink.closed || ended) return;
    if (!pumping && !sink.full) {
      if (e.kind === 'log' && e.line.seq === lastSeq + 1) {
        lastSeq = e.line.seq;
        if (!sink.send({ type: 'log', line: e.line })) void pump();
        return;
      }
      if (e.kind === 'state' && !isFinished(e.job.state)) {
        if (!sendState(e.job)) void pump();
        return;
      }
    }
    void pump();
  });
  const timer = setInterval(() => {
    if (!runner.isExecuting(jobId)) void pump();
  }, POLL_MS);
  sink.onClose(() => {
    unsubscribe();
    clearInterval(timer);
  });
  void pump();
}
