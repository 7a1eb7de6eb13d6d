import type { FastifyReply, FastifyRequest } from 'fastify';

export interface SseStream {
  /** Sends one event; returns false when the client is not keeping up (its socket buffer is full). */
  send(event: { id?: string | number; event?: string; data: unknown }): boolean;
  /** Resolves when the client has drained its buffer (backpressure). */
  drained(): Promise<void>;
  close(): void;
  readonly closed: boolean;
  onClose(fn: () => void): void;
}

/** The id a reconnecting EventSource sends back (header), or `?since=` for other clients. */
export function lastEventId(req: FastifyRequest): string | undefined {
  const h = req.headers['last-event-id'];
  if (typeof h === 'string' && h) return h;
  const q = (req.query as Record<string, unknown> | undefined)?.since;
  return typeof q === 'string' && q ? q : undefined;
}

/**
 * Throws 429 when the caller already holds as many live streams as allowed. `openSse` checks this
 * itself; a route that starts work before opening the stream (a log follower) calls it first so
 * nothing is started for a request that will be refused.
 */
export function assertStreamCapacity(req: FastifyRequest): void {
  if (req.actor) req.server.streams?.assertCapacity(req.actor);
}

/**
 * Opens a Server-Sent Events response on `reply` (hijacked from Fastify), with a heartbeat comment
 * every 15 s so proxies keep it open. The stream is registered under the caller's session or API
 * token (`StreamRegistry`): revoking them sends `event: revoked` {reason} and closes it. Throws
 * 429 (before anything is sent) when the caller holds too many streams already.
 */
export function openSse(req: FastifyRequest, reply: FastifyReply, heartbeatMs = 15000): SseStream {
  let stream: SseStream | undefined;
  const unregister = req.actor && req.server.streams
    ? req.server.streams.register(req.actor, {
      close(reason) {
        stream?.send({ event: 'revoked', data: { reason } });
        stream?.close();
      },
    }, req.routeOptions.url ?? '')
    : () => {};
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(': connected\n\n');
  let closed = false;
  const closeFns: (() => void)[] = [];
  const heartbeat = setInterval(() => res.write(': ping\n\n'), heartbeatMs);
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    unregister();
    for (const fn of closeFns) fn();
  };
  req.raw.on('close', finish);
  res.on('close', finish);
  stream = {
    send({ id, event, data }) {
      if (closed) return false;
      let chunk = '';
      if (id !== undefined) chunk += `id: ${id}\n`;
      if (event) chunk += `event: ${event}\n`;
      const text = typeof data === 'string' ? data : JSON.stringify(data);
      for (const line of text.split('\n')) chunk += `data: ${line}\n`;
      return res.write(`${chunk}\n`);
    },
    drained: () => (closed || !res.writableNeedDrain ? Promise.resolve() : new Promise((r) => res.once('drain', () => r()))),
    close() {
      finish();
      res.end();
    },
    get closed() {
      return closed;
    },
    onClose(fn) {
      closeFns.push(fn);
    },
  };
  return stream;
}
