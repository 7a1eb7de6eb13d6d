import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, fastifyTrustProxy, loadConfig } from './config.js';

/** One HTTP request over a unix socket. */
function viaSocket(socketPath: string, method: string, url: string, opts: { body?: unknown; headers?: Record<string, string> } = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const data = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = request({ socketPath, method, path: url, headers: { ...(data ? { 'content-type': 'application/json' } : {}), ...opts.headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

describe('SLIPWAY_LISTEN=unix:…', () => {
  it('accepts an absolute socket path and refuses relative ones and ..', () => {
    expect(loadConfig({ SLIPWAY_LISTEN: 'unix:/run/slipway/slipway.sock' }).core.listen).toBe('unix:/run/slipway/slipway.sock');
    for (const bad of ['unix:run/slipway.sock', 'unix:/run/../etc/x.sock', 'unix:', 'unix:/a b.sock']) {
      expect(() => loadConfig({ SLIPWAY_LISTEN: bad }), bad).toThrow(ConfigError);
    }
  });

  it('trusts exactly the socket peer (one hop) when SLIPWAY_TRUST_PROXY is set, nothing otherwise', () => {
    const trust = fastifyTrustProxy({ listen: 'unix:/run/slipway/slipway.sock', trustProxy: 'unix' });
    expect(typeof trust).toBe('function');
    const fn = trust as (a: string | undefined, hop: number) => boolean;
    expect(fn(undefined, 0)).toBe(true); // the socket peer: the proxy
    expect(fn('203.0.113.1', 1)).toBe(false); // whatever the client claimed before the proxy
    expect(fastifyTrustProxy({ listen: 'unix:/run/slipway/slipway.sock', trustProxy: undefined })).toBe(false);
    expect(fastifyTrustProxy({ listen: '127.0.0.1:8420', trustProxy: '127.0.0.1' })).toBe('127.0.0.1');
  });

  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function startPanel(dataDir: string, socketPath: string): Promise<ChildProcess> {
    const root = path.resolve(import.meta.dirname, '../..');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'server/src/main.ts'), 'start'], {
      cwd: root,
      env: { PATH: process.env.PATH, SLIPWAY_DATA_DIR: dataDir, SLIPWAY_LISTEN: `unix:${socketPath}`, SLIPWAY_TRUST_PROXY: 'unix', SLIPWAY_MODULES: 'server', SLIPWAY_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const deadline = Date.now() + 40_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`panel exited ${child.exitCode}: ${stderr}`);
      if (existsSync(socketPath)) {
        const r = await viaSocket(socketPath, 'GET', '/api/v1/health').catch(() => null);
        if (r?.status === 200) return child;
      }
      if (Date.now() > deadline) throw new Error(`panel did not answer on ${socketPath}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('answers on the socket with mode 0660, takes the client address from the proxy, and replaces a stale socket', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'slipway-sock-'));
    dirs.push(dir);
    const dataDir = path.join(dir, 'data');
    const socketPath = path.join(dir, 'slipway.sock');
    let child = await startPanel(dataDir, socketPath);
    expect(statSync(socketPath).mode & 0o777).toBe(0o660);

    // The proxy (nginx: X-Forwarded-For $remote_addr) names the client; the panel records it.
    const token = readFileSync(path.join(dataDir, 'setup-token'), 'utf8').trim();
    const setup = await viaSocket(socketPath, 'POST', '/api/v1/setup', {
      body: { token, username: 'admin', email: 'admin@example.com', password: 'correct horse battery staple' },
      headers: { 'x-forwarded-for': '203.0.113.7' },
    });
    expect(setup.status, setup.body).toBe(201);
    const login = await viaSocket(socketPath, 'POST', '/api/v1/auth/login', {
      body: { username: 'admin', password: 'correct horse battery staple' },
      headers: { 'x-forwarded-for': '198.51.100.9' },
    });
    expect(login.status, login.body).toBe(200);
    const access = (JSON.parse(login.body) as { accessToken?: string; access_token?: string });
    const bearer = access.accessToken ?? access.access_token;
    const audit = await viaSocket(socketPath, 'GET', '/api/v1/audit', { headers: { authorization: `Bearer ${bearer}`, 'x-forwarded-for': '198.51.100.9' } });
    expect(audit.status, audit.body).toBe(200);
    expect(audit.body).toContain('198.51.100.9');

    // A crash leaves the socket file behind; the next start removes it and listens again.
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(existsSync(socketPath)).toBe(true);
    child = await startPanel(dataDir, socketPath);
    expect((await viaSocket(socketPath, 'GET', '/api/v1/ready')).status).toBeLessThan(600);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    // A clean stop removes the socket.
    expect(existsSync(socketPath)).toBe(false);
  }, 120_000);
});
