/**
 * Containers benchmark (real Docker + Caddy): `npx tsx bench/wake.ts [--seconds 6] [--concurrency 8] [--cold 7]`
 *
 * Warm: p50/p99 latency and requests/s to one awake container through (a) Slipway's routing (our Caddy
 * server: host-matched route, the container's fixed port first and the activator behind it, no
 * access log), (b) a plain Caddy `reverse_proxy` to the same container, (c) the container directly,
 * in three interleaved rounds. Target (issue 16): (a) within 1.05x of (b) on p50, p99 and throughput.
 * Cold: a sleeping service's first request — time to first byte minus the container's own
 * start-to-ready time (what the panel adds). Target: median <= 10 ms.
 * The machine's load average is printed: on a shared machine compare the ratios, not the figures.
 */
import http from 'node:http';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { CaddyAdmin } from '../modules/containers/server/caddy.admin.js';
import { CreateService } from '../modules/containers/server/containers.schema.js';
import { NODE_WS_COMMAND, ensureNodeWsImage } from '../modules/containers/server/test-fixtures/images.js';
import { cleanupNamespace, freePort, startPanel, testEnv, viaCaddy } from '../modules/containers/server/test-fixtures/panel.js';
import { SYSTEM_ACTOR } from '../server/src/platform/rbac/permissions.js';
import { createTestDatabase } from '../server/src/testing/test-db.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '6' }, concurrency: { type: 'string', default: '8' }, cold: { type: 'string', default: '7' } } });
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const coldRuns = Number(values.cold);

interface Result { name: string; p50: number; p99: number; rps: number; errors: number }

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** Closed-loop load: `concurrency` keep-alive clients for `ms`; latency of every request. */
async function load(name: string, port: number, host: string, ms: number): Promise<{ lat: number[]; errors: number; elapsed: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + ms;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = http.request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) lat.push(performance.now() - t0);
          else errors++;
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) await one();
  }));
  agent.destroy();
  void name;
  return { lat, errors, elapsed: performance.now() - start };
}

