import http from 'node:http';

/**
 * Caddy admin API adapter (loopback HTTP). Writes only under Slipway's own server
 * (`/config/apps/http/servers/<server>`), its routes (by `@id`) and its access logger; the rest of
 * Caddy's configuration is never read-modified-written.
 */
export interface CaddyRoute {
  id: string;
  hostnames: string[];
  /** host:port the route proxies to (the container, or the activator while the service sleeps). */
  dial: string;
  /**
   * Tried when `dial` refuses the connection (the activator behind a stopped container): Caddy picks
   * the first upstream that answers, so waking and sleeping need no config reload (issue 16).
   */
  fallback?: string;
  /** Request headers set towards the upstream (the activator learns the service from them). */
  setHeaders?: Record<string, string>;
}

export interface UpstreamStatus {
  address: string;
  /** Requests in flight now, including open WebSockets and streaming responses. */
  numRequests: number;
  fails: number;
}

export class CaddyError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

export interface CaddyServerOptions {
  listen: string[];
  autoHttps: boolean;
  routes: CaddyRoute[];
}

export class CaddyAdmin {
  private readonly base: string;
  constructor(adminUrl: string, readonly serverName: string, private readonly opts: { streamCloseDelay?: string; upstreamIdleTimeout?: string } = {}) {
    this.base = adminUrl.replace(/\/$/, '');
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const { status, text } = await this.request(method, path, body);
    if (status >= 400) {
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        /* plain text */
      }
      throw new CaddyError(`Caddy ${method} ${path}: ${status} ${message}`.trim(), status);
    }
    return text ? (JSON.parse(text) as unknown) : null;
  }

  /** One request per connection: Caddy restarts its admin listener on config loads, so kept-alive sockets go stale. */
  private request(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const url = new URL(`${this.base}${path}`);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || 80, path: url.pathname, method, agent: false, timeout: 15_000,
          headers: { ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}), connection: 'close' } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`Caddy admin API did not answer ${method} ${path}`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** GET that answers null when the path (or one of its parents) does not exist yet. */
  private async getOrNull(path: string): Promise<unknown> {
    try {
      return await this.call('GET', path);
    } catch (e) {
      if (e instanceof CaddyError && (e.status === 404 || e.status === 400)) return null;
      throw e;
    }
  }

  routeJson(r: CaddyRoute): Record<string, unknown> {
    const proxy: Record<string, unknown> = { handler: 'reverse_proxy', upstreams: [{ dial: r.dial }, ...(r.fallback ? [{ dial: r.fallback }] : [])] };
    if (r.fallback) {
      // The first upstream not marked down; a refused dial marks it down for 1 s and the request goes
      // on to the fallback at once (a dial error means nothing was sent, so any method is safe).
      proxy.load_balancing = { selection_policy: { policy: 'first' }, retries: 1 };
      proxy.health_checks = { passive: { fail_duration: '1s', max_fails: 1 } };
    }
    // Idle upstream connections close after this: an open one means a request within that time (activity).
    // The rest as Caddy's own defaults (a keep_alive block without them would keep only Go's 2 idle connections per upstream).
    if (this.opts.upstreamIdleTimeout) proxy.transport = { protocol: 'http', keep_alive: { probe_interval: '30s', max_idle_conns_per_host: 32, idle_timeout: this.opts.upstreamIdleTimeout } };
    if (r.setHeaders) proxy.headers = { request: { set: Object.fromEntries(Object.entries(r.setHeaders).map(([k, v]) => [k, [v]])) } };
    if (this.opts.streamCloseDelay) proxy.stream_close_delay = this.opts.streamCloseDelay;
    return { '@id': r.id, match: [{ host: r.hostnames }], handle: [proxy], terminal: true };
  }

  /** Writes our whole server (listen, HTTPS policy, routes) in one reload; no access log (issue 16). */
  async putServer(s: CaddyServerOptions): Promise<void> {
    const server: Record<string, unknown> = {
      listen: s.listen,
      routes: s.routes.map((r) => this.routeJson(r)),
    };
    if (!s.autoHttps) server.automatic_https = { disable: true };
    // PUT creates the value (and missing parents); PATCH replaces an existing one.
    const exists = (await this.getOrNull(`/config/apps/http/servers/${this.serverName}`)) !== null;
    await this.call(exists ? 'PATCH' : 'PUT', `/config/apps/http/servers/${this.serverName}`, server);
  }

  /** Removes a logger an earlier version wrote (the per-request access log); absent is fine. */
  async removeLogger(name: string): Promise<void> {
    if ((await this.getOrNull(`/config/logging/logs/${name}`)) === null) return;
    await this.call('DELETE', `/config/logging/logs/${name}`);
  }

  async getServer(): Promise<Record<string, unknown> | null> {
    return (await this.getOrNull(`/config/apps/http/servers/${this.serverName}`)) as Record<string, unknown> | null;
  }

  /** Every upstream a route proxies to, in order (empty: no route). */
  async routeUpstreams(id: string): Promise<string[]> {
    try {
      return ((await this.call('GET', `/id/${id}/handle/0/upstreams`)) as { dial: string }[]).map((u) => u.dial);
    } catch (e) {
      if (e instanceof CaddyError && (e.status === 404 || e.status === 400)) return [];
      throw e;
    }
  }

  /** Creates or replaces one route (one config reload). */
  async setRoute(r: CaddyRoute): Promise<void> {
    try {
      await this.call('PATCH', `/id/${r.id}`, this.routeJson(r));
    } catch (e) {
      if (!(e instanceof CaddyError && (e.status === 404 || e.status === 400))) throw e;
      await this.call('POST', `/config/apps/http/servers/${this.serverName}/routes`, this.routeJson(r));
    }
  }

  async routeExists(id: string): Promise<boolean> {
    try {
      await this.call('GET', `/id/${id}`);
      return true;
    } catch (e) {
      if (e instanceof CaddyError && (e.status === 404 || e.status === 400)) return false;
      throw e;
    }
  }

  /** The upstream a route currently proxies to, as Caddy's running config says (null: no route). */
  async routeDial(id: string): Promise<string | null> {
    try {
      return (await this.call('GET', `/id/${id}/handle/0/upstreams/0/dial`)) as string;
    } catch (e) {
      if (e instanceof CaddyError && (e.status === 404 || e.status === 400)) return null;
      throw e;
    }
  }

  async removeRoute(id: string): Promise<void> {
    try {
      await this.call('DELETE', `/id/${id}`);
    } catch (e) {
      if (!(e instanceof CaddyError && (e.status === 404 || e.status === 400))) throw e;
    }
  }

  /** Removes our server and logger (tests, uninstall). */
  async removeServer(accessLogger?: string): Promise<void> {
    for (const path of [`/config/apps/http/servers/${this.serverName}`, ...(accessLogger ? [`/config/logging/logs/${accessLogger}`] : [])]) {
      try {
        await this.call('DELETE', path);
      } catch (e) {
        if (!(e instanceof CaddyError && (e.status === 404 || e.status === 400))) throw e;
      }
    }
  }

  /** In-flight request counters of every reverse_proxy upstream Caddy knows (shared across servers). */
  async upstreams(): Promise<UpstreamStatus[]> {
    const list = ((await this.call('GET', '/reverse_proxy/upstreams')) ?? []) as { address: string; num_requests: number; fails: number }[];
    return list.map((u) => ({ address: u.address, numRequests: u.num_requests, fails: u.fails }));
  }
}
