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
 * Opens a Server-Sent Events response on `reply` (hijacked from Fastify), with a heartbeat comment
 * every 15 s so proxies keep it open.
 */
export function openSse(req: FastifyRequest, reply: FastifyReply, heartbeatMs = 15000): SseStream {
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
    for (const fn of closeFns) fn();
  };
  req.raw.on('close', finish);
  res.on('close', finish);
  return {
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
}
