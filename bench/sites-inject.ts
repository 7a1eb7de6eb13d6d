/**
 * CPU per request of GET /sites?limit=50 over BENCH_SITES sites against GET /auth/me, in process
 * (app.inject: no sockets), for profiling: `node --cpu-prof --import tsx bench/sites-inject.ts`.
 */
import { createTestApp } from '../server/src/testing/harness.js';
import { sitesModule } from '../modules/sites/server/index.js';

const SITES = Number(process.env.BENCH_SITES ?? 2000);
const N = Number(process.env.BENCH_REQUESTS ?? 2000);
const t = await createTestApp({ modules: [sitesModule], startBackground: false, env: { SLIPWAY_SITES_HOSTS: '', SLIPWAY_SITES_REFRESH_INTERVAL_SECONDS: '0' } });
try {
  const now = Date.now();
  const rows = Array.from({ length: SITES }, (_, i) => ({
    id: `site_${i}`, host_id: 'local', domain: `site${String(i).padStart(5, '0')}.example.com`, site_type: 'wp', cache_type: 'basic', php_version: '8.2', enabled: 1,
    ssl: 1, ssl_provider: 'Lets Encrypt', ssl_expires_at: now, ssl_days_left: 30, ssl_checked_at: now, hsts: null, webroot: `/var/www/site${i}`, db_name: `db_${i}`, disk_bytes: i, owner_id: null, state: 'ready', pending_job_id: null,
    refreshed_at: now, created_at: now, updated_at: now,
  }));
  const db = t.services.database.db as unknown as { insertInto(t: string): { values(v: unknown[]): { execute(): Promise<unknown> } } };
  for (let i = 0; i < rows.length; i += 200) await db.insertInto('sites_inventory').values(rows.slice(i, i + 200)).execute();
  const admin = await t.signIn('admin');
  const time = async (url: string) => {
    for (let i = 0; i < 200; i++) await t.app.inject({ method: 'GET', url, headers: admin.headers });
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < N; i++) {
      const r = await t.app.inject({ method: 'GET', url, headers: admin.headers });
      if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode} ${r.body.slice(0, 200)}`);
    }
    const c = process.cpuUsage(cpu0);
    return (c.user + c.system) / 1000 / N;
  };
  const me = await time('/api/v1/auth/me');
  const sites = await time('/api/v1/sites?limit=50');
  console.log(`CPU per request (in process): /auth/me ${me.toFixed(3)} ms, /sites?limit=50 over ${SITES} sites ${sites.toFixed(3)} ms, ratio ${(me / sites).toFixed(2)}x`);
} finally {
  await t.close();
}
