import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { WakeError, type WakeController, type WakeResult } from './wake.controller.js';

/** Path of the activator's own endpoints under a sleeping service's hostname (the waiting page's signal). */
export const ACTIVATOR_PATH = '/.slipway/';
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'x-slipway-service'];

/**
 * The listener Caddy routes a sleeping service to (loopback only). It holds the request, wakes the
 * service (one start however many requests arrive) and then proxies it to the container; a browser
 * gets a small waiting page at once that continues when an SSE signal says the service is ready.
 * Warm traffic never comes here: once awake, Caddy routes straight to the container. With a fixed
 * port the activator is the route's second upstream, reached when the container refuses (asleep),
 * and for about a second after a wake (Caddy's mark on the refused dial); it finds the service by Host.
 */
export class Activator {
  private server: http.Server | null = null;
  private readonly sockets = new Set<net.Socket | Duplex>();
  /** Requests and upgraded connections the activator itself is proxying, per service. */
  private readonly open = new Map<string, number>();
  port = 0;
  /** Requests and upgrades that reached the activator (tests: warm traffic must not come here). */
  requests = 0;

  constructor(
    private readonly controller: WakeController,
    private readonly opts: { holdTimeoutMs: number; log: FastifyBaseLogger },
  ) {}

  async listen(port: number): Promise<void> {
    const server = http.createServer((req, res) => void this.onRequest(req, res).catch((err) => this.fail(res, err)));
    server.on('upgrade', (req, socket, head) => void this.onUpgrade(req, socket, head).catch(() => socket.destroy()));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Open proxied requests/WebSockets of a service that went through the activator (activity). */
  inFlight(serviceId: string): number {
    return this.open.get(serviceId) ?? 0;
  }

  private hold(serviceId: string): () => void {
    this.open.set(serviceId, this.inFlight(serviceId) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.open.set(serviceId, this.inFlight(serviceId) - 1);
      this.controller.touch(serviceId);
    };
  }

  get dial(): string {
    return `127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  }

  private serviceOf(req: IncomingMessage): string | undefined {
    const h = req.headers['x-slipway-service'];
    if (typeof h === 'string' && this.controller.state(h)) return h;
    return this.controller.serviceForHost(req.headers.host ?? '');
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    this.requests++;
    const id = this.serviceOf(req);
    if (!id) return sendJson(res, 404, { error: { code: 'not_found', message: 'No service answers to this hostname' } });
    if (req.url?.startsWith(`${ACTIVATOR_PATH}wake-events`)) return this.wakeEvents(id, req, res);
    this.controller.touch(id);
    const failure = this.controller.state(id) !== 'running' ? this.controller.recentFailure(id) : null;
    if (failure) return sendFailure(req, res, failure);
    const port = this.controller.upstreamPort(id);
    if (port) return this.proxy(req, res, port, null, t0, id);

    const wake = this.controller.wake(id, 'request', { early: true });
    if (wantsHtml(req)) {
      wake.catch(() => {});
      return sendWaitingPage(res);
    }
    let result: WakeResult;
    try {
      result = await withTimeout(wake, this.opts.holdTimeoutMs);
    } catch (e) {
      if (e instanceof TimeoutError) {
        res.setHeader('retry-after', '5');
        return sendJson(res, 503, { error: { code: 'waking', message: `The service is starting; try again shortly (held ${Math.round(this.opts.holdTimeoutMs / 1000)} s)` } });
      }
      const err = e instanceof WakeError ? e : new WakeError(String(e), 503);
      // The reason (it may carry the container's output) goes to the panel's log and the service page only.
      this.opts.log.warn({ err, serviceId: id }, 'a visitor found the service unavailable');
      return sendFailure(req, res, err);
    }
    if (req.destroyed) return;
    return this.proxy(req, res, result.port, result.wakeId, t0, id);
  }

  /** Replays the held request to the container and streams the answer back. */
  private proxy(req: IncomingMessage, res: ServerResponse, port: number, wakeId: string | null, t0: number, serviceId: string): void {
    const headers = { ...req.headers };
    for (const h of HOP_BY_HOP) delete headers[h];
    const release = this.hold(serviceId);
    res.on('close', release);
    const up = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers }, (upRes) => {
      if (wakeId) void this.controller.recordFirstByte(serviceId, wakeId, performance.now() - t0);
      const out = { ...upRes.headers };
      for (const h of HOP_BY_HOP) delete out[h];
      res.writeHead(upRes.statusCode ?? 502, out);
      upRes.pipe(res);
    });
    up.on('error', (err) => this.fail(res, new WakeError(`the service did not answer: ${err.message}`, 503)));
    req.pipe(up);
  }

  /** A WebSocket (or other upgrade) to a sleeping service: wake, then splice the sockets. */
  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    this.requests++;
    const id = this.serviceOf(req);
    if (!id) return void socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    let port: number;
    try {
      port = (await withTimeout(this.controller.wake(id, 'request', { early: true }), this.opts.holdTimeoutMs)).port;
    } catch (e) {
      const status = e instanceof WakeError ? e.status : 503;
      return void socket.end(`HTTP/1.1 ${status} Service Unavailable\r\nretry-after: 5\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    }
    const release = this.hold(id);
    socket.on('close', release);
    const upstream = net.connect(port, '127.0.0.1', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() !== 'x-slipway-service') lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    socket.on('close', () => upstream.destroy());
  }

