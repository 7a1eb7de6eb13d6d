import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type SignedIn, type TestApp } from '../../../server/src/testing/harness.js';
import { readLiveLog } from '../../../server/src/testing/sse-client.js';
import { moduleById } from '../../../server/src/testing/index.js';
import { createAppsModule } from './index.js';
import { testResolver } from './test-fixtures/apps-harness.js';
import { createFakeDokku, type FakeDokku } from './test-fixtures/fake-dokku.js';

const serverModule = moduleById('server');

/**
 * An app's live output (`dokku logs <app> -t`) is a command log source: it appears in the server
 * module's log viewer next to files and journals, streams in the live-log wire format, and a
 * reconnect never re-sends a line it delivered (cursors are the lines' own timestamps).
 */
describe('apps: live app logs in the server log viewer (fake dokku)', () => {
  let t: TestApp;
  let fake: FakeDokku;
  let user: SignedIn;
  let admin: SignedIn;
  let base: string;

  beforeAll(async () => {
    fake = createFakeDokku({ images: ['nginx:1.26'], logIntervalMs: 150 });
    t = await createTestApp({
      modules: [serverModule, createAppsModule({ resolve: testResolver })],
      env: { SLIPWAY_APPS_DOKKU_BIN: fake.bin, SLIPWAY_APPS_REFRESH_INTERVAL_SECONDS: '0' },
    });
    user = await t.signIn('user');
    admin = await t.signIn('admin');
    const created = await t.app.inject({ method: 'POST', url: '/api/v1/apps', headers: user.headers, payload: { name: 'shop' } });
    expect(created.statusCode, created.body).toBe(201);
    const dep = await t.app.inject({ method: 'POST', url: '/api/v1/apps/shop/deploys', headers: user.headers, payload: { image: 'nginx:1.26' } });
    expect(dep.statusCode, dep.body).toBe(202);
    expect((await t.services.jobs.waitFor(dep.json().job.id, 60_000)).state).toBe('succeeded');
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}/api/v1`;
  }, 90_000);
  afterAll(async () => {
    await t?.close();
    fake?.cleanup();
  });

  it('lists each app as a `command` source for staff; a user cannot open the server log viewer at all', async () => {
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/server/logs?host=local', headers: admin.headers });
    expect(list.statusCode).toBe(200);
    expect(list.json().items).toContainEqual({ id: 'app:local:shop', title: 'shop (app)', kind: 'command', command: 'dokku logs shop -t', available: true });
    for (const url of ['/api/v1/server/logs?host=local', '/api/v1/server/logs/app:local:shop?host=local', '/api/v1/server/logs/app:local:shop/stream?host=local']) {
      const res = await t.app.inject({ method: 'GET', url, headers: user.headers });
      expect(res.statusCode, url).toBe(403);
    }
    const viewer = await t.signIn('viewer');
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/server/logs?host=local', headers: viewer.headers })).statusCode).toBe(403);
    // An app that does not exist is a 404, not a command run with a name from the request.
    const calls = fake.calls().length;
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/server/logs/app:local:nope/stream?host=local', headers: admin.headers })).statusCode).toBe(404);
    expect(fake.calls().length).toBe(calls);
  });

  it('tails and follows `dokku logs <app> -t`; a reconnect sends only newer lines, never one twice', async () => {
    const tail = await t.app.inject({ method: 'GET', url: '/api/v1/server/logs/app:local:shop?host=local&lines=2', headers: admin.headers });
    expect(tail.statusCode, tail.body).toBe(200);
    expect(tail.json().items).toHaveLength(2);
    expect(tail.json().items[0].text).toMatch(/app\[web\.1\]: GET \/health/);

    const url = `${base}/server/logs/app:local:shop/stream?host=local&lines=3`;
    const first = await readLiveLog(url, { headers: admin.headers, idleMs: 3000, stopWhen: (r) => r.lines.length >= 5 });
    expect(first.status).toBe(200);
    expect(first.lines.length).toBe(5);
    expect(first.lines.every((l) => /^t\d+\.(\d+|\*)$/.test(l.id))).toBe(true);
    expect(fake.calls().some((c) => c.join(' ') === 'logs shop --tail --num 3')).toBe(true);

    const second = await readLiveLog(url, { headers: admin.headers, lastEventId: first.lastId, idleMs: 3000, stopWhen: (r) => r.lines.length >= 3 });
    // The reconnect asked for a window of past lines and dropped everything at or before the cursor.
    expect(fake.calls().some((c) => c.join(' ') === 'logs shop --tail --num 1000')).toBe(true);
    const stamp = (id: string) => BigInt(/^t(\d+)/.exec(id)![1]!);
    const lastNs = stamp(first.lastId!);
    expect(second.lines.length).toBe(3);
    expect(second.lines.every((l) => stamp(l.id) > lastNs)).toBe(true);
    const seen = new Set(first.lines.map((l) => l.line));
    expect(second.lines.filter((l) => seen.has(l.line))).toEqual([]);
  }, 30_000);
});