async function main() {
  const image = await ensureNodeWsImage();
  const db = await createTestDatabase();
  const { env, namespace, httpPort } = await testEnv({ SLIPWAY_CONTAINERS_IDLE_CHECK_INTERVAL_MS: '60000' });
  const plainServer = `${namespace}_plain`;
  const plain = new CaddyAdmin('http://127.0.0.1:2019', plainServer);
  let panel = await startPanel({ database: db.database, dataDir: db.dataDir, env });
  try {
    const input = CreateService.parse({
      name: `bench-${Date.now().toString(36)}`,
      hostnames: ['bench.localhost'],
      containers: [{ name: 'web', image, command: NODE_WS_COMMAND, env: [{ name: 'BODY', value: 'x'.repeat(512) }] }],
      sleep: { mode: 'stop', idleTimeoutSeconds: 3600 },
      stopTimeoutSeconds: 1,
    });
    const { service, job } = await panel.rt.service.create(SYSTEM_ACTOR, input);
    const done = await panel.app.slipway.jobs.waitFor(job.id, 60_000);
    if (done.state !== 'succeeded') throw new Error(`create failed: ${done.error}`);
    const { rt } = panel;

    // ---- cold wakes ----
    const cold: { ttfb: number; startToReady: number; added: number }[] = [];
    for (let i = 0; i < coldRuns; i++) {
      await rt.controller.sleep(service.id, 'bench');
      const res = await viaCaddy(httpPort, 'bench.localhost', { headers: { accept: 'application/json' } });
      if (res.status !== 200) throw new Error(`cold request answered ${res.status}: ${res.body}`);
      const [w] = await rt.service.wakes(SYSTEM_ACTOR, service.id, 1);
      cold.push({ ttfb: res.ttfbMs, startToReady: w!.startToReadyMs!, added: res.ttfbMs - w!.startToReadyMs! });
    }

    // ---- warm ----
    await rt.controller.wake(service.id, 'bench');
    const containerPort = rt.controller.upstreamPort(service.id)!;
    const plainPort = await freePort();
    await plain.putServer({ listen: [`127.0.0.1:${plainPort}`], autoHttps: false, routes: [] });
    // The plain baseline: one reverse_proxy handler, no host matcher, same container.
    await plain.setRoute({ id: `${plainServer}_r`, hostnames: ['bench.localhost'], dial: `127.0.0.1:${containerPort}` });
    // Past Caddy's 1 s mark on the refused dial of the cold wakes: the route reaches the container itself.
    await new Promise((r) => setTimeout(r, 1200));
    const targets = [
      { name: 'slipway (caddy route -> container)', port: httpPort },
      { name: 'plain caddy reverse_proxy', port: plainPort },
      { name: 'direct to container', port: containerPort },
    ];
    for (const tg of targets) await load(tg.name, tg.port, 'bench.localhost', 500); // warm-up
    const agg = new Map<string, { lat: number[]; errors: number; elapsed: number; count: number }>();
    const rounds = 3;
    for (let r = 0; r < rounds; r++) {
      for (const tg of targets) {
        const res = await load(tg.name, tg.port, 'bench.localhost', (seconds * 1000) / rounds);
        const a = agg.get(tg.name) ?? { lat: [], errors: 0, elapsed: 0, count: 0 };
        a.lat.push(...res.lat);
        a.errors += res.errors;
        a.elapsed += res.elapsed;
        a.count += res.lat.length;
        agg.set(tg.name, a);
      }
    }
    const results: Result[] = targets.map((tg) => {
      const a = agg.get(tg.name)!;
      const sorted = a.lat.sort((x, y) => x - y);
      return { name: tg.name, p50: pct(sorted, 50), p99: pct(sorted, 99), rps: a.count / (a.elapsed / 1000), errors: a.errors };
    });

    const f = (n: number) => n.toFixed(2).padStart(8);
    console.log(`\nWarm path, ${concurrency} keep-alive clients, ${seconds}s each (3 interleaved rounds), 512-byte body`);
    console.log(`${'target'.padEnd(38)}${'p50 ms'.padStart(8)}${'p99 ms'.padStart(8)}${'req/s'.padStart(10)}  errors`);
    for (const r of results) console.log(`${r.name.padEnd(38)}${f(r.p50)}${f(r.p99)}${r.rps.toFixed(0).padStart(10)}  ${r.errors}`);
    const [ours, base] = results;
    const ratios = { p50: ours!.p50 / base!.p50, p99: ours!.p99 / base!.p99, throughput: base!.rps / ours!.rps };
    console.log(`slipway / plain caddy: p50 ${ratios.p50.toFixed(3)}x, p99 ${ratios.p99.toFixed(3)}x, throughput ${ratios.throughput.toFixed(3)}x (target <= 1.05x each: ${Object.values(ratios).every((v) => v <= 1.05) ? 'met' : 'NOT met'})`);

    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(`\nCold wake, ${coldRuns} runs (sleep -> first API request through Caddy)`);
    console.log(`${'run'.padEnd(6)}${'ttfb ms'.padStart(10)}${'start->ready ms'.padStart(17)}${'added ms'.padStart(10)}`);
    cold.forEach((c, i) => console.log(`${String(i + 1).padEnd(6)}${f(c.ttfb).padStart(10)}${f(c.startToReady).padStart(17)}${f(c.added).padStart(10)}`));
    const added = med(cold.map((c) => c.added));
    console.log(`median: ttfb ${med(cold.map((c) => c.ttfb)).toFixed(1)} ms, container start->ready ${med(cold.map((c) => c.startToReady)).toFixed(1)} ms, added by Slipway ${added.toFixed(1)} ms (target <= 10 ms: ${added <= 10 ? 'met' : 'NOT met'})`);
    console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (a shared machine: compare the ratios)`);
  } finally {
    await panel.app.close();
    await plain.removeServer().catch(() => {});
    await cleanupNamespace(namespace);
    await db.cleanup();
  }
  panel = undefined as never;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
