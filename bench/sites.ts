/**
 * Sites benchmark (issue #5): `GET /api/v1/sites` p50/p99 with 2,000 sites in the inventory
 * (target p99 < 50 ms) and the time to refresh that inventory from `wo site list` + `wo site info`.
 *
 * `wo` here is a tiny sh script serving pre-rendered WordOps output (the same siteinfo.mustache
 * format the test fake reproduces), so the refresh time measures the panel's work per site
 * (a process spawn, parsing, a database upsert) rather than a Python start-up we cannot run here.
 * Run: npx tsx bench/sites.ts   (BENCH_SITES, BENCH_SECONDS, BENCH_CONNECTIONS to change; BENCH_DEEP=0 skips
 * the deep refresh, which adds a `du` and a certificate read per site)
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestApp } from '../server/src/testing/harness.js';
import { sitesModule } from '../modules/sites/server/index.js';
import { SitesService } from '../modules/sites/server/sites.service.js';
import type { SitesTables } from '../modules/sites/server/sites.migrations.js';
import { formatResult, load } from './load.js';

const SITES = Number(process.env.BENCH_SITES ?? 2000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);

const TYPES: [string, string, string | null][] = [['wp', 'wpredis', '8.3'], ['wp', 'wpfc', '8.2'], ['wpsubdir', 'basic', '8.1'], ['php83', 'basic', '8.3'], ['mysql', 'basic', '8.2'], ['html', 'basic', null], ['proxy', '', null]];

function siteInfo(domain: string, i: number, webroot: string): string {
  const [type, cache, php] = TYPES[i % TYPES.length]!;
  const ssl = i % 3 !== 0;
  const db = type === 'wp' || type === 'wpsubdir' || type === 'mysql';
  return [
    `Information about ${domain} (subdomain):`, '', '',
    `Nginx configuration\t ${type} ${cache} (${i % 10 === 0 ? 'disabled' : 'enabled'}) `,
    php ? `PHP Version\t\t ${php}` : '', '',
    `SSL\t\t\t ${ssl ? 'enabled' : 'disabled'}${ssl ? `\nSSL PROVIDER\t\t Lets Encrypt\nSSL EXPIRY DATE\t\t ${(i * 7) % 90}` : ''}`, '',
    `access_log\t\t ${webroot}/logs/access.log`, `error_log\t\t ${webroot}/logs/error.log`, `Webroot\t\t\t ${webroot}`, '',
    db ? `DB_NAME\t\t\t ${domain.replace(/[.-]/g, '_')}` : '', db ? 'DB_USER\t\t\t u' : '', db ? 'DB_PASS\t\t\t p' : '', '',
  ].join('\n');
}

function pct(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'slipway-bench-sites-'));
  mkdirSync(path.join(dir, 'info'));
  mkdirSync(path.join(dir, 'live'));
  const names: string[] = [];
  for (let i = 0; i < SITES; i++) {
    const domain = `site${String(i).padStart(5, '0')}.${['example.com', 'example.org', 'shop.example.net'][i % 3]}`;
    const webroot = path.join(dir, 'www', domain);
    mkdirSync(path.join(webroot, 'htdocs'), { recursive: true });
    writeFileSync(path.join(dir, 'info', domain), siteInfo(domain, i, webroot));
    names.push(domain);
  }
  // wo/core/logging.py Log.info colours each name (site.py 483-484).
  writeFileSync(path.join(dir, 'list.txt'), names.map((n) => `\x1b[94m${n}\x1b[0m\n`).join(''));
  writeFileSync(path.join(dir, 'wo'), `#!/bin/sh\nD='${dir}'\ncase "$2" in\n  list) exec cat "$D/list.txt" ;;\n  info) exec cat "$D/info/$3" ;;\nesac\nexit 1\n`);
  chmodSync(path.join(dir, 'wo'), 0o755);

  const t = await createTestApp({
    modules: [sitesModule],
    startBackground: false,
    env: { SLIPWAY_SITES_WO_DIR: dir, SLIPWAY_SITES_CERT_DIR: path.join(dir, 'live'), SLIPWAY_SITES_REFRESH_INTERVAL_SECONDS: '0', SLIPWAY_SITES_CERT_CHECK_INTERVAL_HOURS: '0' },
  });
  try {
    const s = t.services;
    const sites = new SitesService({
      db: s.database.db.withTables<SitesTables>(), jobs: s.jobs, audit: s.audit, events: s.events, hosts: s.hosts, claims: s.hostnames, log: t.app.log,
      config: { woBin: 'wo', woDir: dir, certDir: path.join(dir, 'live'), nginxLogDir: path.join(dir, 'logs'), proxyAllow: [], hosts: 'local', refreshIntervalSeconds: 0, certCheckIntervalHours: 0, certWarnDays: 14, refreshConcurrency: 4 },
    });
    let started = performance.now();
    const first = await sites.refreshHost('local', false);
    const firstMs = performance.now() - started;
    started = performance.now();
    await sites.refreshHost('local', false);
    const againMs = performance.now() - started;
    console.log(`inventory: ${first.sites} sites (${first.failed} failed)`);
    console.log(`refresh (wo site list + ${SITES} × wo site info): first ${(firstMs / 1000).toFixed(2)} s, again ${(againMs / 1000).toFixed(2)} s (${(againMs / SITES).toFixed(2)} ms/site)`);
    if (process.env.BENCH_DEEP !== '0') {
      started = performance.now();
      await sites.refreshHost('local', true);
      console.log(`deep refresh (+ du and certificate read per site): ${((performance.now() - started) / 1000).toFixed(2)} s`);
    }

    const admin = await t.signIn('admin');
    const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const headers = { authorization: admin.headers.authorization };
    // In-process sanity check of what the benchmark reads.
    const check = await fetch(`${address}/api/v1/sites?limit=50`, { headers }).then((r) => r.json() as Promise<{ total: number }>);
    if (check.total !== SITES) throw new Error(`expected ${SITES} sites, the API says ${check.total}`);

    // CPU time of this process per request (server and load generator share it): a figure that
    // holds on a busy machine, where wall-clock percentiles mostly measure the other tenants.
    const measured = async (label: string, url: string) => {
      const cpu0 = process.cpuUsage();
      const r = await load({ label, url, headers, connections: CONNECTIONS, seconds: SECONDS, expectStatus: 200 });
      const cpu = process.cpuUsage(cpu0);
      console.log(`${formatResult(r)}   cpu ${((cpu.user + cpu.system) / 1000 / Math.max(1, r.requests)).toFixed(2)} ms/req`);
      return r;
    };
    // Baseline in the same run: an authenticated route without the inventory (auth hook + session).
    await measured('baseline GET /auth/me', `${address}/api/v1/auth/me`);
    const results = [];
    for (const [label, q] of [
      ['GET /sites?limit=50', 'limit=50'],
      ['GET /sites?offset=1900&limit=50', 'offset=1900&limit=50'],
      ['GET /sites type+ssl+php filters', 'type=wp&ssl=true&php=8.3&limit=50'],
      ['GET /sites?search=00042', 'search=00042'],
      ['GET /sites sort=sslExpiresAt desc', 'sort=sslExpiresAt&order=desc&limit=100'],
    ] as const) {
      results.push(await measured(label, `${address}/api/v1/sites?${q}`));
    }
    // Single-client latency (no queueing behind other connections).
    const lat: number[] = [];
    for (let i = 0; i < 300; i++) {
      const t0 = performance.now();
      await fetch(`${address}/api/v1/sites?limit=50&offset=${(i * 37) % SITES}`, { headers }).then((r) => r.arrayBuffer());
      lat.push(performance.now() - t0);
    }
    lat.sort((a, b) => a - b);
    console.log(`${'GET /sites, 1 client'.padEnd(34)} p50 ${pct(lat, 50).toFixed(2)} ms   p99 ${pct(lat, 99).toFixed(2)} ms`);
    const worst = Math.max(...results.map((r) => r.p99));
    console.log(`target p99 < 50 ms at ${CONNECTIONS} connections: ${worst < 50 ? 'met' : 'NOT met'} (worst p99 ${worst.toFixed(2)} ms)`);
  } finally {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
