import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestApp, type SignedIn, type TestApp } from '../../../../server/src/testing/harness.js';
import { serverModule } from '../index.js';
import type { ServerTables } from '../server.migrations.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const memUsedPercentNow = () => {
  const m = readFileSync('/proc/meminfo', 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(m)![1]);
  return ((kb('MemTotal') - kb('MemAvailable')) / kb('MemTotal')) * 100;
};

describe('metrics, live stream, history, alerts and overview', () => {
  let t: TestApp;
  let viewer: SignedIn;
  let user: SignedIn;
  let base: string;

  beforeAll(async () => {
    // A memory threshold just below what this machine uses right now, so the alert must fire;
    // and a disk threshold nobody reaches.
    const threshold = Math.max(0, Math.floor(memUsedPercentNow()) - 5);
    t = await createTestApp({
      modules: [serverModule],
      env: { SLIPWAY_SERVER_SAMPLE_INTERVAL_MS: '300', SLIPWAY_SERVER_ALERT_MEMORY_PERCENT: String(threshold), SLIPWAY_SERVER_ALERT_DISK_PERCENT: '100' },
    });
    viewer = await t.signIn('viewer');
    user = await t.signIn('user');
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('serves current values and full-resolution history; the user role may not see them', async () => {
    await sleep(1500);
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/server/metrics?from=-60', headers: viewer.headers });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.current.memory.totalBytes).toBe(Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]) * 1024);
    expect(Math.abs(body.current.memory.usedPercent - memUsedPercentNow())).toBeLessThan(3);
    expect(body.history.length).toBeGreaterThanOrEqual(3);
    const ats = body.history.map((p: { at: number }) => p.at);
    expect([...ats].sort((a, b) => a - b)).toEqual(ats);
    expect(body.step).toBe(300);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/server/metrics', headers: user.headers })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/server/metrics?host=nope', headers: viewer.headers })).statusCode).toBe(404);
  });

  it('streams samples over WebSocket and SSE', async () => {
    const ws = new WebSocket(`ws://${base}/api/v1/server/metrics/ws`, ['slipway.v1', `bearer.${viewer.token}`]);
    const ats: number[] = [];
    ws.on('message', (m) => ats.push((JSON.parse(String(m)) as { sample: { at: number } }).sample.at));
    await sleep(1200);
    ws.close();
    expect(ats.length).toBeGreaterThanOrEqual(3);
    expect(new Set(ats).size).toBe(ats.length);

    const controller = new AbortController();
    const res = await fetch(`http://${base}/api/v1/server/metrics/stream`, { headers: viewer.headers, signal: controller.signal });
    const reader = res.body!.getReader();
    let text = '';
    while ((text.match(/event: sample/g) ?? []).length < 2) text += Buffer.from((await reader.read()).value!).toString();
    controller.abort();
    expect(text).toMatch(/id: \d+\nevent: sample\ndata: \{"at":/);

    // Resuming with Last-Event-ID replays the samples missed since then, in order.
    const firstId = Number(/id: (\d+)/.exec(text)![1]);
    await sleep(1000);
    const resume = new AbortController();
    const again = await fetch(`http://${base}/api/v1/server/metrics/stream`, { headers: { ...viewer.headers, 'last-event-id': String(firstId) }, signal: resume.signal });
    const r2 = again.body!.getReader();
    let text2 = '';
    while ((text2.match(/event: sample/g) ?? []).length < 3) text2 += Buffer.from((await r2.read()).value!).toString();
    resume.abort();
    const ids = [...text2.matchAll(/id: (\d+)/g)].map((m) => Number(m[1]));
    expect(ids[0]).toBeGreaterThan(firstId);
    expect(ids[0]! - firstId).toBeLessThan(1000); // the very next sample, not only the newest
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
  });

  it('raises the memory alert as an event and shows it in the overview', async () => {
    const overview = await t.app.inject({ method: 'GET', url: '/api/v1/system/overview', headers: viewer.headers });
    expect(overview.statusCode, overview.body).toBe(200);
    const o = overview.json();
    expect(o.alerts).toEqual([expect.objectContaining({ id: 'local:memory:ram', kind: 'memory', hostId: 'local' })]);
    expect(o.hosts[0]).toMatchObject({ id: 'local', sampler: { state: 'ok' } });
    expect(o.hosts[0].metrics.cores).toBeGreaterThan(0);
    expect(o.totals.memoryTotalBytes).toBeGreaterThan(0);
    expect(o.totals.diskTotalBytes).toBeGreaterThan(0);
    expect(o.jobs).toEqual({ queued: 0, running: 0, failedLastDay: 0 });
    expect(t.services.events.since(0).some((e) => e.type === 'server.alert.raised' && e.data?.kind === 'memory')).toBe(true);
  });

  it('keeps 1-minute averages in the database, serves older history from there, prunes after the retention', async () => {
    const db = t.services.database.db.withTables<ServerTables>();
    const now = Date.now();
    // Two minutes three hours ago, inside one 5-minute bucket.
    const bucket = Math.floor((now - 3 * 3_600_000) / 300_000) * 300_000;
    const data = (cpu: number) => JSON.stringify({ cpuPercent: cpu, load1: 0, memUsedPercent: 50, swapUsedPercent: 0, netRxBytesPerSec: 0, netTxBytesPerSec: 0, diskReadBytesPerSec: 0, diskWriteBytesPerSec: 0, diskMaxUsedPercent: 10 });
    await db.insertInto('server_metrics_minute').values([
      { host_id: 'local', at: bucket, data: data(10) },
      { host_id: 'local', at: bucket + 60_000, data: data(30) },
      { host_id: 'local', at: now - 8 * 86_400_000, data: data(99) },
    ]).execute();
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/server/metrics?from=${bucket - 60_000}&to=${bucket + 240_000}&step=300000`, headers: viewer.headers });
    const h = res.json().history as { at: number; cpuPercent: number }[];
    expect(h).toEqual([expect.objectContaining({ at: bucket, cpuPercent: 20 })]);

    const old = await t.app.inject({ method: 'GET', url: `/api/v1/server/metrics?from=${now - 9 * 86_400_000}&to=${now - 7.5 * 86_400_000}`, headers: viewer.headers });
    expect(old.json().history).toHaveLength(1);
    // The module prunes on start and hourly; the 8-day-old row goes, the 3-hour-old rows stay.
    const { MetricsService } = await import('./metrics.service.js');
    const svc = new MetricsService(db, t.services.hosts, t.services.events, { intervalMs: 1000, retentionDays: 7, thresholds: { diskPercent: 90, memoryPercent: 90, loadMinutes: 5 } }, { warn: () => {} });
    expect(await svc.prune(now)).toBe(1);
    const rows = await db.selectFrom('server_metrics_minute').select('at').where('at', '<', now - 3_600_000).execute();
    expect(rows).toHaveLength(2);
  });
});
