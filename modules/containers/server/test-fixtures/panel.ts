import http from 'node:http';
import net from 'node:net';
import Docker from 'dockerode';
import { buildApp, type Database, type HttpApp, loadConfig, loadOrCreateSecrets } from '../../../../server/src/testing/index.js';
import { CaddyAdmin } from '../caddy.admin.js';
import { LABEL_NAMESPACE } from '../docker.client.js';
import { createContainersModule, type ContainersRuntime } from '../index.js';

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Settings of one test panel: its own Caddy server name and listen port, so test files never collide. */
export async function testEnv(extra: Record<string, string> = {}): Promise<{ env: Record<string, string>; namespace: string; httpPort: number }> {
  const namespace = `slwt_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 7)}`;
  const httpPort = await freePort();
  return {
    namespace,
    httpPort,
    env: {
      SLIPWAY_CONTAINERS_CADDY_SERVER: namespace,
      SLIPWAY_CONTAINERS_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
      SLIPWAY_CONTAINERS_AUTO_HTTPS: 'false',
      SLIPWAY_CONTAINERS_ACTIVATOR_PORT: '0',
      SLIPWAY_CONTAINERS_IDLE_CHECK_INTERVAL_MS: '200',
      SLIPWAY_CONTAINERS_HOLD_TIMEOUT_MS: '20000',
      SLIPWAY_CONTAINERS_FAILURE_BACKOFF_MS: '2000',
      ...extra,
    },
  };
}

/** A panel process' worth of app on an existing database (used to restart "the panel" in a test). */
export async function startPanel(opts: { database: Database; dataDir: string; env: Record<string, string> }): Promise<{ app: HttpApp; rt: ContainersRuntime }> {
  let rt: ContainersRuntime | undefined;
  const module = createContainersModule({ onRuntime: (r) => (rt = r) });
  const config = loadConfig({ SLIPWAY_DATA_DIR: opts.dataDir, SLIPWAY_LOG_LEVEL: 'silent', ...opts.env }, ['containers']);
  const app = await buildApp({ config, database: opts.database, secrets: loadOrCreateSecrets(opts.dataDir), modules: [module], logger: false });
  await app.ready();
  return { app, rt: rt! };
}

/** Removes everything a test namespace created: containers, networks, our Caddy server and logger. */
export async function cleanupNamespace(namespace: string): Promise<void> {
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  const containers = await docker.listContainers({ all: true, filters: { label: [`${LABEL_NAMESPACE}=${namespace}`] } });
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => {})));
  const networks = await docker.listNetworks({ filters: { label: [`${LABEL_NAMESPACE}=${namespace}`] } });
  await Promise.all(networks.map((n) => docker.getNetwork(n.Id).remove().catch(() => {})));
  await new CaddyAdmin('http://127.0.0.1:2019', namespace).removeServer(`${namespace}_access`).catch(() => {});
}

export interface HttpResult { status: number; headers: http.IncomingHttpHeaders; body: string; ttfbMs: number }

/** A request through Caddy with the service's Host header (fetch cannot set Host). */
export function viaCaddy(port: number, host: string, opts: { path?: string; headers?: Record<string, string>; method?: string; agent?: http.Agent } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request({ host: '127.0.0.1', port, path: opts.path ?? '/', method: opts.method ?? 'GET', headers: { host, ...opts.headers }, agent: opts.agent ?? false }, (res) => {
      const ttfbMs = performance.now() - t0;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ttfbMs }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