  /** SSE for the waiting page: `ready` once the service is running, `failed` with the reason. */
  private wakeEvents(id: string, req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(': waiting\n\n');
    const send = (state: string, detail?: string) => {
      if (state === 'running') {
        res.end(`event: ready\ndata: {}\n\n`);
        return true;
      }
      if (state === 'failed') {
        // Never the reason: it may carry the container's output (the panel's log and service page have it).
        void detail;
        res.end(`event: failed\ndata: ${JSON.stringify({ reason: UNAVAILABLE_TEXT })}\n\n`);
        return true;
      }
      return false;
    };
    if (send(this.controller.state(id) ?? 'failed')) return;
    const heartbeat = setInterval(() => res.write(': ping\n\n'), 10_000);
    const off = this.controller.onStateChange((sid, state, detail) => {
      if (sid === id && send(state, detail)) cleanup();
    });
    const cleanup = () => {
      off();
      clearInterval(heartbeat);
    };
    req.on('close', cleanup);
  }

  private fail(res: ServerResponse, err: unknown): void {
    this.opts.log.warn({ err }, 'activator request failed');
    if (res.headersSent) return void res.destroy();
    const e = err instanceof WakeError ? err : new WakeError(err instanceof Error ? err.message : String(err), 503);
    sendJson(res, e.status, { error: { code: 'wake_failed', message: UNAVAILABLE_TEXT } });
  }
}

class TimeoutError extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new TimeoutError()), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

function wantsHtml(req: IncomingMessage): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && /\btext\/html\b/.test(req.headers.accept ?? '');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/** What a visitor of a broken service reads (issue 18, item 6): plain, and never the container's output. */
const UNAVAILABLE_TEXT = 'The service is unavailable right now. Please try again in a few minutes.';

/** A plain "service unavailable" page for browsers, a short JSON for API clients; the reason stays in the panel. */
function sendFailure(req: IncomingMessage, res: ServerResponse, e: WakeError): void {
  res.setHeader('retry-after', '10');
  if (wantsHtml(req)) {
    const html = page('Service unavailable', `<h1>Service unavailable</h1><p>${escapeHtml(UNAVAILABLE_TEXT)}</p>`, '');
    res.writeHead(e.status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    return void res.end(html);
  }
  sendJson(res, e.status, { error: { code: e.status === 504 ? 'wake_timeout' : 'service_unavailable', message: UNAVAILABLE_TEXT } });
}

/** Shown at once to a browser; it reloads the moment the SSE signal says the service is ready. */
function sendWaitingPage(res: ServerResponse): void {
  const script = `
var es = new EventSource('${ACTIVATOR_PATH}wake-events');
es.addEventListener('ready', function () { es.close(); location.reload(); });
es.addEventListener('failed', function (e) { es.close(); var d = JSON.parse(e.data);
  document.querySelector('h1').textContent = 'Service unavailable'; document.getElementById('msg').textContent = d.reason; });
es.onerror = function () { es.close(); setTimeout(function () { location.reload(); }, 500); };`;
  const html = page('Starting…', '<h1>Waking up this service…</h1><p id="msg">It was asleep to save resources. This page continues by itself in a moment.</p>', script);
  // 503 + Retry-After: caches and crawlers must not keep the waiting page as the service's content.
  res.writeHead(503, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'retry-after': '2', 'x-slipway-waiting': '1' });
  res.end(html);
}

function page(title: string, body: string, script: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${title}</title>
<noscript><meta http-equiv="refresh" content="5"></noscript>
<style>body{font-family:system-ui,sans-serif;display:grid;place-items:center;min-height:90vh;color:#333}main{text-align:center}</style></head>
<body><main>${body}</main>${script ? `<script>${script}</script>` : ''}</body></html>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
