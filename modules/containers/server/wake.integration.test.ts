import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { createTestDatabase, type TestDatabase } from '../../../server/src/testing/test-db.js';
import { type HttpApp, type PublishedEvent, SYSTEM_ACTOR } from '../../../server/src/testing/index.js';
import type { CreateService } from './containers.schema.js';
import { CreateService as CreateServiceSchema } from './containers.schema.js';
import { createTestApp, type SignedIn, type TestApp } from '../../../server/src/testing/harness.js';
import { createContainersModule, type ContainersRuntime } from './index.js';
import { BUSYBOX_IMAGE, NODE_WS_COMMAND, ensureBusyboxImage, ensureNodeWsImage } from './test-fixtures/images.js';
import { cleanupNamespace, startPanel, testEnv, viaCaddy } from './test-fixtures/panel.js';

// Real Docker and real Caddy (scripts/provision-test-host.sh); each panel has its own Caddy server.
// One file on purpose: Caddy 2.6 closes proxied WebSockets on every config reload, so the API tests
// (which reload Caddy) must not run alongside the WebSocket scenarios.
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

  const fixedPort = async (serviceId: string) => Number((await rt.docker.inspect(`slw-${serviceId}-web`))!.labels['slipway.http-port']);

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
    expect((await rt.docker.inspect(`slw-${svc.id}-web`))?.running).toBe(false);
    // One route for asleep and awake: the container's fixed port first, the activator behind it.
    const fixed = await fixedPort(svc.id);
    const route = [`127.0.0.1:${fixed}`, rt.activator.dial];
    expect(await rt.caddy.routeUpstreams(rt.controller.routeId(svc.id))).toEqual(route);

    const res = await viaCaddy(httpPort, `${name}.localhost`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.body.trim()).toBe(`body of ${name}`);
    await rt.controller.settled(svc.id);
    expect(rt.controller.state(svc.id)).toBe('running');
    const port = rt.controller.upstreamPort(svc.id);
    expect(port).toBe(fixed);
    expect(await rt.caddy.routeUpstreams(rt.controller.routeId(svc.id))).toEqual(route); // not rewritten
    // Warm path: once Caddy's 1 s mark on the refused dial is over, straight to the container, not through the panel.
    await new Promise((r) => setTimeout(r, 1100));
    const seen = rt.activator.requests;
    const warm = await viaCaddy(httpPort, `${name}.localhost`);
    expect(warm.status).toBe(200);
    expect(warm.body.trim()).toBe(`body of ${name}`);
    expect(rt.activator.requests).toBe(seen);

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
    await createService({ name, containers: [{ name: 'web', image: nodeImage, command: NODE_WS_COMMAND, env: [{ name: 'BODY', value: `browser ${name}`, secret: false }, { name: 'START_DELAY_MS', value: '1000', secret: false }] } as never], sleep: { mode: 'stop', idleTimeoutSeconds: 600 } });
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    try {
      const page = await browser.newPage();
      // Chromium resolves *.localhost to loopback, so the Host header is the service's hostname.
      await page.goto(`http://${name}.localhost:${httpPort}/`);
      expect(await page.textContent('body')).toContain('Waking up');
      await page.waitForFunction((n) => (globalThis as unknown as { document: { body: { innerText: string } } }).document.body.innerText.includes(`browser ${n}`), name, { timeout: 20_000 });
      const text = await page.textContent('body');
      expect(text?.trim()).toBe(`browser ${name}`); // the service's own body, the waiting page is gone
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
    expect((await rt.docker.inspect(`slw-${svc.id}-db`))?.running).toBe(false);
    expect((await rt.docker.inspect(`slw-${svc.id}-app`))?.running).toBe(false);
  });

  it('pause mode pauses instead of stopping, and unpauses on the next request', async () => {
    const name = `pause-${uniq()}`;
    const svc = await createService({ name, containers: [busybox(`paused ${name}`) as never], sleep: { mode: 'pause', idleTimeoutSeconds: 1 } });
    expect((await viaCaddy(httpPort, `${name}.localhost`)).status).toBe(200);
    await waitFor('pause', () => rt.controller.state(svc.id) === 'sleeping', 10_000);
    const s = await rt.docker.inspect(`slw-${svc.id}-web`);
    expect(s?.paused).toBe(true);
    const again = await viaCaddy(httpPort, `${name}.localhost`);
    expect(again.body.trim()).toBe(`paused ${name}`);
    expect((await rt.docker.inspect(`slw-${svc.id}-web`))?.paused).toBe(false);
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

  it('an idle service is stopped; its one route then leads to the activator without a reload', async () => {
    const name = `idle-${uniq()}`;
    const svc = await createService({ name, containers: [busybox(`idle ${name}`) as never], sleep: { mode: 'stop', idleTimeoutSeconds: 1 } });
    expect((await viaCaddy(httpPort, `${name}.localhost`)).status).toBe(200);
    await rt.controller.settled(svc.id);
    expect(rt.controller.state(svc.id)).toBe('running');
    await waitFor('sleep', () => rt.controller.state(svc.id) === 'sleeping', 10_000);
    expect((await rt.docker.inspect(`slw-${svc.id}-web`))?.running).toBe(false);
    expect(await rt.caddy.routeUpstreams(rt.controller.routeId(svc.id))).toEqual([`127.0.0.1:${await fixedPort(svc.id)}`, rt.activator.dial]);
    expect(events.some((e) => e.type === 'container.slept' && e.resource?.id === svc.id)).toBe(true);
    const view = await rt.service.get(SYSTEM_ACTOR, svc.id);
    expect(view.sleepCount).toBe(1);
    // And it wakes again on the next request.
    const again = await viaCaddy(httpPort, `${name}.localhost`);
    expect(again.body.trim()).toBe(`idle ${name}`);
  });

  it('steady warm traffic never sleeps, no traffic sleeps on time; Caddy writes no line per request', async () => {
    const name = `busy-${uniq()}`;
    const svc = await createService({ name, containers: [busybox(`busy ${name}`) as never], sleep: { mode: 'stop', idleTimeoutSeconds: 2 } });
    expect((await viaCaddy(httpPort, `${name}.localhost`)).status).toBe(200);
    await rt.controller.settled(svc.id);
    const port = rt.controller.upstreamPort(svc.id);
    expect(port).toBeGreaterThan(0);
    // Fresh connections each time (no client keep-alive): activity is Caddy's own upstream connection.
    let last = 0;
    for (let i = 0; i < 16; i++) {
      await new Promise((r) => setTimeout(r, 500));
      expect((await viaCaddy(httpPort, `${name}.localhost`)).status).toBe(200);
      last = Date.now();
    }
    // 8 s of short requests, one every 0.5 s, against a 2 s idle timeout: the same running container.
    expect(rt.controller.state(svc.id)).toBe('running');
    expect(rt.controller.upstreamPort(svc.id)).toBe(port);
    expect((await rt.service.get(SYSTEM_ACTOR, svc.id)).wakeCount).toBe(1);
    await waitFor('sleep once the requests stop', () => rt.controller.state(svc.id) === 'sleeping', 10_000);
    // On time: the idle timeout, plus at most Caddy's upstream keep-alive (1 s here), a sweep and the stop.
    const after = Date.now() - last;
    expect(after).toBeGreaterThanOrEqual(2000);
    expect(after).toBeLessThan(2000 + 1000 + 200 + 2500);
    // Nothing per request: our Caddy server has no access log, and no logger of ours exists.
    const server = (await rt.caddy.getServer())!;
    expect(server.logs).toBeUndefined();
    const logs = (await (await fetch('http://127.0.0.1:2019/config/logging/logs')).json().catch(() => null)) as Record<string, unknown> | null;
    expect(Object.keys(logs ?? {}).filter((k) => k.startsWith(namespace))).toEqual([]);
  });

  it('an open WebSocket keeps the service awake past its idle timeout', async () => {
    const name = `ws-${uniq()}`;
    const svc = await createService({ name, containers: [{ name: 'web', image: nodeImage, command: NODE_WS_COMMAND } as never], sleep: { mode: 'stop', idleTimeoutSeconds: 1 } });
    // Wake first, so the socket goes through Caddy straight to the container (the warm path).
    expect((await viaCaddy(httpPort, `${name}.localhost`)).status).toBe(200);
    await rt.controller.settled(svc.id);
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

  it('an open WebSocket to service A survives service B waking and sleeping (no Caddy reload)', { timeout: 90_000 }, async () => {
    const a = `wsa-${uniq()}`;
    const b = `wsb-${uniq()}`;
    const svcA = await createService({ name: a, containers: [{ name: 'web', image: nodeImage, command: NODE_WS_COMMAND } as never], sleep: { mode: 'stop', idleTimeoutSeconds: 600 } });
    const svcB = await createService({ name: b, containers: [busybox(`b ${b}`) as never], sleep: { mode: 'stop', idleTimeoutSeconds: 600 } });
    expect(rt.controller.reloadFree(svcB.id)).toBe(true);
    expect((await viaCaddy(httpPort, `${a}.localhost`)).status).toBe(200);
    await rt.controller.settled(svcA.id);
    await new Promise((r) => setTimeout(r, 1100)); // Caddy straight to A's container (the warm path)
    const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/`, { headers: { host: `${a}.localhost` } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    let closed: number | null = null;
    ws.once('close', (code) => (closed = code));
    const echo = (m: string) => new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no echo of ${m}`)), 5000);
      ws.once('message', (d) => { clearTimeout(timer); resolve(String(d)); });
      ws.send(m);
    });
    expect(await echo('before')).toBe('before');
    for (let round = 1; round <= 2; round++) {
      const woke = await viaCaddy(httpPort, `${b}.localhost`, { headers: { accept: 'application/json' } });
      expect(woke.body.trim()).toBe(`b ${b}`);
      await rt.controller.settled(svcB.id);
      expect(rt.controller.state(svcB.id)).toBe('running');
      expect(await echo(`after wake ${round}`)).toBe(`after wake ${round}`);
      await rt.controller.sleep(svcB.id, 'test');
      expect(rt.controller.state(svcB.id)).toBe('sleeping');
      expect(await echo(`after sleep ${round}`)).toBe(`after sleep ${round}`);
    }
    expect(closed).toBeNull();
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  });

  it('a WebSocket opened to a sleeping service wakes it and connects', { timeout: 60_000 }, async () => {
    const name = `wsc-${uniq()}`;
    const svc = await createService({ name, containers: [{ name: 'web', image: nodeImage, command: NODE_WS_COMMAND } as never], sleep: { mode: 'stop', idleTimeoutSeconds: 1 } });
    // Debian's Caddy 2.6 closes proxied WebSockets on any config reload (another test's or panel's
    // route change): a client reconnects, so the test does too, at most twice, and the service must
    // have been woken by the first attempt either way.
    const connectAndEcho = () => new Promise<{ ws: WebSocket; echo: string }>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/`, { headers: { host: `${name}.localhost` } });
      const timer = setTimeout(() => { ws.terminate(); reject(new Error('no echo within 15 s')); }, 15_000);
      ws.once('open', () => ws.send('hello'));
      ws.once('message', (m) => { clearTimeout(timer); resolve({ ws, echo: String(m) }); });
      ws.once('close', (code) => { clearTimeout(timer); reject(new Error(`closed with ${code} before the echo`)); });
      ws.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
    let result: { ws: WebSocket; echo: string } | undefined;
    for (let attempt = 1; !result; attempt++) {
      try {
        result = await connectAndEcho();
      } catch (e) {
        if (attempt >= 3) throw e;
      }
    }
    const { ws, echo } = result;
    expect(echo).toBe('hello');
    // Woken and serving. (That an open WebSocket keeps it awake past its idle timeout is the next
    // test's subject; here another test's route change may reload Caddy 2.6 and drop the socket.)
    // The held connection is replayed while Caddy's route still switches: 'waking' until confirmed.
    expect(['waking', 'running']).toContain(rt.controller.state(svc.id));
    ws.close();
  });

  it('a failing container gives its visitors a plain 503, never 200 and never its output; the panel keeps the reason', async () => {
    const name = `fail-${uniq()}`;
    const svc = await createService({ name, containers: [{ name: 'web', image: nodeImage, command: NODE_WS_COMMAND, env: [{ name: 'FAIL', value: 'database unreachable', secret: false }] } as never], sleep: { mode: 'stop', idleTimeoutSeconds: 600 } });
    const res = await viaCaddy(httpPort, `${name}.localhost`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(503);
    const body = JSON.parse(res.body) as { error: { code: string; message: string } };
    // Issue 18, item 6: a short JSON for API clients, a plain page for browsers, nothing of the container's.
    expect(body.error).toEqual({ code: 'service_unavailable', message: 'The service is unavailable right now. Please try again in a few minutes.' });
    expect(rt.controller.state(svc.id)).toBe('failed');
    const browser = await viaCaddy(httpPort, `${name}.localhost`, { headers: { accept: 'text/html' } });
    expect(browser.status).toBe(503);
    expect(browser.body).toContain('<h1>Service unavailable</h1>');
    expect(browser.body).not.toContain('database unreachable');
    expect(browser.body).not.toContain('exited with code');
    const view = await rt.service.get(SYSTEM_ACTOR, svc.id);
    expect(view.lastError).toContain('exited with code 3');
  });

  it('a restart of the panel keeps routes and states', async () => {
    const awake = `keep-${uniq()}`;
    const asleep = `nap-${uniq()}`;
    const a = await createService({ name: awake, containers: [busybox(`awake ${awake}`) as never], sleep: { mode: 'stop', idleTimeoutSeconds: 600 } });
    const b = await createService({ name: asleep, containers: [busybox(`asleep ${asleep}`) as never], sleep: { mode: 'stop', idleTimeoutSeconds: 600 } });
    expect((await viaCaddy(httpPort, `${awake}.localhost`)).status).toBe(200);
    await rt.controller.settled(a.id);
    const port = rt.controller.upstreamPort(a.id);
    // Past Caddy's 1 s mark on the dial the container refused while asleep: Caddy reaches it itself.
    await new Promise((r) => setTimeout(r, 1200));

    await app.close();
    // While the panel is down, the awake service is still served by Caddy alone.
    const during = await viaCaddy(httpPort, `${awake}.localhost`);
    expect(during.body.trim()).toBe(`awake ${awake}`);

    ({ app, rt } = await startPanel({ database: db.database, dataDir: db.dataDir, env }));
    expect(rt.controller.state(a.id)).toBe('running');
    expect(rt.controller.upstreamPort(a.id)).toBe(port);
    expect(rt.controller.state(b.id)).toBe('sleeping');
    expect(await rt.caddy.routeUpstreams(rt.controller.routeId(b.id))).toEqual([`127.0.0.1:${await fixedPort(b.id)}`, rt.activator.dial]);
    expect((await viaCaddy(httpPort, `${awake}.localhost`)).body.trim()).toBe(`awake ${awake}`);
    expect((await viaCaddy(httpPort, `${asleep}.localhost`)).body.trim()).toBe(`asleep ${asleep}`);
  });

  it('containers named the old way (slw-<service name>-<container>) are found by label and renamed at start', async () => {
    const name = `legacy-${uniq()}`;
    const svc = await createService({ name, containers: [busybox(`legacy ${name}`) as never], sleep: { mode: 'stop', idleTimeoutSeconds: 600 } });
    const before = (await rt.docker.inspect(`slw-${svc.id}-web`))!;
    await app.close();
    await rt.docker.rename(before.id, `slw-${name}-web`); // what a panel before service-id names created
    // Someone else's container with a name of the new kind but without our label is left alone.
    const stranger = `slw-${uniq()}-stranger`;
    await rt.docker.docker.createContainer({ name: stranger, Image: BUSYBOX_IMAGE, Cmd: ['true'], Labels: { 'slipway.container': 'web' } });
    try {
      ({ app, rt } = await startPanel({ database: db.database, dataDir: db.dataDir, env }));
      expect(await rt.docker.inspect(`slw-${name}-web`)).toBeNull();
      expect((await rt.docker.inspect(`slw-${svc.id}-web`))?.id).toBe(before.id);
      expect(rt.controller.state(svc.id)).toBe('sleeping');
      expect((await viaCaddy(httpPort, `${name}.localhost`)).body.trim()).toBe(`legacy ${name}`);
      expect(await rt.docker.inspect(stranger)).not.toBeNull();
    } finally {
      await rt.docker.remove(stranger);
    }
  });

  it('a container stopped outside Slipway is noticed and its route follows', async () => {
    const name = `ext-${uniq()}`;
    const svc = await createService({ name, containers: [busybox(`ext ${name}`) as never], sleep: { mode: 'stop', idleTimeoutSeconds: 600 } });
    expect((await viaCaddy(httpPort, `${name}.localhost`)).status).toBe(200);
    await rt.docker.stop(`slw-${svc.id}-web`, 1);
    await waitFor('state follows docker', () => rt.controller.state(svc.id) === 'sleeping', 10_000);
    // The one route stays: the stopped container refuses, Caddy goes on to the activator.
    expect(await rt.caddy.routeUpstreams(rt.controller.routeId(svc.id))).toEqual([`127.0.0.1:${await fixedPort(svc.id)}`, rt.activator.dial]);
    // Never a 502: the next request wakes it.
    const res = await viaCaddy(httpPort, `${name}.localhost`);
    expect(res.status).toBe(200);
    // Stopped and started again outside Slipway: the route goes straight to the new port.
    await rt.docker.stop(`slw-${svc.id}-web`, 1);
    await waitFor('stopped', () => rt.controller.state(svc.id) === 'sleeping', 10_000);
    await rt.docker.start(`slw-${svc.id}-web`);
    await waitFor('started outside', () => rt.controller.state(svc.id) === 'running', 10_000);
    const port = (await rt.docker.inspect(`slw-${svc.id}-web`))!.hostPort(80);
    expect(await rt.caddy.routeDial(rt.controller.routeId(svc.id))).toBe(`127.0.0.1:${port}`);
  });
});

// The HTTP contract of /api/v1/containers against the real Docker engine and Caddy.
describe.sequential('containers HTTP API', () => {
  let t: TestApp;
  let rt: ContainersRuntime;
  let namespace: string;
  let httpPort: number;
  let admin: SignedIn;
  const uniq = () => Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    await ensureBusyboxImage();
    const e = await testEnv();
    namespace = e.namespace;
    httpPort = e.httpPort;
    t = await createTestApp({ modules: [createContainersModule({ onRuntime: (r) => (rt = r) })], env: e.env });
    admin = await t.signIn('admin');
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await cleanupNamespace(namespace);
  }, 60_000);

  const body = (name: string, extra: Record<string, unknown> = {}) => ({
    name,
    hostnames: [`${name}.localhost`],
    containers: [{
      name: 'web',
      image: BUSYBOX_IMAGE,
      command: ['/bin/sh', '-c', `echo "api ${name}" > /www/index.html && exec httpd -f -p 80 -h /www`],
      env: [{ name: 'DB_PASSWORD', value: 's3cret-value', secret: true }, { name: 'MODE', value: 'demo' }],
    }],
    sleep: { mode: 'stop', idleTimeoutSeconds: 600 },
    stopTimeoutSeconds: 1,
    ...extra,
  });

  async function create(who: SignedIn, name: string, extra: Record<string, unknown> = {}) {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/containers', headers: who.headers, payload: body(name, extra) });
    expect(res.statusCode, res.body).toBe(202);
    const { service, job } = res.json() as { service: { id: string }; job: { id: string } };
    const done = await t.services.jobs.waitFor(job.id, 60_000);
    expect(done.state, done.error ?? '').toBe('succeeded');
    return service.id;
  }

  it('creates a service as a job; reads mask secrets; the container carries Slipway labels', async () => {
    const name = `api-${uniq()}`;
    const id = await create(admin, name);
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/containers/${id}`, headers: admin.headers });
    expect(res.statusCode).toBe(200);
    const { service } = res.json() as { service: { state: string; hostnames: string[]; containers: { env: { name: string; value: string }[] }[] } };
    expect(service.state).toBe('sleeping');
    expect(service.hostnames).toEqual([`${name}.localhost`]);
    expect(service.containers[0]!.env).toEqual([
      { name: 'DB_PASSWORD', value: '********', secret: true },
      { name: 'MODE', value: 'demo', secret: false },
    ]);
    expect(res.body).not.toContain('s3cret-value');
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/containers', headers: admin.headers });
    expect((list.json() as { items: { id: string }[] }).items.map((s) => s.id)).toContain(id);
    const inspected = await rt.docker.inspect(`slw-${id}-web`);
    expect(inspected?.labels).toMatchObject({ 'slipway.managed': 'true', 'slipway.service': id, 'slipway.namespace': namespace });

    const dup = await t.app.inject({ method: 'POST', url: '/api/v1/containers', headers: admin.headers, payload: body(`other-${uniq()}`, { hostnames: [`${name}.localhost`] }) });
    expect(dup.statusCode).toBe(409);
    const audit = await t.services.audit.list({ action: 'containers.create', targetId: id, limit: 5 });
    // One entry when the change was accepted; the job's real outcome follows as a second one.
    expect(audit.items.filter((e) => e.outcome === 'started')).toHaveLength(1);
    expect(audit.items.length).toBeLessThanOrEqual(2);
    for (const e of audit.items) expect(JSON.stringify(e.details)).not.toContain('s3cret-value');
    const openapi = await t.app.inject({ method: 'GET', url: '/api/openapi.json' });
    expect(openapi.statusCode).toBe(200);
    expect(Object.keys((openapi.json() as { paths: Record<string, unknown> }).paths)).toContain('/api/v1/containers/{id}/wakes');
  });

  it('rejects values that could become options or paths', async () => {
    for (const bad of [
      body(`-x${uniq()}`),
      body(`ok-${uniq()}`, { hostnames: ['-evil.example'] }),
      { ...body(`ok-${uniq()}`), containers: [{ name: 'web', image: '--privileged' }] },
      { ...body(`ok-${uniq()}`), containers: [{ name: 'web', image: BUSYBOX_IMAGE, volumes: [{ source: '/etc/../root', target: '/x' }] }] },
      { ...body(`ok-${uniq()}`), containers: [{ name: 'web', image: BUSYBOX_IMAGE, dependsOn: ['db'] }] },
    ]) {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/containers', headers: admin.headers, payload: bad });
      expect(res.statusCode, JSON.stringify(bad)).toBe(400);
    }
  });

  it('the user role sees and changes only its own services; a viewer cannot create', async () => {
    const alice = await t.signIn('user');
    const bob = await t.signIn('user');
    const viewer = await t.signIn('viewer');
    const id = await create(alice, `alice-${uniq()}`);
    const bobList = await t.app.inject({ method: 'GET', url: '/api/v1/containers', headers: bob.headers });
    expect((bobList.json() as { items: { id: string }[] }).items.map((s) => s.id)).not.toContain(id);
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/containers/${id}`, headers: bob.headers })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'POST', url: `/api/v1/containers/${id}/wake`, headers: bob.headers })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/containers/${id}`, headers: alice.headers })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/containers', headers: viewer.headers, payload: body(`v-${uniq()}`) })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/containers/hosts/local/docker/containers', headers: alice.headers })).statusCode).toBe(403);
  });

  it('wake and sleep buttons; cold-start history; a masked secret sent back keeps its value', async () => {
    const name = `btn-${uniq()}`;
    const id = await create(admin, name);
    const woke = await t.app.inject({ method: 'POST', url: `/api/v1/containers/${id}/wake`, headers: admin.headers });
    expect(woke.statusCode).toBe(200);
    expect((woke.json() as { service: { state: string; wakeCount: number } }).service).toMatchObject({ state: 'running', wakeCount: 1 });
    expect((await viaCaddy(httpPort, `${name}.localhost`)).body.trim()).toBe(`api ${name}`);
    const wakes = await t.app.inject({ method: 'GET', url: `/api/v1/containers/${id}/wakes`, headers: admin.headers });
    expect((wakes.json() as { items: { trigger: string; outcome: string }[] }).items[0]).toMatchObject({ trigger: 'manual', outcome: 'ready' });
    const slept = await t.app.inject({ method: 'POST', url: `/api/v1/containers/${id}/sleep`, headers: admin.headers });
    expect((slept.json() as { service: { state: string } }).service.state).toBe('sleeping');
    expect((await rt.docker.inspect(`slw-${id}-web`))?.running).toBe(false);

    const current = (await t.app.inject({ method: 'GET', url: `/api/v1/containers/${id}`, headers: admin.headers })).json() as { service: { containers: unknown[] } };
    const patch = await t.app.inject({ method: 'PATCH', url: `/api/v1/containers/${id}`, headers: admin.headers, payload: { containers: current.service.containers, sleep: { mode: 'stop', idleTimeoutSeconds: 120 } } });
    expect(patch.statusCode, patch.body).toBe(202);
    const done = await t.services.jobs.waitFor((patch.json() as { job: { id: string } }).job.id, 60_000);
    expect(done.state, done.error ?? '').toBe('succeeded');
    const raw = (await rt.docker.inspectRaw(`slw-${id}-web`)) as { Config: { Env: string[] } };
    expect(raw.Config.Env).toContain('DB_PASSWORD=s3cret-value');
    const after = (await t.app.inject({ method: 'GET', url: `/api/v1/containers/${id}`, headers: admin.headers })).json() as { service: { sleep: { idleTimeoutSeconds: number } } };
    expect(after.service.sleep.idleTimeoutSeconds).toBe(120);
  });

  it('lists every container on the host, Slipway-managed ones marked; destructive actions need confirmation', async () => {
    const name = `dock-${uniq()}`;
    const id = await create(admin, name);
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/containers/hosts/local/docker/containers', headers: admin.headers });
    const items = (res.json() as { items: { name: string; managed: boolean; serviceId: string | null }[] }).items;
    expect(items.find((c) => c.name === `slw-${id}-web`)).toMatchObject({ managed: true, serviceId: id });
    const inspect = await t.app.inject({ method: 'GET', url: `/api/v1/containers/hosts/local/docker/containers/slw-${id}-web`, headers: admin.headers });
    expect(inspect.body).not.toContain('s3cret-value');
    const start = await t.app.inject({ method: 'POST', url: `/api/v1/containers/hosts/local/docker/containers/slw-${id}-web/start`, headers: admin.headers, payload: {} });
    expect(start.statusCode).toBe(200);
    const stopNoConfirm = await t.app.inject({ method: 'POST', url: `/api/v1/containers/hosts/local/docker/containers/slw-${id}-web/stop`, headers: admin.headers, payload: {} });
    expect(stopNoConfirm.statusCode).toBe(422);
    const stop = await t.app.inject({ method: 'POST', url: `/api/v1/containers/hosts/local/docker/containers/slw-${id}-web/stop`, headers: admin.headers, payload: { confirm: `slw-${id}-web` } });
    expect(stop.statusCode).toBe(200);
    expect((await t.services.audit.list({ action: 'containers.docker.stop', limit: 5 })).items[0]?.details).toMatchObject({ name: `slw-${id}-web` });
    const images = await t.app.inject({ method: 'GET', url: '/api/v1/containers/hosts/local/docker/images', headers: admin.headers });
    expect((images.json() as { items: { tags: string[] }[] }).items.some((i) => i.tags.includes(BUSYBOX_IMAGE))).toBe(true);
  });

  it('delete needs the name typed; it removes the containers and the Caddy route', async () => {
    const name = `del-${uniq()}`;
    const id = await create(admin, name);
    const routeId = rt.controller.routeId(id);
    expect(await rt.caddy.routeExists(routeId)).toBe(true);
    const wrong = await t.app.inject({ method: 'DELETE', url: `/api/v1/containers/${id}`, headers: admin.headers, payload: { confirm: 'nope' } });
    expect(wrong.statusCode).toBe(422);
    const res = await t.app.inject({ method: 'DELETE', url: `/api/v1/containers/${id}`, headers: admin.headers, payload: { confirm: name } });
    expect(res.statusCode).toBe(202);
    const done = await t.services.jobs.waitFor((res.json() as { job: { id: string } }).job.id, 60_000);
    expect(done.state, done.error ?? '').toBe('succeeded');
    expect(await rt.docker.inspect(`slw-${id}-web`)).toBeNull();
    expect(await rt.caddy.routeExists(routeId)).toBe(false);
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/containers/${id}`, headers: admin.headers })).statusCode).toBe(404);
    await expect.poll(async () => (await t.services.audit.list({ action: 'containers.delete', targetId: id, limit: 5 })).items.map((e) => e.outcome).sort()).toEqual(['started', 'success']);
  });
});
