import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type SignedIn, type TestApp } from '../../../server/src/testing/harness.js';
import { createContainersModule, type ContainersRuntime } from './index.js';
import { BUSYBOX_IMAGE, ensureBusyboxImage } from './test-fixtures/images.js';
import { cleanupNamespace, testEnv, viaCaddy } from './test-fixtures/panel.js';

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
    const inspected = await rt.docker.inspect(`slw-${name}-web`);
    expect(inspected?.labels).toMatchObject({ 'slipway.managed': 'true', 'slipway.service': id, 'slipway.namespace': namespace });

    const dup = await t.app.inject({ method: 'POST', url: '/api/v1/containers', headers: admin.headers, payload: body(`other-${uniq()}`, { hostnames: [`${name}.localhost`] }) });
    expect(dup.statusCode).toBe(409);
    const audit = await t.services.audit.list({ action: 'containers.create', targetId: id, limit: 5 });
    expect(audit.items).toHaveLength(1);
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
    expect((await rt.docker.inspect(`slw-${name}-web`))?.running).toBe(false);

    const current = (await t.app.inject({ method: 'GET', url: `/api/v1/containers/${id}`, headers: admin.headers })).json() as { service: { containers: unknown[] } };
    const patch = await t.app.inject({ method: 'PATCH', url: `/api/v1/containers/${id}`, headers: admin.headers, payload: { containers: current.service.containers, sleep: { mode: 'stop', idleTimeoutSeconds: 120 } } });
    expect(patch.statusCode, patch.body).toBe(202);
    const done = await t.services.jobs.waitFor((patch.json() as { job: { id: string } }).job.id, 60_000);
    expect(done.state, done.error ?? '').toBe('succeeded');
    const raw = (await rt.docker.inspectRaw(`slw-${name}-web`)) as { Config: { Env: string[] } };
    expect(raw.Config.Env).toContain('DB_PASSWORD=s3cret-value');
    const after = (await t.app.inject({ method: 'GET', url: `/api/v1/containers/${id}`, headers: admin.headers })).json() as { service: { sleep: { idleTimeoutSeconds: number } } };
    expect(after.service.sleep.idleTimeoutSeconds).toBe(120);
  });

  it('lists every container on the host, Slipway-managed ones marked; destructive actions need confirmation', async () => {
    const name = `dock-${uniq()}`;
    const id = await create(admin, name);
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/containers/hosts/local/docker/containers', headers: admin.headers });
    const items = (res.json() as { items: { name: string; managed: boolean; serviceId: string | null }[] }).items;
    expect(items.find((c) => c.name === `slw-${name}-web`)).toMatchObject({ managed: true, serviceId: id });
    const inspect = await t.app.inject({ method: 'GET', url: `/api/v1/containers/hosts/local/docker/containers/slw-${name}-web`, headers: admin.headers });
    expect(inspect.body).not.toContain('s3cret-value');
    const start = await t.app.inject({ method: 'POST', url: `/api/v1/containers/hosts/local/docker/containers/slw-${name}-web/start`, headers: admin.headers, payload: {} });
    expect(start.statusCode).toBe(200);
    const stopNoConfirm = await t.app.inject({ method: 'POST', url: `/api/v1/containers/hosts/local/docker/containers/slw-${name}-web/stop`, headers: admin.headers, payload: {} });
    expect(stopNoConfirm.statusCode).toBe(422);
    const stop = await t.app.inject({ method: 'POST', url: `/api/v1/containers/hosts/local/docker/containers/slw-${name}-web/stop`, headers: admin.headers, payload: { confirm: `slw-${name}-web` } });
    expect(stop.statusCode).toBe(200);
    expect((await t.services.audit.list({ action: 'containers.docker.stop', limit: 5 })).items[0]?.details).toMatchObject({ name: `slw-${name}-web` });
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
    expect(await rt.docker.inspect(`slw-${name}-web`)).toBeNull();
    expect(await rt.caddy.routeExists(routeId)).toBe(false);
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/containers/${id}`, headers: admin.headers })).statusCode).toBe(404);
    expect((await t.services.audit.list({ action: 'containers.delete', targetId: id, limit: 5 })).items).toHaveLength(1);
  });
});
