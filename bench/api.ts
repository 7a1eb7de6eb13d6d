/**
 * API benchmark (issues #2, #16): a real panel process (SQLite, every module) against a bare
 * Fastify 5 app serving the same JSON, both loaded by the same external load generator (Debian's
 * `wrk`), interleaved over several rounds; medians of the rounds, ratios printed in one table.
 *
 *   npx tsx bench/api.ts
 *   BENCH_ROUNDS=3 BENCH_SECONDS=5 BENCH_CONNECTIONS=50 BENCH_SITES=2000 BENCH_AUDIT_ROWS=20000
 *   BENCH_CPU_PROF=/tmp/prof   also writes a V8 CPU profile of the panel (node --cpu-prof)
 *   BENCH_ONLY=health,me       only these targets (each with its bare baseline)
 *   BENCH_SOURCE=1             run the panel from the sources (tsx) even when dist/ is built
 *   BENCH_DIST=<dir>           the compiled server there instead of dist/ (tsc -p tsconfig.server.json --outDir <dir>)
 *
 * Targets: /health >= 0.6x bare, /auth/me >= 0.5x bare, /sites?limit=50 over 2,000 sites >= 0.7x
 * of /auth/me, idle RSS < 110 MB. The machine's load average is printed: on a shared machine the
 * ratios hold better than the absolute figures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { migrate, openDatabase } from '../server/src/db/database.js';
import { AuditLog } from '../server/src/platform/audit/audit.service.js';
import { sitesMigrations } from '../modules/sites/server/sites.migrations.js';
import { CaddyAdmin } from '../modules/containers/server/caddy.admin.js';
import { freePort, isolatedModuleEnv } from '../server/src/testing/ports.js';
import { median, wrk, type WrkResult } from './wrk.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const AUDIT_ROWS = Number(process.env.BENCH_AUDIT_ROWS ?? 20_000);
const SITES = Number(process.env.BENCH_SITES ?? 2000);
const CPU_PROF = process.env.BENCH_CPU_PROF;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

async function waitUp(url: string): Promise<void> {
  // BENCH_UP_SECONDS: a loaded machine can take longer than 30 s to start the panel.
  for (let i = 0; i < Number(process.env.BENCH_UP_SECONDS ?? 30) * 10; i++) {
    if (await fetch(url).then((r) => r.status < 500, () => false)) return;
    await sleep(100);
  }
  throw new Error(`${url} did not come up`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000).then(() => child.kill('SIGKILL'))]);
}

async function seed(dataDir: string): Promise<void> {
  const database = openDatabase({ dataDir });
  await migrate(database.db, sitesMigrations);
  const audit = new AuditLog(database.db, 'sqlite');
  for (let i = 0; i < AUDIT_ROWS; i += 5000) {
    await audit.recordMany(Array.from({ length: Math.min(5000, AUDIT_ROWS - i) }, (_, k) => {
      const n = i + k;
      return { actor: { kind: 'user' as const, userId: `u${n % 50}`, username: `user${n % 50}`, role: 'operator' as const, ip: '10.0.0.1', userAgent: 'bench' }, action: ['sites.create', 'containers.wake', 'auth.login'][n % 3]!, target: { type: 'site', id: `s${n}.example.com` }, details: { n } };
    }));
  }
  const now = Date.now();
  const types = ['wp', 'wpsubdir', 'php83', 'html', 'mysql', 'proxy'];
  const rows = Array.from({ length: SITES }, (_, i) => ({
    id: `site_${i}`, host_id: 'local', domain: `site${String(i).padStart(5, '0')}.${['example.com', 'example.org', 'shop.example.net'][i % 3]}`,
    site_type: types[i % types.length]!, cache_type: i % 2 ? 'wpredis' : 'basic', php_version: ['8.1', '8.2', '8.3'][i % 3]!, enabled: i % 10 ? 1 : 0,
    ssl: i % 3 ? 1 : 0, ssl_provider: i % 3 ? 'Lets Encrypt' : null, ssl_expires_at: i % 3 ? now + ((i * 7) % 90) * 86_400_000 : null, ssl_days_left: i % 3 ? (i * 7) % 90 : null,
    ssl_checked_at: now, hsts: null, webroot: `/var/www/site${i}`, db_name: `db_${i}`, disk_bytes: i * 1000, owner_id: null, state: 'ready' as const, pending_job_id: null,
    refreshed_at: now, created_at: now, updated_at: now,
  }));
  const db = database.db as unknown as { insertInto(t: string): { values(v: unknown[]): { execute(): Promise<unknown> } } };
  for (let i = 0; i < rows.length; i += 200) await db.insertInto('sites_inventory').values(rows.slice(i, i + 200)).execute();
  await database.close();
}

async function main() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'slipway-bench-api-'));
  const port = await freePort();
  const barePort = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const bare = `http://127.0.0.1:${barePort}`;
  const t0 = performance.now();
  await seed(dataDir);
  console.log(`seeded ${AUDIT_ROWS} audit rows and ${SITES} sites in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // A `wo` that never runs (no refresh): the sites module answers from the seeded inventory.
  const woDir = path.join(dataDir, 'wo-bin');
  mkdirSync(woDir);
  writeFileSync(path.join(woDir, 'wo'), '#!/bin/sh\nexit 1\n');
  chmodSync(path.join(woDir, 'wo'), 0o755);

  // The same V8 flags as `npm start` and the systemd unit.
  // dist/ when built (`npm run build`; what production runs), else the sources through tsx; BENCH_SOURCE=1 forces the sources.
  const distMain = path.join(process.env.BENCH_DIST ?? 'dist', 'server/src/main.js');
  const compiled = process.env.BENCH_SOURCE !== '1' && (() => { try { readFileSync(distMain); return true; } catch { return false; } })();
  if (CPU_PROF) mkdirSync(CPU_PROF, { recursive: true });
  const flags = ['--max-semi-space-size=2', ...(CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`] : [])];
  const entry = [...flags, ...(compiled ? [distMain, 'start'] : ['--import', 'tsx', 'server/src/main.ts', 'start'])];
  console.log(`panel: ${compiled ? distMain : 'server/src/main.ts through tsx'}`);
  const moduleEnv = await isolatedModuleEnv(`bench_${port}`);
  const panel = spawn(process.execPath, entry, {
    env: {
      ...process.env, SLIPWAY_DATA_DIR: dataDir, SLIPWAY_LISTEN: `127.0.0.1:${port}`, SLIPWAY_LOG_LEVEL: 'warn',
      SLIPWAY_SITES_WO_DIR: woDir, SLIPWAY_SITES_REFRESH_INTERVAL_SECONDS: '0', SLIPWAY_SITES_CERT_CHECK_INTERVAL_HOURS: '0',
      ...moduleEnv,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  panel.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  let bareApp: ChildProcess | null = null;
  try {
    await waitUp(`${base}/api/v1/health`);
    const token = readFileSync(path.join(dataDir, 'setup-token'), 'utf8').trim();
    const password = 'Slate-Orchard-Lantern-8431!';
    const setup = await fetch(`${base}/api/v1/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, username: 'bench', email: 'bench@example.com', password }) });
    if (!setup.ok) throw new Error(`setup failed: ${setup.status} ${await setup.text()}`);
    const login = (await (await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bench', password }) })).json()) as { accessToken: string };
    const headers = { authorization: `Bearer ${login.accessToken}` };

    // What the bare app serves: the panel's own answers, byte for byte the same JSON.
    const health = await (await fetch(`${base}/api/v1/health`)).json();
    const me = await (await fetch(`${base}/api/v1/auth/me`, { headers })).json();
    const sitesPage = await fetch(`${base}/api/v1/sites?limit=50`, { headers });
    const sitesBody = (await sitesPage.json()) as { total?: number };
    if (sitesBody.total !== SITES) throw new Error(`expected ${SITES} sites, GET /sites says ${sitesPage.status} ${JSON.stringify(sitesBody).slice(0, 300)}`);
    bareApp = spawn(process.execPath, ['--max-semi-space-size=2', '--import', 'tsx', 'bench/bare-fastify.ts'], {
      env: { ...process.env, BARE_PORT: String(barePort), BARE_BODIES: JSON.stringify({ '/api/v1/health': health, '/api/v1/auth/me': me }) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await waitUp(`${bare}/api/v1/health`);

    await sleep(3000);
    const idleRss = rssMb(panel.pid!);

    const targets: { key: string; label: string; url: string; headers?: Record<string, string> }[] = [
      { key: 'bare-health', label: 'bare Fastify GET /health', url: `${bare}/api/v1/health` },
      { key: 'health', label: 'panel GET /health', url: `${base}/api/v1/health` },
      { key: 'bare-me', label: 'bare Fastify GET /auth/me', url: `${bare}/api/v1/auth/me` },
      { key: 'me', label: 'panel GET /auth/me', url: `${base}/api/v1/auth/me`, headers },
      { key: 'sites', label: `panel GET /sites?limit=50 (${SITES})`, url: `${base}/api/v1/sites?limit=50`, headers },
      { key: 'audit', label: `panel GET /audit?limit=50 (${AUDIT_ROWS})`, url: `${base}/api/v1/audit?limit=50`, headers },
    ];
    // BENCH_ONLY=health,me: only these targets (with their baselines), e.g. for a CPU profile of one route.
    const only = process.env.BENCH_ONLY?.split(',');
    if (only) targets.splice(0, targets.length, ...targets.filter((t) => only.includes(t.key.replace(/^bare-/, ''))));
    // Warm-up (JIT, caches) of every target.
    for (const t of targets) await wrk({ ...t, connections: CONNECTIONS, seconds: 1 });
    const runs = new Map<string, WrkResult[]>();
    const loads: string[] = [load()];
    for (let r = 0; r < ROUNDS; r++) {
      for (const t of targets) {
        const res = await wrk({ ...t, connections: CONNECTIONS, seconds: SECONDS });
        runs.set(t.key, [...(runs.get(t.key) ?? []), res]);
      }
      loads.push(load());
    }
    const loadedRss = rssMb(panel.pid!);
    const m = (key: string, f: keyof WrkResult) => median((runs.get(key) ?? []).map((x) => x[f] as number));

    console.log(`\nAPI benchmark: wrk -c${CONNECTIONS}, ${SECONDS} s x ${ROUNDS} interleaved rounds (medians), SQLite, Node ${process.version}`);
    console.log(`load average at start and after each round: ${loads.join(' | ')}`);
    console.log(`${'target'.padEnd(36)}${'req/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'errors'.padStart(8)}   per round req/s`);
    for (const t of targets) {
      const rs = runs.get(t.key) ?? [];
      console.log(`${t.label.padEnd(36)}${m(t.key, 'rps').toFixed(0).padStart(9)}${m(t.key, 'p50').toFixed(2).padStart(9)}${m(t.key, 'p99').toFixed(2).padStart(9)}${String(rs.reduce((a, x) => a + x.errors, 0)).padStart(8)}   ${rs.map((x) => x.rps.toFixed(0)).join(' / ')}`);
    }
    const rows: [string, number, number][] = [
      ['/health vs bare Fastify', m('health', 'rps') / m('bare-health', 'rps'), 0.6],
      ['/auth/me vs bare Fastify', m('me', 'rps') / m('bare-me', 'rps'), 0.5],
      [`/sites?limit=50 vs /auth/me`, m('sites', 'rps') / m('me', 'rps'), 0.7],
    ];
    console.log(`\n${'ratio (req/s)'.padEnd(36)}${'measured'.padStart(10)}${'target'.padStart(10)}`);
    for (const [label, v, target] of rows) console.log(`${label.padEnd(36)}${v.toFixed(2).padStart(9)}x${`>= ${target}x`.padStart(10)}  ${v >= target ? 'met' : 'NOT met'}`);
    console.log(`${'idle RSS'.padEnd(36)}${idleRss.toFixed(1).padStart(7)} MB${'< 110 MB'.padStart(10)}  ${idleRss < 110 ? 'met' : 'NOT met'}   (after load ${loadedRss.toFixed(1)} MB)`);
  } catch (e) {
    console.error(stderr.slice(-2000));
    throw e;
  } finally {
    if (bareApp) await stop(bareApp);
    await stop(panel);
    // The panel's containers module wrote its own (empty) Caddy server: leave Caddy as it was.
    await new CaddyAdmin('http://127.0.0.1:2019', moduleEnv.SLIPWAY_CONTAINERS_CADDY_SERVER!).removeServer().catch(() => {});
    if (CPU_PROF) console.log(`CPU profile of the panel written to ${CPU_PROF}`);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
