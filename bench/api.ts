/**
 * API benchmark (issue #2): requests/s and p50/p99 for an authenticated `GET /api/v1/auth/me` and
 * `GET /api/v1/audit?limit=50` over 100,000 audit rows at 50 connections, against a real panel
 * process on SQLite; baseline in the same run: `GET /api/v1/health` (no auth, no database).
 * Also the idle server's RSS. Run: npx tsx bench/api.ts  (targets: >= 3,000 req/s, p99 < 20 ms, idle RSS < 120 MB)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { migrate, openDatabase } from '../server/src/db/database.js';
import { AuditLog } from '../server/src/platform/audit/audit.service.js';
import { freePort, isolatedModuleEnv } from '../server/src/testing/ports.js';
import { formatResult, load } from './load.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const AUDIT_ROWS = Number(process.env.BENCH_AUDIT_ROWS ?? 100_000);


function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function main() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'slipway-bench-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;

  // Seed the audit log through the real service (chain hashes included), in batches.
  const seedStart = performance.now();
  const database = openDatabase({ dataDir });
  await migrate(database.db);
  const audit = new AuditLog(database.db, 'sqlite');
  for (let i = 0; i < AUDIT_ROWS; i += 5000) {
    await audit.recordMany(Array.from({ length: Math.min(5000, AUDIT_ROWS - i) }, (_, k) => {
      const n = i + k;
      return { actor: { kind: 'user' as const, userId: `u${n % 50}`, username: `user${n % 50}`, role: 'operator' as const, ip: '10.0.0.1', userAgent: 'bench' }, action: ['sites.create', 'containers.wake', 'auth.login'][n % 3]!, target: { type: 'site', id: `s${n}.example.com` }, details: { n } };
    }));
  }
  await database.close();
  console.log(`seeded ${AUDIT_ROWS} audit rows in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);

  // The same V8 flags as `npm start` and the systemd unit.
  const entry = ['--max-semi-space-size=2', ...(existsCompiled() ? ['dist/server/src/main.js', 'start'] : ['--import', 'tsx', 'server/src/main.ts', 'start'])];
  const child = spawn(process.execPath, entry, {
    env: { ...process.env, SLIPWAY_DATA_DIR: dataDir, SLIPWAY_LISTEN: `127.0.0.1:${port}`, SLIPWAY_LOG_LEVEL: 'warn', ...(await isolatedModuleEnv(`bench_${port}`)) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  try {
    for (let i = 0; i < 200; i++) {
      if (await fetch(`${base}/api/v1/health`).then((r) => r.ok, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const token = readFileSync(path.join(dataDir, 'setup-token'), 'utf8').trim();
    const password = 'Slate-Orchard-Lantern-8431!';
    const setup = await fetch(`${base}/api/v1/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, username: 'bench', email: 'bench@example.com', password }) });
    if (!setup.ok) throw new Error(`setup failed: ${setup.status} ${await setup.text()}`);
    const login = (await (await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bench', password }) })).json()) as { accessToken: string };
    const headers = { authorization: `Bearer ${login.accessToken}` };

    await new Promise((r) => setTimeout(r, 3000));
    const idleRss = rssMb(child.pid!);

    // Warm-up, then measure.
    await load({ label: 'warm-up', url: `${base}/api/v1/auth/me`, headers, connections: CONNECTIONS, seconds: 2 });
    const health = await load({ label: 'GET /health (baseline)', url: `${base}/api/v1/health`, connections: CONNECTIONS, seconds: SECONDS });
    const me = await load({ label: 'GET /auth/me', url: `${base}/api/v1/auth/me`, headers, connections: CONNECTIONS, seconds: SECONDS });
    const auditPage = await load({ label: `GET /audit?limit=50 (${AUDIT_ROWS} rows)`, url: `${base}/api/v1/audit?limit=50`, headers, connections: CONNECTIONS, seconds: SECONDS });
    const loadedRss = rssMb(child.pid!);

    console.log(`\nSlipway API benchmark: ${CONNECTIONS} connections, ${SECONDS} s each, SQLite, Node ${process.version}`);
    for (const r of [health, me, auditPage]) console.log(formatResult(r));
    console.log(`\nratio to baseline (req/s): /auth/me ${(me.rps / health.rps).toFixed(2)}x, /audit ${(auditPage.rps / health.rps).toFixed(2)}x`);
    console.log(`idle RSS ${idleRss.toFixed(1)} MB (target < 120 MB); after load ${loadedRss.toFixed(1)} MB`);
    const pass = me.rps >= 3000 && me.p99 < 20 && auditPage.rps >= 3000 && auditPage.p99 < 20 && idleRss < 120;
    console.log(`targets (>= 3000 req/s, p99 < 20 ms, idle RSS < 120 MB): ${pass ? 'met' : 'NOT met'}`);
  } catch (e) {
    console.error(stderr.slice(-2000));
    throw e;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function existsCompiled(): boolean {
  try {
    readFileSync('dist/server/src/main.js');
    return true;
  } catch {
    return false;
  }
}

await main();
