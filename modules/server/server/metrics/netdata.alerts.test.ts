import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type SignedIn, type TestApp } from '../../../../server/src/testing/harness.js';
import { serverModule } from '../index.js';
import { AlertEvaluator } from './alerts.js';
import { NetdataClient, localNetdataFetch, type NetdataFetch } from './netdata.client.js';
import type { MetricSample } from './proc-parser.js';

describe('Netdata (the real agent on 127.0.0.1:19999)', () => {
  let t: TestApp;
  let viewer: SignedIn;
  beforeAll(async () => {
    t = await createTestApp({ modules: [serverModule] });
    viewer = await t.signIn('viewer');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('detects API v1 on Debian\'s 1.37 and reads system.cpu', async () => {
    const client = new NetdataClient(localNetdataFetch('http://127.0.0.1:19999'));
    const info = await client.detect();
    expect(info.apiVersion).toBe(1);
    expect(info.agentVersion).toMatch(/^v?1\./);
    const s = await client.data('system.cpu', 30, 10);
    expect(s.labels).toEqual(expect.arrayContaining(['user', 'system', 'iowait']));
    expect(s.points.length).toBeGreaterThan(0);
    expect(s.points.at(-1)!.at).toBeGreaterThan(Date.now() - 60_000);
    expect(s.points.at(-1)!.at).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('proxies charts through the API and rejects chart ids that could alter the URL', async () => {
    const ok = await t.app.inject({ method: 'GET', url: '/api/v1/server/netdata?chart=system.load&seconds=30&points=5', headers: viewer.headers });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ apiVersion: 1, chart: 'system.load', labels: ['load1', 'load5', 'load15'] });
    const info = await t.app.inject({ method: 'GET', url: '/api/v1/server/netdata/info', headers: viewer.headers });
    expect(info.json()).toMatchObject({ available: true, apiVersion: 1 });
    for (const chart of ['system.cpu&after=-99999', '../api/v1/info', 'a b']) {
      const bad = await t.app.inject({ method: 'GET', url: `/api/v1/server/netdata?chart=${encodeURIComponent(chart)}`, headers: viewer.headers });
      expect(bad.statusCode).toBe(400);
    }
  });

  it('prefers v3 when an agent serves it and reads its json2 result (labels + [value, anomaly, annotations] cells)', async () => {
    const asked: string[] = [];
    // Shape of /api/v3/data?format=json2 per Netdata's API reference (result.labels / result.data).
    const fetcher: NetdataFetch = async (p) => {
      asked.push(p);
      if (p === '/api/v3/info') return { status: 200, body: JSON.stringify({ agents: [{ version: 'v2.0.0' }] }) };
      if (p.startsWith('/api/v3/data')) return { status: 200, body: JSON.stringify({ result: { labels: ['time', 'user', 'system'], data: [[1700000010, [3.5, 0, 0], [1.5, 0, 0]], [1700000000, [2, 0, 0], [1, 0, 0]]] } }) };
      return { status: 404, body: 'Unsupported API version' };
    };
    const c = new NetdataClient(fetcher);
    expect(await c.detect()).toEqual({ apiVersion: 3, agentVersion: 'v2.0.0' });
    const s = await c.data('system.cpu', 60, 2);
    expect(s).toEqual({ apiVersion: 3, chart: 'system.cpu', labels: ['user', 'system'], points: [{ at: 1700000000000, values: [2, 1] }, { at: 1700000010000, values: [3.5, 1.5] }] });
    expect(asked.at(-1)).toMatch(/^\/api\/v3\/data\?scope_contexts=system\.cpu&contexts=system\.cpu&after=-60&points=2/);
  });
});

describe('alert thresholds', () => {
  const sample = (at: number, o: { mem?: number; load?: number; disk?: number }): MetricSample => ({
    at, intervalMs: 5000,
    cpu: { percent: 0, user: 0, system: 0, iowait: 0, steal: 0, perCore: [0, 0], cores: 2 },
    load: { load1: o.load ?? 0, load5: 0, load15: 0 },
    memory: { totalBytes: 100, usedBytes: o.mem ?? 0, availableBytes: 100 - (o.mem ?? 0), usedPercent: o.mem ?? 0, swapTotalBytes: 0, swapUsedBytes: 0, swapUsedPercent: 0 },
    disks: [{ mount: '/var', device: '/dev/vda1', fstype: 'ext4', totalBytes: 100, usedBytes: o.disk ?? 0, availableBytes: 100 - (o.disk ?? 0), usedPercent: o.disk ?? 0 }],
    diskIo: [], network: [], uptimeSeconds: 1,
  });

  it('fires disk and memory above 90 % at once, load only after 5 minutes above the core count, and clears', () => {
    const a = new AlertEvaluator('h1', { diskPercent: 90, memoryPercent: 90, loadMinutes: 5 });
    const t0 = 1_000_000;
    expect(a.evaluate(sample(t0, { mem: 90, disk: 90 })).raised).toEqual([]);
    expect(a.evaluate(sample(t0 + 5000, { mem: 91, disk: 95 })).raised.map((x) => x.id).sort()).toEqual(['h1:disk:/var', 'h1:memory:ram']);
    expect(a.evaluate(sample(t0 + 10_000, { load: 3 })).cleared.map((x) => x.kind).sort()).toEqual(['disk', 'memory']);
    expect(a.evaluate(sample(t0 + 4 * 60_000, { load: 3 })).raised).toEqual([]);
    const r = a.evaluate(sample(t0 + 10_000 + 5 * 60_000, { load: 3 }));
    expect(r.raised).toEqual([expect.objectContaining({ id: 'h1:load:load1', value: 3, threshold: 2 })]);
    // a dip below resets the 5-minute window
    expect(a.evaluate(sample(t0 + 6 * 60_000, { load: 1 })).cleared).toHaveLength(1);
    expect(a.evaluate(sample(t0 + 7 * 60_000, { load: 3 })).raised).toEqual([]);
    expect(a.list()).toEqual([]);
  });
});
