import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadOrCreateSecrets, SECRETS_FILE } from '../platform/secrets.js';
import { freePort } from './ports.js';

/**
 * Several built panel processes on one fresh PostgreSQL database behind a real Caddy
 * `reverse_proxy` (round-robin, active health checks): the replicas integration test and
 * `bench/replicas.ts` (issue 15).
 */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BUILT_MAIN = path.join(repoRoot, 'dist/server/src/main.js');

/** Why a replica set cannot run here (null: it can). */
export function replicaSetUnavailable(pgUrl: string | undefined): string | null {
  if (!pgUrl || !/^postgres(ql)?:\/\//.test(pgUrl)) return 'SLIPWAY_TEST_DATABASE_URL is not a PostgreSQL URL';
  if (!existsSync(BUILT_MAIN)) return 'no build (dist/server/src/main.js): run npm run build';
  if (spawnSync('caddy', ['version']).status !== 0) return 'caddy is not installed';
  return null;
}

export interface ReplicaProcess {
  name: string;
  port: number;
  url: string;
  address: string;
  dataDir: string;
  child: ChildProcess;
  output(): string;
  alive: boolean;
  kill9(): Promise<void>;
}

export interface ReplicaSet {
  /** The balancer's base URL. */
  lb: string;
  dbUrl: string;
  replicas: ReplicaProcess[];
  alive(): ReplicaProcess[];
  /** Points the balancer at these replicas only. */
  balance(over: ReplicaProcess[]): Promise<void>;
  /** Creates the first admin through the balancer (the setup token of whichever replica wrote it last). */
  createAdmin(username: string, password: string): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

export async function startReplicaSet(opts: { pgUrl: string; count: number; env?: Record<string, string> }): Promise<ReplicaSet> {
  const dbName = `slipway_rep_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
  const dbUrl = opts.pgUrl.replace(/\/[^/]*$/, `/${dbName}`);
  const admin = new pg.Client({ connectionString: opts.pgUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  await admin.end();

  // Replicas share the panel's secrets (JWT and data keys): the first data dir's, copied.
  const dirs = Array.from({ length: opts.count }, () => mkdtempSync(path.join(tmpdir(), 'slipway-replica-')));
  loadOrCreateSecrets(dirs[0]!);
  for (const d of dirs.slice(1)) copyFileSync(path.join(dirs[0]!, SECRETS_FILE), path.join(d, SECRETS_FILE));

  const replicas: ReplicaProcess[] = [];
  for (const [i, dataDir] of dirs.entries()) {
    const port = await freePort();
    let out = '';
    const child = spawn(process.execPath, [BUILT_MAIN, 'start'], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root',
        SLIPWAY_DATA_DIR: dataDir, SLIPWAY_LISTEN: `127.0.0.1:${port}`, SLIPWAY_DATABASE_URL: dbUrl, SLIPWAY_LOG_LEVEL: 'warn',
        SLIPWAY_MODULES: 'server', SLIPWAY_TRUST_PROXY: '127.0.0.1', SLIPWAY_REPLICA_ADDRESS: `127.0.0.1:${port}`,
        ...opts.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const r: ReplicaProcess = {
      name: String.fromCharCode(65 + i), port, url: `http://127.0.0.1:${port}`, address: `127.0.0.1:${port}`, dataDir, child, output: () => out, alive: true,
      kill9: () => new Promise<void>((resolve) => {
        if (!r.alive) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
    };
    child.once('exit', () => (r.alive = false));
    replicas.push(r);
  }

  const lbPort = await freePort();
  const adminPort = await freePort();
  const caddyDir = mkdtempSync(path.join(tmpdir(), 'slipway-lb-'));
  const config = (over: ReplicaProcess[]) => ({
    admin: { listen: `127.0.0.1:${adminPort}` },
    apps: {
      http: {
        servers: {
          replicas: {
            listen: [`127.0.0.1:${lbPort}`],
            automatic_https: { disable: true },
            routes: [{
              handle: [{
                handler: 'reverse_proxy',
                upstreams: over.map((r) => ({ dial: r.address })),
                load_balancing: { selection_policy: { policy: 'round_robin' }, try_duration: '3s', try_interval: '100ms' },
                health_checks: { active: { uri: '/api/v1/ready', interval: '300ms', timeout: '1s' }, passive: { fail_duration: '2s' } },
                flush_interval: -1,
              }],
            }],
          },
        },
      },
    },
  });
  let caddy: ChildProcess | null = null;
  const set: ReplicaSet = {
    lb: `http://127.0.0.1:${lbPort}`,
    dbUrl,
    replicas,
    alive: () => replicas.filter((r) => r.alive),
    async balance(over) {
      const res = await fetch(`http://127.0.0.1:${adminPort}/load`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(config(over)) });
      if (!res.ok) throw new Error(`caddy /load: ${res.status} ${await res.text()}`);
      await sleep(500); // the active health checks mark the new upstreams healthy
    },
    async createAdmin(username, password) {
      for (const r of replicas) {
        const token = readFileSync(path.join(r.dataDir, 'setup-token'), 'utf8').trim();
        const res = await fetch(`${set.lb}/api/v1/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, username, email: `${username}@example.test`, password }) });
        if (res.status === 201) return;
      }
      throw new Error('no setup token was accepted');
    },
    async stop() {
      for (const r of replicas) if (r.alive) r.child.kill('SIGTERM');
      await Promise.all(replicas.map((r) => (r.alive ? Promise.race([new Promise((res) => r.child.once('exit', res)), sleep(15_000).then(() => r.child.kill('SIGKILL'))]) : null)));
      caddy?.kill('SIGTERM');
      for (const r of replicas) rmSync(r.dataDir, { recursive: true, force: true });
      rmSync(caddyDir, { recursive: true, force: true });
      const c = new pg.Client({ connectionString: opts.pgUrl });
      await c.connect();
      await c.query(`drop database if exists ${dbName} with (force)`).catch(() => {});
      await c.end();
    },
  };
  try {
    // All at once: the migrations run under PostgreSQL's advisory lock, each exactly once.
    await Promise.all(replicas.map((r) => until(`${r.name} healthy`, async () => {
      if (!r.alive) throw new Error(`${r.name} exited:\n${r.output()}`);
      return (await fetch(`${r.url}/api/v1/health`)).ok;
    }, 90_000).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${r.output()}`);
    })));
    writeFileSync(path.join(caddyDir, 'caddy.json'), JSON.stringify(config(replicas)));
    caddy = spawn('caddy', ['run', '--config', path.join(caddyDir, 'caddy.json')], { stdio: 'ignore', env: { ...process.env, HOME: caddyDir, XDG_DATA_HOME: caddyDir, XDG_CONFIG_HOME: caddyDir } });
    await until('Caddy in front', async () => (await fetch(`${set.lb}/api/v1/health`)).ok, 20_000);
  } catch (e) {
    await set.stop().catch(() => {});
    throw e;
  }
  return set;
}
