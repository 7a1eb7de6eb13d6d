import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { createTestDatabase, type TestDatabase } from '../../../server/src/testing/test-db.js';
import { SYSTEM_ACTOR } from '../../../server/src/platform/rbac/permissions.js';
import type { PublishedEvent } from '../../../server/src/platform/events/event-bus.js';
import type { HttpApp } from '../../../server/src/platform/module.js';
import type { CreateService } from './containers.schema.js';
import { CreateService as CreateServiceSchema } from './containers.schema.js';
import type { ContainersRuntime } from './index.js';
import { BUSYBOX_IMAGE, NODE_WS_COMMAND, ensureBusyboxImage, ensureNodeWsImage } from './test-fixtures/images.js';
import { cleanupNamespace, startPanel, testEnv, viaCaddy } from './test-fixtures/panel.js';

// Real Docker and real Caddy (scripts/provision-test-host.sh). One panel per file, its own Caddy server.
describe.sequential('containers: wake on request, sleep when idle (Docker + Caddy)', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let namespace: string;
  let httpPort: number;
  let app: HttpApp;
  let rt: ContainersRuntime;
  let nodeImage: string;
  const events: PublishedEvent[] = [];
  let unsubscribe: () => void = () => {};

  beforeAll(async () => {
    await ensureBusyboxImage();
    nodeImage = await ensureNodeWsImage();
    db = await createTestDatabase();
    ({ env, namespace, httpPort } = await testEnv());
    ({ app, rt } = await startPanel({ database: db.database, dataDir: db.dataDir, env }));
    unsubscribe = app.slipway.events.subscribe((e) => events.push(e));
  }, 120_000);

  afterAll(async () => {
    unsubscribe();
    await app?.close();
    await cleanupNamespace(namespace);
    await db?.cleanup();
  }, 60_000);

  const uniq = () => Math.random().toString(36).slice(2, 8);

  async function createService(input: Partial<CreateService> & { name: string; containers: CreateService['containers'] }) {
    const parsed = CreateServiceSchema.parse({ hostnames: [`${input.name}.localhost`], stopTimeoutSeconds: 1, ...input });
    const { service, job } = await rt.service.create(SYSTEM_ACTOR, parsed);
    const done = await app.slipway.jobs.waitFor(job.id, 60_000);
    expect(done.error).toBeNull();
    expect(done.state).toBe('succeeded');
    return service;
  }

  const busybox = (body: string) => ({
    name: 'web',
    image: BUSYBOX_IMAGE,
    // The service's own body, so the test can tell it from anything the panel serves.
    command: ['/bin/sh', '-c', `mkdir -p /srv && echo "${body}" > /srv/index.html && exec httpd -f -p 80 -h /srv`],
  });

  async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('a sleeping service woken by an API request through Caddy answers with its own body', async () => {
    const name = `wake-${uniq()}`;
    const svc = await createService({ name, containers: [busybox(`body of ${name}`) as never], sleep: { mode: 'stop', idleTimeoutSeconds: 600 } });
    expect(rt.controller.state(svc.id)).toBe('sleeping');
    expect((await rt.docker.inspect(`slw-${name}-web`))?.running).toBe(false);
    expect(await rt.caddy.routeDial(rt.controller.routeId(svc.id))).toBe(rt.activator.dial);

    const res = await viaCaddy(httpPort, `${name}.localhost`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.body.trim()).toBe(`body of ${name}`);
    expect(rt.controller.state(svc.id)).toBe('running');
    // Warm path: Caddy now routes straight to the container, not through the panel.
    const port = rt.controller.upstreamPort(svc.id);
    expect(await rt.caddy.routeDial(rt.controller.routeId(svc.id))).toBe(`127.0.0.1:${port}`);
    const warm = await viaCaddy(httpPort, `${name}.localhost`);
    expect(warm.status).toBe(200);
    expect(warm.body.trim()).toBe(`body of ${name}`);

    const wakes = await rt.service.wakes(SYSTEM_ACTOR, svc.id, 10);
    expect(wakes).toHaveLength(1);
    expect(wakes[0]).toMatchObject({ outcome: 'ready', trigger: 'request' });
    expect(wakes[0]!.startToReadyMs).toBeGreaterThanOrEqual(0);
    await waitFor('first byte recorded', async () => (await rt.service.wakes(SYSTEM_ACTOR, svc.id, 1))[0]?.firstByteMs !== null);
    expect(events.some((e) => e.type === 'container.woke' && e.resource?.id === svc.id)).toBe(true);
    const metrics = await app.slipway.metrics.registry.metrics();
    expect(metrics).toMatch(new RegExp(`slipway_containers_wakes_total\\{service="${name}",outcome="ready"\\} 1`));
  });

  it('a browser gets the waiting page at once, a pushed ready signal, then the service', async () => {
    const name = `page-${uniq()}`;
    const svc = await createService({ name, containers: [{ name: 'web', image: nodeImage, command: NODE_WS_COMMAND, env: [{ name: 'BODY', value: `page of ${name}`, secret: false }, { name: 'START_DELAY_MS', value: '700', secret: false }] } as never], sleep: { mode: 'stop', idleTimeoutSeconds: 600 } });
    const first = await viaCaddy(httpPort, `${name}.localhost`, { headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(first.status).toBe(503);
    expect(first.headers['retry-after']).toBeDefined();
    expect(first.body).toContain('Waking up');
    expect(first.body).toContain("new EventSource('/.slipway/wake-events')");
    expect(first.ttfbMs).toBeLessThan(500); // at once, not after the start
    expect(first.body).not.toContain(`page of ${name}`);

    const signal = await viaCaddy(httpPort, `${name}.localhost`, { path: '/.slipway/wake-events', headers: { accept: 'text/event-stream' } });
    expect(signal.body).toContain('event: ready');
    expect(rt.controller.state(svc.id)).toBe('running');
    const after = await viaCaddy(httpPort, `${name}.localhost`, { headers: { accept: 'text/html' } });
    expect(after.status).toBe(200);
    expect(after.body).toBe(`page of ${name}`);
  });

  it('a real browser (Chromium) sees the waiting page, then the service without a manual reload', async () => {
    const name = `chrome-${uniq()}`;
    await createService({ name, containers: [{ name: 'web', image: nodeImage, command: NODE_WS_COMMAND, env: [{ name: 'BODY', value: `<h1>browser ${name}</h1>`, secret: false }, { name: 'START_DELAY_MS', value: '1000', secret: false }] } as never], sleep: { mode: 'stop', idleTimeoutSeconds: 600 } });
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    try {
      const page = await browser.newPage();
      // Chromium resolves *.localhost to loopback, so the Host header is the service's hostname.
      await page.goto(`http://${name}.localhost:${httpPort}/`);
      expect(await page.textContent('body')).toContain('Waking up');
      await page.waitForFunction((n) => document.body.innerText.includes(`browser ${n}`), name, { timeout: 20_000 });
      expect(await page.textContent('h1')).toBe(`browser ${name}`);
    } finally {
      await browser.close();
    }
  });

  it('a group starts in dependency order; containers reach each other by name', async () => {
    const name = `group-${uniq()}`;
    const svc = await createService({
      name,
      containers: [
        { name: 'app', image: BUSYBOX_IMAGE, dependsOn: ['db'], command: ['/bin/sh', '-c', 'wget -q -O /www/index.html http://db:5000/ && exec httpd -f -p 80 -h /www'] },
        { name: 'db', image: BUSYBOX_IMAGE, command: ['/bin/sh', '-c', `echo "data from db of ${name}" > /www/index.html && exec httpd -f -p 5000 -h /www`], healthCheck: { type: 'docker', test: ['CMD', '/bin/wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:5000/'], intervalMs: 200, retries: 50 } },
      ] as never,
      http: { container: 'app', port: 80 },
      sleep: { mode: 'stop', idleTimeoutSeconds: 600 },
    });
    const res = await viaCaddy(httpPort, `${name}.localhost`);
    expect(res.status).toBe(200);
    // The app fetched its page from the db container at start: only possible if db was up first.
    expect(res.body.trim()).toBe(`data from db of ${name}`);
    await rt.controller.sleep(svc.id, 'test');
    expect((await rt.docker.inspect(`slw-${name}-db`))?.running).toBe(false);
    expect((await rt.docker.inspect(`slw-${name}-app`))?.running).toBe(false);
  });

  it('pause mode pauses instead of stopping, and unpauses on the next request', async () => {
    const name = `pause-${uniq()}`;
    const svc = await createService({ name, containers: [busybox(`paused ${name}`) as never], sleep: { mode: 'pause', idleTimeoutSeconds: 1 } });
    expect((await viaCaddy(httpPort, `${name}.localhost`)).status).toBe(200);
    await waitFor('pause', () => rt.controller.state(svc.id) === 'sleeping', 10_000);
    const s = await rt.docker.inspect(`slw-${name}-web`);
    expect(s?.paused).toBe(true);
    const again = await viaCaddy(httpPort, `${name}.localhost`);
    expect(again.body.trim()).toBe(`paused ${name}`);
    expect((await rt.docker.inspect(`slw-${name}-web`))?.paused).toBe(false);
  });

  it('concurrent first requests start the service once and all get its body', async () => {
    const name = `herd-${uniq()}`;
    const svc = await createService({ name, containers: [busybox(`herd ${name}`) as never], sleep: { mode: 'stop', idleTimeoutSeconds: 600 } });
    const results = await Promise.all(Array.from({ length: 20 }, () => viaCaddy(httpPort, `${name}.localhost`)));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    for (const r of results) expect(r.body.trim()).toBe(`herd ${name}`);
    const wakes = await rt.service.wakes(SYSTEM_ACTOR, svc.id, 10);
    expect(wakes).toHaveLength(1);
    expect((await rt.service.get(SYSTEM_ACTOR, svc.id)).wakeCount).toBe(1);
  });

  it('an idle service is stopped, its route switched back to the activator first', async () => {
    const name = `idle-${uniq()}`;
    const svc = await createService({ name, containers: [busybox(`idle ${name}`) as never], sleep: { mode: 'stop', idleTimeoutSeconds: 1 } });
    expect((await viaCaddy(httpPort, `${name}.localhost`)).status).toBe(200);
    expect(rt.controller.state(svc.id)).toBe('running');
    await waitFor('sleep', () => rt.controller.state(svc.id) === 'sleeping', 10_000);
    expect((await rt.docker.inspect(`slw-${name}-web`))?.running).toBe(false);
    expect(await rt.caddy.routeDial(rt.controller.routeId(svc.id))).toBe(rt.activator.dial);
    expect(events.some((e) => e.type === 'container.slept' && e.resource?.id === svc.id)).toBe(true);
    const view = await rt.service.get(SYSTEM_ACTOR, svc.id);
    expect(view.sleepCount).toBe(1);
    // And it wakes again on the next request.
    const again = await viaCaddy(httpPort, `${name}.localhost`);
    expect(again.body.trim()).toBe(`idle ${name}`);
  });

  it('an open WebSocket keeps the service awake past its idle timeout', async () => {
    const name = `ws-${uniq()}`;
    const svc = await createService({ name, containers: [{ name: 'web', image: nodeImage, command: NODE_WS_COMMAND } as never], sleep: { mode: 'stop', idleTimeoutSeconds: 1 } });
    // Wake first, so the socket goes through Caddy straight to the container (the warm path).
    expect((await viaCaddy(httpPort, `${name}.localhost`)).status).toBe(200);
    const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/`, { headers: { host: `${name}.localhost` } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const echo = new Promise<string>((resolve) => ws.once('message', (m) => resolve(String(m))));
    ws.send('ping');
    expect(await echo).toBe('ping');
    await new Promise((r) => setTimeout(r, 3000)); // three idle timeouts
    expect(rt.controller.state(svc.id)).toBe('running');
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
    await waitFor('sleep after the socket closed', () => rt.controller.state(svc.id) === 'sleeping', 10_000);
  });

  it('a WebSocket opened to a sleeping service wakes it and connects', async () => {
    const name = `wsc-${uniq()}`;
    const svc = await createService({ name, containers: [{ name: 'web', image: nodeImage, command: NODE_WS_COMMAND } as never], sleep: { mode: 'stop', idleTimeoutSeconds: 1 } });
    const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/`, { headers: { host: `${name}.localhost` } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const echo = new Promise<string>((resolve) => ws.once('message', (m) => resolve(String(m))));
    ws.send('hello');
    expect(await echo).toBe('hello');
    await new Promise((r) => setTimeout(r, 2500));
    expect(rt.controller.state(svc.id)).toBe('running');
    ws.close();
  });

  it('a failing container gives 503 with the reason, never 200', async () => {
    const name = `fail-${uniq()}`;
    const svc = await createService({ name, containers: [{ name: 'web', image: nodeImage, command: NODE_WS_COMMAND, env: [{ name: 'FAIL', value: 'database unreachable', secret: false }] } as never], sleep: { mode: 'stop', idleTimeoutSeconds: 600 } });
    const res = await viaCaddy(httpPort, `${name}.localhost`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(503);
    const body = JSON.parse(res.body) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('wake_failed');
    expect(body.error.message).toContain('exited with code 3');
    expect(body.error.message).toContain('database unreachable');
    expect(rt.controller.state(svc.id)).toBe('failed');
    const browser = await viaCaddy(httpPort, `${name}.localhost`, { headers: { accept: 'text/html' } });
    expect(browser.status).toBe(503);
    expect(browser.body).toContain('database unreachable');
    const view = await rt.service.get(SYSTEM_ACTOR, svc.id);
    expect(view.lastError).toContain('exited with code 3');
  });

  it('a restart of the panel keeps routes and states', async () => {
    const awake = `keep-${uniq()}`;
    const asleep = `nap-${uniq()}`;
    const a = await createService({ name: awake, containers: [busybox(`awake ${awake}`) as never], sleep: { mode: 'stop', idleTimeoutSeconds: 600 } });
    const b = await createService({ name: asleep, containers: [busybox(`asleep ${asleep}`) as never], sleep: { mode: 'stop', idleTimeoutSeconds: 600 } });
    expect((await viaCaddy(httpPort, `${awake}.localhost`)).status).toBe(200);
    const port = rt.controller.upstreamPort(a.id);

    await app.close();
    // While the panel is down, the awake service is still served by Caddy alone.
    const during = await viaCaddy(httpPort, `${awake}.localhost`);
    expect(during.body.trim()).toBe(`awake ${awake}`);

    ({ app, rt } = await startPanel({ database: db.database, dataDir: db.dataDir, env }));
    expect(rt.controller.state(a.id)).toBe('running');
    expect(rt.controller.upstreamPort(a.id)).toBe(port);
    expect(rt.controller.state(b.id)).toBe('sleeping');
    expect(await rt.caddy.routeDial(rt.controller.routeId(b.id))).toBe(rt.activator.dial);
    expect((await viaCaddy(httpPort, `${awake}.localhost`)).body.trim()).toBe(`awake ${awake}`);
    expect((await viaCaddy(httpPort, `${asleep}.localhost`)).body.trim()).toBe(`asleep ${asleep}`);
  });

  it('a container stopped outside Slipway is noticed and its route follows', async () => {
    const name = `ext-${uniq()}`;
    const svc = await createService({ name, containers: [busybox(`ext ${name}`) as never], sleep: { mode: 'stop', idleTimeoutSeconds: 600 } });
    expect((await viaCaddy(httpPort, `${name}.localhost`)).status).toBe(200);
    await rt.docker.stop(`slw-${name}-web`, 1);
    await waitFor('state follows docker', () => rt.controller.state(svc.id) === 'sleeping', 10_000);
    expect(await rt.caddy.routeDial(rt.controller.routeId(svc.id))).toBe(rt.activator.dial);
    // Never a 502: the next request wakes it.
    const res = await viaCaddy(httpPort, `${name}.localhost`);
    expect(res.status).toBe(200);
  });
});
