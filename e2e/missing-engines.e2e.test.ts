import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, isolatedModuleEnv } from '../server/src/testing/ports.js';
import { repoRoot } from './panel.js';

/**
 * The README's first command on a machine without the engines: the BUILT panel (tsc output, run by
 * node, as `npm start` does) starts with Caddy's admin URL on a closed port and Docker's socket at a
 * missing path. It must start, serve health, report containers unavailable with the reason, answer
 * its routes with 503 module_unavailable, serve sites and server, and make containers ready once
 * Caddy and Docker appear, without a restart.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(100);
  }
}

/** Builds the server half as `npm run build:server` does, into a private folder (never dist/, which others run). */
function buildServer(): string {
  const out = path.join(repoRoot, 'node_modules/.cache/slipway-e2e-server', String(process.pid));
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.server.json', '--outDir', out], { cwd: repoRoot, encoding: 'utf8' });
  if (!existsSync(path.join(out, 'server/src/main.js'))) throw new Error(`server build failed:\n${r.stdout}\n${r.stderr}`);
  // Below node_modules a folder has no package scope: say that these files are ES modules.
  writeFileSync(path.join(out, 'package.json'), '{"type":"module"}\n');
  return out;
}

const RETRY_MS = 500;

describe('the built panel on a machine without Caddy and Docker', () => {
  let build: string;
  let child: ChildProcess;
  let out = '';
  let url: string;
  let auth: { authorization: string };
  let caddy: ChildProcess | undefined;
  let dockerProxy: net.Server | undefined;
  const work = mkdtempSync(path.join(tmpdir(), 'slipway-missing-engines-'));
  const dataDir = path.join(work, 'data');
  const dockerSocket = path.join(work, 'docker.sock'); // missing at start
  let caddyPort: number;

  const api = async (p: string, init: RequestInit = {}) => {
    const res = await fetch(`${url}${p}`, { ...init, headers: { 'content-type': 'application/json', ...auth, ...(init.headers as object) } });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
  };
  const moduleStatus = async (id: string) => ((await api('/api/v1/modules')).body.items as { id: string; status: string; reason: string | null; fix: string | null }[]).find((m) => m.id === id)!;

  beforeAll(async () => {
    build = buildServer();
    caddyPort = await freePort(); // closed: nothing listens there yet
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [path.join(build, 'server/src/main.js'), 'start'], {
      cwd: work,
      env: {
        PATH: process.env.PATH, HOME: process.env.HOME,
        SLIPWAY_DATA_DIR: dataDir, SLIPWAY_LISTEN: `127.0.0.1:${port}`, SLIPWAY_LOG_LEVEL: 'warn',
        ...(await isolatedModuleEnv(`missing_${port}`)),
        SLIPWAY_CONTAINERS_CADDY_ADMIN_URL: `http://127.0.0.1:${caddyPort}`,
        SLIPWAY_CONTAINERS_DOCKER_SOCKET: dockerSocket,
        SLIPWAY_ENGINE_RETRY_MS: String(RETRY_MS),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const setup = await until('the setup link', async () => {
      if (child.exitCode !== null) throw new Error(`panel exited with ${child.exitCode}:\n${out}`);
      return /(http:\/\/\S+\/setup#token=([A-Za-z0-9_-]+))/.exec(out)?.[2];
    }, 90_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${out}`);
    });
    const admin = { username: 'operator1', email: 'op@example.test', password: 'Missing-Engines-Pass-1' };
    auth = {} as { authorization: string };
    const created = await api('/api/v1/setup', { method: 'POST', body: JSON.stringify({ token: setup, ...admin }) });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const login = await api('/api/v1/auth/login', { method: 'POST', body: JSON.stringify({ username: admin.username, password: admin.password }) });
    auth = { authorization: `Bearer ${login.body.accessToken as string}` };
  }, 180_000);

  afterAll(async () => {
    if (child?.pid && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      await new Promise((r) => child.once('exit', r));
    }
    if (caddy?.pid && caddy.exitCode === null) {
      caddy.kill('SIGTERM');
      await new Promise((r) => caddy!.once('exit', r));
    }
    dockerProxy?.close();
    rmSync(work, { recursive: true, force: true });
    if (build) rmSync(build, { recursive: true, force: true });
  });

  it('starts, prints every module status with the fix, and serves health', async () => {
    expect(child.exitCode).toBeNull();
    expect(out).not.toMatch(/ECONNREFUSED/);
    expect(out).toMatch(new RegExp(`containers\\s+unavailable: Caddy admin API at 127\\.0\\.0\\.1:${caddyPort} not answering \\(connection refused\\)`));
    expect(out).toMatch(/fix: install the `caddy` package and start it/);
    const health = await fetch(`${url}/api/v1/health`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${url}/api/v1/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'degraded', modules: { containers: { status: 'unavailable' } } });
  });

  it('GET /api/v1/modules says containers is unavailable with the Caddy reason; its routes answer 503 module_unavailable', async () => {
    const containers = await moduleStatus('containers');
    expect(containers.status).toBe('unavailable');
    expect(containers.reason).toBe(`Caddy admin API at 127.0.0.1:${caddyPort} not answering (connection refused)`);
    expect(containers.fix).toMatch(/^install the `caddy` package and start it/);
    for (const [method, p] of [['GET', '/api/v1/containers'], ['GET', '/api/v1/containers/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b']] as const) {
      const res = await api(p, { method });
      expect(res.status, p).toBe(503);
      expect(res.body.error).toEqual({ code: 'module_unavailable', message: containers.reason, details: { module: 'containers', fix: containers.fix } });
    }
    // Still authentication first.
    expect((await fetch(`${url}/api/v1/containers`)).status).toBe(401);
  });

  it('the sites and server modules work', async () => {
    const sites = await moduleStatus('sites');
    // No WordOps on these machines: degraded with the reason, and the list still answers.
    expect(sites.status).toBe('degraded');
    expect(sites.reason).toMatch(/^WordOps is not installed on this host/);
    const list = await api('/api/v1/sites');
    expect(list.status).toBe(200);
    expect(['ready', 'degraded']).toContain((await moduleStatus('server')).status);
    expect((await api('/api/v1/server/metrics')).status).toBe(200);
    expect((await api('/api/v1/system/overview')).status).toBe(200);
    expect((await api('/api/v1/hosts')).body.items[0]).toMatchObject({ id: 'local' });
  });

  it('becomes ready within its retry interval once Caddy and Docker appear, without a restart', async () => {
    const caddyConfig = path.join(work, 'caddy.json');
    writeFileSync(caddyConfig, JSON.stringify({ admin: { listen: `127.0.0.1:${caddyPort}`, config: { persist: false } } }));
    caddy = spawn('caddy', ['run', '--config', caddyConfig], { env: { ...process.env, XDG_DATA_HOME: path.join(work, 'xdg-data'), XDG_CONFIG_HOME: path.join(work, 'xdg-config') }, stdio: 'ignore' });
    // Caddy answers: the module now waits for Docker, and says so.
    await until('the Docker reason', async () => (await moduleStatus('containers')).reason?.startsWith(`Docker at ${dockerSocket} not answering`), 15_000);
    expect((await api('/api/v1/containers')).status).toBe(503);

    // Docker appears at the configured path (a socket forwarding to this machine's engine).
    dockerProxy = net.createServer((c) => {
      const up = net.connect('/var/run/docker.sock');
      c.pipe(up).pipe(c);
      up.on('error', () => c.destroy());
      c.on('error', () => up.destroy());
    });
    await new Promise<void>((r) => dockerProxy!.listen(dockerSocket, () => r()));
    const appeared = Date.now();
    await until('containers ready', async () => (await moduleStatus('containers')).status === 'ready', 15_000);
    expect(Date.now() - appeared).toBeLessThan(RETRY_MS * 2 + 5000);
    const list = await api('/api/v1/containers');
    expect(list.status, JSON.stringify(list.body)).toBe(200);
    expect(list.body.items).toEqual([]);
    // Its background work started: the module's Caddy server was written.
    const cfg = await fetch(`http://127.0.0.1:${caddyPort}/config/apps/http/servers`);
    expect(Object.keys(await cfg.json() as object)).toContain(`test_missing_${new URL(url).port}`);
    expect(child.exitCode).toBeNull();
  });
});
