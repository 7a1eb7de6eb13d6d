/**
 * Apps benchmark (issue #11): `GET /api/v1/apps` p50/p99 with 500 apps in the inventory (target
 * p99 < 50 ms), next to `GET /api/v1/auth/me` measured in the same run as the baseline.
 *
 * The inventory is what the background refresh writes; it is seeded straight into the database
 * (as many rows as a refresh of 500 Dokku apps leaves), so the figure is the list's own cost: the
 * route never calls `dokku`. A third of the apps belong to one `user`, whose list is filtered.
 * Run: npx tsx bench/apps.ts   (BENCH_APPS, BENCH_SECONDS, BENCH_CONNECTIONS to change)
 */
import { newId } from '../server/src/db/ids.js';
import { createTestApp } from '../server/src/testing/harness.js';
import { createAppsModule } from '../modules/apps/server/index.js';
import type { AppsDb } from '../modules/apps/server/apps.repo.js';
import { formatResult, load } from './load.js';

const APPS = Number(process.env.BENCH_APPS ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);

function pct(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main() {
  const t = await createTestApp({
    modules: [createAppsModule()],
    startBackground: false,
    env: { SLIPWAY_APPS_DOKKU_BIN: '/nonexistent/dokku', SLIPWAY_APPS_REFRESH_INTERVAL_SECONDS: '0' },
  });
  try {
    const admin = await t.signIn('admin');
    const tenant = await t.signIn('user');
    const db = t.services.database.db as unknown as AppsDb;
    const at = Date.now();
    const statuses = ['running', 'running', 'stopped', 'not_deployed'] as const;
    const rows = Array.from({ length: APPS }, (_, i) => {
      const name = `app-${String(i).padStart(4, '0')}${i % 7 === 0 ? '.eu' : ''}`;
      const status = statuses[i % statuses.length]!;
      return {
        id: newId(), host_id: 'local', name, owner_id: i % 3 === 0 ? tenant.user.id : null, state: 'ready' as const, status,
        deploy_source: status === 'not_deployed' ? '' : i % 2 ? 'docker-image' : 'git-sync',
        image: i % 2 ? `ghcr.io/example/${name}:v${i % 17}` : null, git_commit: i % 2 ? null : 'a'.repeat(40), git_remote: i % 2 ? null : `https://git.example.com/org/${name}.git`,
        domains: JSON.stringify([`${name}.example.com`, `www.${name}.example.com`]), url: `http://${name}.example.com`, scale: JSON.stringify({ web: 1 + (i % 3), worker: i % 2 }),
        processes: 1 + (i % 3), last_deploy_job_id: newId(), last_deploy_outcome: i % 11 === 0 ? 'failed' : 'succeeded', last_deploy_at: at - i * 60_000,
        refreshed_at: at, created_at: at - i * 3_600_000, updated_at: at - i * 1000,
      };
    });
    for (let i = 0; i < rows.length; i += 100) await db.insertInto('apps_inventory').values(rows.slice(i, i + 100)).execute();

    const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const headers = { authorization: admin.headers.authorization };
    const check = await fetch(`${address}/api/v1/apps?limit=50`, { headers }).then((r) => r.json() as Promise<{ total: number }>);
    if (check.total !== APPS) throw new Error(`expected ${APPS} apps, the API says ${check.total}`);

    const measured = async (label: string, url: string, h = headers) => {
      const cpu0 = process.cpuUsage();
      const r = await load({ label, url, headers: h, connections: CONNECTIONS, seconds: SECONDS, expectStatus: 200 });
      const cpu = process.cpuUsage(cpu0);
      console.log(`${formatResult(r)}   cpu ${((cpu.user + cpu.system) / 1000 / Math.max(1, r.requests)).toFixed(2)} ms/req`);
      return r;
    };
    console.log(`inventory: ${APPS} apps`);
    const baseline = await measured('baseline GET /auth/me', `${address}/api/v1/auth/me`);
    const results = [];
    for (const [label, q] of [
      ['GET /apps?limit=50', 'limit=50'],
      ['GET /apps?offset=450&limit=50', 'offset=450&limit=50'],
      ['GET /apps?status=running', 'status=running&limit=100'],
      ['GET /apps?search=app-04', 'search=app-04'],
      ['GET /apps sort=lastDeployAt desc', 'sort=lastDeployAt&order=desc&limit=100'],
    ] as const) {
      results.push(await measured(label, `${address}/api/v1/apps?${q}`));
    }
    results.push(await measured('GET /apps as a user (own apps)', `${address}/api/v1/apps?limit=50`, { authorization: tenant.headers.authorization }));
    // Not a page but the whole inventory in one answer: its cost is mostly the response's size.
    await measured('GET /apps?limit=500 (all, info)', `${address}/api/v1/apps?limit=500`);
    const lat: number[] = [];
    for (let i = 0; i < 300; i++) {
      const t0 = performance.now();
      await fetch(`${address}/api/v1/apps?limit=50&offset=${(i * 37) % APPS}`, { headers }).then((r) => r.arrayBuffer());
      lat.push(performance.now() - t0);
    }
    lat.sort((a, b) => a - b);
    console.log(`${'GET /apps, 1 client'.padEnd(34)} p50 ${pct(lat, 50).toFixed(2)} ms   p99 ${pct(lat, 99).toFixed(2)} ms`);
    const worst = Math.max(...results.map((r) => r.p99));
    const first = results[0]!;
    console.log(`GET /apps?limit=50 next to /auth/me in this run: p99 ${first.p99.toFixed(2)} ms vs ${baseline.p99.toFixed(2)} ms (×${(first.p99 / Math.max(0.01, baseline.p99)).toFixed(2)})`);
    console.log(`target p99 < 50 ms for pages of the list at ${CONNECTIONS} connections: ${worst < 50 ? 'met' : 'NOT met'} (worst p99 ${worst.toFixed(2)} ms)`);
  } finally {
    await t.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
