/**
 * Server module benchmark (issue #6).
 * 1. The metrics sampler's CPU use over 60 s at its default interval (5 s) on this machine: the
 *    sampler and the 1-minute store run alone in this process; process.cpuUsage() is the measure.
 *    Target: < 1 % of one core.
 * 2. Log-follow throughput: lines appended to a real file, followed by the panel and delivered to a
 *    WebSocket client (JSON messages parsed by the client), with the process's memory before and
 *    after. Target: >= 50,000 lines/s. Panel and client share this process, so the figure is
 *    conservative.
 * Run: node --expose-gc --import tsx bench/server.ts   (BENCH_SAMPLER_SECONDS=60, BENCH_LOG_LINES=1000000, BENCH_LOG_RATE=100000)
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { MetricsService } from '../modules/server/server/metrics/metrics.service.js';
import { serverModule } from '../modules/server/server/index.js';
import { ServerConfig } from '../modules/server/server/server.config.js';
import { serverMigrations, type ServerTables } from '../modules/server/server/server.migrations.js';
import { migrate, openDatabase } from '../server/src/db/database.js';
import { EventBus } from '../server/src/platform/events/event-bus.js';
import { HostRegistry } from '../server/src/platform/hosts/host-registry.js';
import { createTestApp } from '../server/src/testing/harness.js';

const SAMPLER_SECONDS = Number(process.env.BENCH_SAMPLER_SECONDS ?? 60);
const LOG_LINES = Number(process.env.BENCH_LOG_LINES ?? 1_000_000);
/** The writer's pace; the client must receive every line (no skip) for the run to count. */
const LOG_RATE = Number(process.env.BENCH_LOG_RATE ?? 100_000);
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function samplerCpu(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'slipway-bench-server-'));
  const database = openDatabase({ dataDir: dir });
  await migrate(database.db, serverMigrations);
  const intervalMs = ServerConfig.parse({}).sampleIntervalMs;
  const metrics = new MetricsService(database.db.withTables<ServerTables>(), new HostRegistry(database.db), new EventBus(), { intervalMs, retentionDays: 7, thresholds: { diskPercent: 90, memoryPercent: 90, loadMinutes: 5 } }, { warn: () => {} });
  await metrics.start();
  await sleep(1500); // past the priming read
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await sleep(SAMPLER_SECONDS * 1000);
  const used = process.cpuUsage(cpu0);
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  const samples = metrics.sampler('local')!.ring.length;
  await metrics.stop();
  await database.close();
  rmSync(dir, { recursive: true, force: true });
  const pct = ((used.user + used.system) / wallUs) * 100;
  console.log(`sampler: interval ${intervalMs} ms, ${SAMPLER_SECONDS} s, ${samples} samples, CPU ${pct.toFixed(3)} % of one core (user ${(used.user / 1000).toFixed(0)} ms, system ${(used.system / 1000).toFixed(0)} ms)  target < 1 %  ${pct < 1 ? 'OK' : 'MISSED'}`);
}

async function logThroughput(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'slipway-bench-logs-'));
  const file = path.join(dir, 'access.log');
  writeFileSync(file, '');
  const t = await createTestApp({ modules: [serverModule], env: { SLIPWAY_SERVER_LOG_SOURCES: JSON.stringify({ bench: file }), SLIPWAY_SERVER_SAMPLE_INTERVAL_MS: '60000', SLIPWAY_SERVER_LOG_CLIENT_QUEUE_LINES: '10000' } });
  try {
    const admin = await t.signIn('admin');
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (t.app.server.address() as { port: number }).port;
    global.gc?.();
    const before = process.memoryUsage();

    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/server/logs/bench/ws?lines=0`, ['slipway.v1', `bearer.${admin.token}`]);
    let received = 0;
    let skipped = 0;
    ws.on('message', (m) => {
      const msg = JSON.parse(String(m)) as { type: string; state?: string; count?: number };
      if (msg.type === 'log') received++;
      if (msg.type === 'state' && msg.state === 'skipped') skipped += msg.count!;
    });
    await new Promise<void>((r, j) => {
      ws.once('open', () => r());
      ws.once('error', j);
    });
    await sleep(300);

    // A realistic nginx access line (~150 bytes).
    const line = (i: number) => `127.0.0.1 - - [22/Nov/2026:01:00:00 +0000] "GET /wp-content/uploads/2026/11/image-${i}.jpg HTTP/1.1" 200 5120 "-" "Mozilla/5.0 (bench)"\n`;
    const started = process.hrtime.bigint();
    const startMs = Date.now();
    const CHUNK = Math.max(1, Math.round(LOG_RATE / 100)); // one write every 10 ms
    for (let i = 0; i < LOG_LINES; i += CHUNK) {
      let s = '';
      for (let j = i; j < Math.min(LOG_LINES, i + CHUNK); j++) s += line(j);
      appendFileSync(file, s);
      // Pace the writer like a busy web server would, yielding so the follower runs meanwhile.
      const due = startMs + ((i + CHUNK) / LOG_RATE) * 1000;
      await sleep(Math.max(0, due - Date.now()));
    }
    const deadline = Date.now() + 120_000;
    while (received + skipped < LOG_LINES && Date.now() < deadline) await sleep(5);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const peak = process.memoryUsage();
    ws.close();
    await sleep(200);
    global.gc?.();
    const after = process.memoryUsage();
    const rate = received / seconds;
    console.log(`log follow: writer paced at ${LOG_RATE.toLocaleString()} lines/s; ${received.toLocaleString()} lines delivered (${skipped} skipped) in ${seconds.toFixed(2)} s = ${Math.round(rate).toLocaleString()} lines/s  target >= 50,000  ${rate >= 50_000 && skipped === 0 ? 'OK' : 'MISSED'}`);
    console.log(`memory: before RSS ${mb(before.rss)} heap ${mb(before.heapUsed)}; at end of stream RSS ${mb(peak.rss)} heap ${mb(peak.heapUsed)}; after close RSS ${mb(after.rss)} heap ${mb(after.heapUsed)}`);
  } finally {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// The sampler first, in a quiet process, so nothing else's CPU is counted.
console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at start`);
await samplerCpu();
await logThroughput();
console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at end (figures shrink when other work shares the cores)`);
