import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, testPassword, type SignedIn, type TestApp } from '../server/src/testing/harness.js';
import { createContainersModule, type ContainersRuntime } from '../modules/containers/server/index.js';
import { BUSYBOX_IMAGE, ensureBusyboxImage } from '../modules/containers/server/test-fixtures/images.js';
import { cleanupNamespace, testEnv, viaCaddy } from '../modules/containers/server/test-fixtures/panel.js';
import { sitesModule } from '../modules/sites/server/index.js';
import { createFakeWo, type FakeWo } from '../modules/sites/server/test-fixtures/fake-wo.js';

/**
 * Hostile tenants against the containers module (issue 9: findings 1, 3, 4, 13 and two of 15), on a
 * running panel with the real Docker engine and Caddy. Each attack must fail with a clear error and
 * change nothing: no record, no container, no mount, no route, no revealed secret.
 */
const MASK = '********';
const docker = new Docker({ socketPath: '/var/run/docker.sock' });
type Json = Record<string, any>;

describe.sequential('security: containers (hostile tenants, real Docker + Caddy)', () => {
  let t: TestApp;
  let rt: ContainersRuntime;
  let namespace: string;
  let httpPort: number;
  let admin: SignedIn;
  let roots: string;
  let fakeWo: FakeWo;
  const extraContainers: string[] = [];
  const uniq = () => Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    await ensureBusyboxImage();
    roots = mkdtempSync(path.join(tmpdir(), 'slipway-roots-'));
    mkdirSync(path.join(roots, 'shared'));
    symlinkSync('/etc', path.join(roots, 'shared', 'etc-link'));
    const e = await testEnv({
      SLIPWAY_CONTAINERS_HOST_PATH_ROOTS: roots,
      SLIPWAY_CONTAINERS_DEFAULT_MEMORY_MB: '128',
      SLIPWAY_CONTAINERS_MAX_MEMORY_MB: '1024',
      SLIPWAY_CONTAINERS_DEFAULT_CPUS: '0.25',
      SLIPWAY_CONTAINERS_MAX_CPUS: '1',
      SLIPWAY_CONTAINERS_DEFAULT_PIDS: '64',
      SLIPWAY_CONTAINERS_QUOTA_SERVICES: '3',
      SLIPWAY_CONTAINERS_QUOTA_MEMORY_MB: '512',
      SLIPWAY_CONTAINERS_QUOTA_CPUS: '1',
      SLIPWAY_CONTAINERS_QUOTA_IMAGE_PULLS_PER_HOUR: '1',
    });
    namespace = e.namespace;
    httpPort = e.httpPort;
    // The sites module (with the fake `wo`) too: hostnames are owned across modules.
    fakeWo = createFakeWo();
    t = await createTestApp({
      modules: [createContainersModule({ onRuntime: (r) => (rt = r) }), sitesModule],
      env: { ...e.env, ...fakeWo.env, SLIPWAY_PUBLIC_URL: 'https://panel.example.net' },
    });
    admin = await t.signIn('admin');
  }, 120_000);

  afterAll(async () => {
    await Promise.all(extraContainers.map((n) => docker.getContainer(n).remove({ force: true }).catch(() => {})));
    await t?.close();
    await cleanupNamespace(namespace);
    const { Volumes } = await docker.listVolumes({ filters: { label: [`slipway.namespace=${namespace}`] } });
    await Promise.all((Volumes ?? []).map((v) => docker.getVolume(v.Name).remove().catch(() => {})));
    rmSync(roots, { recursive: true, force: true });
    fakeWo?.cleanup();
  }, 60_000);

  const web = (command: string, extra: Json = {}) => ({ name: 'web', image: BUSYBOX_IMAGE, command: ['/bin/sh', '-c', command], ...extra });
  const serve = (body: string) => `mkdir -p /srv && echo "${body}" > /srv/index.html && exec httpd -f -p 80 -h /srv`;
  const body = (name: string, extra: Json = {}) => ({
    name,
    hostnames: [`${name}.localhost`],
    containers: [web(serve(`hello ${name}`))],
    sleep: { mode: 'stop', idleTimeoutSeconds: 600 },
    stopTimeoutSeconds: 1,
    ...extra,
  });
  const inject = (who: SignedIn, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
    t.app.inject({ method, url: `/api/v1${url}`, headers: who.headers, ...(payload === undefined ? {} : { payload: payload as Json }) });
  async function create(who: SignedIn, payload: Json): Promise<string> {
    const res = await inject(who, 'POST', '/containers', payload);
    expect(res.statusCode, res.body).toBe(202);
    const { service, job } = res.json() as { service: { id: string }; job: { id: string } };
    const done = await t.services.jobs.waitFor(job.id, 60_000);
    expect(done.state, done.error ?? '').toBe('succeeded');
    return service.id;
  }
  async function patchJob(who: SignedIn, id: string, payload: Json) {
    const res = await inject(who, 'PATCH', `/containers/${id}`, payload);
    expect(res.statusCode, res.body).toBe(202);
    return t.services.jobs.waitFor((res.json() as { job: { id: string } }).job.id, 60_000);
  }
  const stored = async (id: string) => (await inject(admin, 'GET', `/containers/${id}`)).json().service as Json;
  const names = async () => ((await inject(admin, 'GET', '/containers')).json().items as { name: string }[]).map((s) => s.name);
  const containerOf = (id: string, c = 'web') => docker.getContainer(`slw-${id}-${c}`).inspect();
  const errorOf = (res: { json(): unknown }) => (res.json() as { error: { code: string; message: string; details?: Json } }).error;

  /** A `user` that billing created with a password billing chose (finding 1's last line). */
  async function userMadeByBilling(): Promise<SignedIn> {
    const billing = await t.signIn('billing');
    const username = `cust-${uniq()}`;
    const password = testPassword();
    const made = await inject(billing, 'POST', '/users', { username, email: `${username}@example.test`, role: 'user', password });
    expect(made.statusCode, made.body).toBe(201);
    const login = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password } });
    expect(login.statusCode, login.body).toBe(200);
    const token = (login.json() as { accessToken: string }).accessToken;
    return { user: { id: (made.json() as { user: { id: string } }).user.id, username, role: 'user' }, password, token, refreshToken: '', headers: { authorization: `Bearer ${token}` } };
  }

  describe('finding 1: host paths', () => {
    const hostPaths = () => ['/', '/etc', '/etc/shadow', '/var/run/docker.sock', '/run', '/proc', '/proc/1/root', '/sys', '/dev', '/root', '/var', t.dataDir, path.join(t.dataDir, 'secrets.json'), roots, path.join(roots, 'shared')];

    it('user, operator and a user billing created cannot bind-mount any host path (403, nothing created)', async () => {
      const attackers = [await t.signIn('user'), await t.signIn('operator'), await userMadeByBilling()];
      for (const who of attackers) {
        for (const source of hostPaths()) {
          const name = `bind-${uniq()}`;
          const res = await inject(who, 'POST', '/containers', body(name, { containers: [web(serve('x'), { volumes: [{ source, target: '/host' }] })] }));
          expect(res.statusCode, `${who.user.role} ${source}: ${res.body}`).toBe(403);
          expect(errorOf(res)).toMatchObject({ code: 'host_path_forbidden', details: { issues: [{ path: 'containers.0.volumes.0.source' }] } });
          expect(await names()).not.toContain(name);
        }
      }
      // Nor publish a host port (shared by every tenant, past Caddy).
      const user = attackers[0]!;
      const ports = await inject(user, 'POST', '/containers', body(`port-${uniq()}`, { containers: [web(serve('x'), { ports: [{ containerPort: 80, hostPort: 2019, hostIp: '0.0.0.0' }] })] }));
      expect(ports.statusCode).toBe(403);
      expect(errorOf(ports).code).toBe('host_port_forbidden');
      // support may not create at all, and billing has no containers.create either.
      for (const role of ['support', 'billing', 'viewer'] as const) {
        const who = await t.signIn(role);
        const res = await inject(who, 'POST', '/containers', body(`bind-${uniq()}`, { containers: [web(serve('x'), { volumes: [{ source: '/', target: '/host' }] })] }));
        expect(res.statusCode, role).toBe(403);
      }
    });

    it('a host bind added by PATCH is refused too, and the service keeps its definition and container', async () => {
      const user = await t.signIn('user');
      const id = await create(user, body(`own-${uniq()}`, { containers: [web(serve('own'), { volumes: [{ source: 'data', target: '/data' }] })] }));
      const before = await containerOf(id);
      for (const source of ['/', '/etc', t.dataDir]) {
        const current = await stored(id);
        const res = await inject(user, 'PATCH', `/containers/${id}`, { containers: [{ ...current.containers[0], volumes: [{ source, target: '/data' }] }] });
        expect(res.statusCode, res.body).toBe(403);
        expect(errorOf(res).code).toBe('host_path_forbidden');
      }
      expect((await stored(id)).containers[0].volumes).toEqual([{ source: 'data', target: '/data', readOnly: false }]);
      const after = await containerOf(id);
      expect(after.Id).toBe(before.Id);
      expect(after.Mounts.every((m) => m.Type === 'volume')).toBe(true);
    });

    it('an admin may bind only existing paths under the configured roots, never protected ones or symlinks out', async () => {
      for (const source of ['/', '/etc', '/var/run/docker.sock', '/proc', t.dataDir, '/srv', tmpdir(), path.join(roots, 'shared', 'etc-link'), path.join(roots, 'missing')]) {
        const name = `adm-${uniq()}`;
        const res = await inject(admin, 'POST', '/containers', body(name, { containers: [web(serve('x'), { volumes: [{ source, target: '/host' }] })] }));
        expect(res.statusCode, `${source}: ${res.body}`).toBe(422);
        expect(errorOf(res).code).toBe('host_path_not_allowed');
        expect(await names()).not.toContain(name);
      }
      const id = await create(admin, body(`adm-${uniq()}`, { containers: [web(serve('x'), { volumes: [{ source: path.join(roots, 'shared'), target: '/host', readOnly: true }] })] }));
      const c = await containerOf(id);
      expect(c.Mounts).toEqual([expect.objectContaining({ Type: 'bind', Source: path.join(roots, 'shared'), Destination: '/host', RW: false })]);
    });

    it('a definition stored before the fix with a host bind for a non-admin owner is refused at start, with the reason', async () => {
      const user = await t.signIn('user');
      const name = `old-${uniq()}`;
      const id = await create(user, body(name));
      // What an old panel stored and created: the spec and a container with /etc bound.
      const spec = JSON.parse((await t.db.database.db.selectFrom('containers_services' as never).select('spec' as never).where('id' as never, '=', id as never).executeTakeFirstOrThrow() as { spec: string }).spec) as Json;
      spec.containers[0].volumes = [{ source: '/etc', target: '/host-etc', readOnly: false }];
      await t.db.database.db.updateTable('containers_services' as never).set({ spec: JSON.stringify(spec) } as never).where('id' as never, '=', id as never).execute();
      await rt.controller.refresh(id);
      const real = await containerOf(id);
      await docker.getContainer(real.Id).remove({ force: true });
      await docker.createContainer({
        name: `slw-${id}-web`, Image: BUSYBOX_IMAGE, Cmd: ['/bin/sh', '-c', 'cat /host-etc/hostname > /www/index.html; exec httpd -f -p 80 -h /www'],
        Labels: real.Config.Labels, ExposedPorts: { '80/tcp': {} },
        HostConfig: { Binds: ['/etc:/host-etc'], PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] }, NetworkMode: real.HostConfig.NetworkMode },
      });
      const wake = await inject(user, 'POST', `/containers/${id}/wake`);
      expect(wake.statusCode, wake.body).toBe(422);
      expect(errorOf(wake)).toMatchObject({ code: 'start_refused', message: expect.stringMatching(/host path \/etc.*only an admin/) });
      expect((await containerOf(id)).State.Running).toBe(false);
      const visitor = await viaCaddy(httpPort, `${name}.localhost`, { headers: { accept: 'application/json' } });
      expect(visitor.status).toBe(503);
      expect((await containerOf(id)).State.Running).toBe(false);
      const s = await stored(id);
      expect(s.state).toBe('failed');
      expect(s.lastError).toMatch(/refused to start/);
      // Any change of that definition keeps being refused while the bind is in it.
      const patch = await inject(user, 'PATCH', `/containers/${id}`, { sleep: { mode: 'stop', idleTimeoutSeconds: 60 } });
      expect(patch.statusCode).toBe(403);
      // The stored definition alone is refused too, even when the container has no bind (yet).
      await docker.getContainer(`slw-${id}-web`).remove({ force: true });
      await docker.createContainer({
        name: `slw-${id}-web`, Image: BUSYBOX_IMAGE, Cmd: ['/bin/sh', '-c', serve('x')], Labels: real.Config.Labels, ExposedPorts: { '80/tcp': {} },
        HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] }, NetworkMode: real.HostConfig.NetworkMode },
      });
      const again = await inject(user, 'POST', `/containers/${id}/wake`);
      expect(again.statusCode).toBe(422);
      expect(errorOf(again)).toMatchObject({ code: 'start_refused' });
      expect((await containerOf(id)).State.Running).toBe(false);
    });

    it('a stored container of a non-admin that mounts another service\'s volume is refused at start', async () => {
      const alice = await t.signIn('user');
      const bob = await t.signIn('user');
      const a = await create(alice, body(`va-${uniq()}`, { containers: [web(serve('a'), { volumes: [{ source: 'app-data', target: '/data' }] })] }));
      const b = await create(bob, body(`vb-${uniq()}`));
      const real = await containerOf(b);
      await docker.getContainer(real.Id).remove({ force: true });
      await docker.createContainer({
        name: `slw-${b}-web`, Image: BUSYBOX_IMAGE, Cmd: ['/bin/sh', '-c', serve('b')], Labels: real.Config.Labels, ExposedPorts: { '80/tcp': {} },
        HostConfig: { Binds: [`slw-${a}-app-data:/stolen`], PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] }, NetworkMode: real.HostConfig.NetworkMode },
      });
      const wake = await inject(bob, 'POST', `/containers/${b}/wake`);
      expect(wake.statusCode, wake.body).toBe(422);
      expect(errorOf(wake).message).toMatch(/not this service's own/);
      expect((await containerOf(b)).State.Running).toBe(false);
    });
  });

  describe('finding 13: named volumes belong to one service', () => {
    it("tenant B's app-data is not tenant A's, nor can B name A's Docker volume", async () => {
      const alice = await t.signIn('user');
      const bob = await t.signIn('user');
      const an = `vola-${uniq()}`;
      const a = await create(alice, body(an, { containers: [web(`echo "alice-private-${an}" > /data/f; ${serve('alice')}`, { volumes: [{ source: 'app-data', target: '/data' }] })] }));
      expect((await viaCaddy(httpPort, `${an}.localhost`)).status).toBe(200); // alice's container wrote /data/f
      const read = `(cat /data/f 2>/dev/null || echo none) > /www/index.html; exec httpd -f -p 80 -h /www`;
      for (const source of ['app-data', `slw-${a}-app-data`]) {
        const bn = `volb-${uniq()}`;
        const b = await create(bob, body(bn, { containers: [web(read, { volumes: [{ source, target: '/data' }] })] }));
        const seen = await viaCaddy(httpPort, `${bn}.localhost`);
        expect(seen.status).toBe(200);
        expect(seen.body.trim(), source).toBe('none');
        const mounts = (await containerOf(b)).Mounts;
        expect(mounts).toEqual([expect.objectContaining({ Type: 'volume', Name: `slw-${b}-${source}` })]);
      }
      const vol = await docker.getVolume(`slw-${a}-app-data`).inspect();
      expect(vol.Labels).toMatchObject({ 'slipway.service': a, 'slipway.owner': alice.user.id });
      // Deleting the service removes its own volume (nobody else could ever mount it).
      const del = await inject(alice, 'DELETE', `/containers/${a}`, { confirm: an });
      expect((await t.services.jobs.waitFor((del.json() as { job: { id: string } }).job.id, 60_000)).state).toBe('succeeded');
      await expect(docker.getVolume(`slw-${a}-app-data`).inspect()).rejects.toThrow();
    });
  });

  describe('finding 1 (cont.) and 15: limits and quotas', () => {
    it('every container runs with no-new-privileges, all capabilities dropped but a few, and memory/CPU/pids limits', async () => {
      const user = await t.signIn('user');
      const name = `lim-${uniq()}`;
      const id = await create(user, body(name, { containers: [web('grep -E "NoNewPrivs|CapEff" /proc/self/status > /www/index.html; exec httpd -f -p 80 -h /www')] }));
      const c = await containerOf(id);
      expect(c.HostConfig).toMatchObject({ Memory: 128 * 1024 * 1024, MemorySwap: 128 * 1024 * 1024, NanoCpus: 250_000_000, PidsLimit: 64, CapDrop: ['ALL'], Privileged: false });
      expect(c.HostConfig.SecurityOpt).toContain('no-new-privileges:true');
      expect(c.HostConfig.CapAdd).not.toContain('SYS_ADMIN');
      const seen = await viaCaddy(httpPort, `${name}.localhost`);
      expect(seen.body).toMatch(/NoNewPrivs:\s+1/);
      // CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID, NET_BIND_SERVICE and nothing else.
      expect(seen.body).toMatch(/CapEff:\s+00000000000004fb/);
      const over = await inject(user, 'POST', '/containers', body(`lim-${uniq()}`, { containers: [web(serve('x'), { resources: { memoryMb: 2048 } })] }));
      expect(over.statusCode).toBe(422);
      expect(errorOf(over)).toMatchObject({ code: 'resource_limit', details: { issues: [{ path: 'containers.0.resources.memoryMb' }] } });
    });

    it('a user gets at most its quota of services, memory and CPU, also with parallel requests; admins are exempt', async () => {
      const user = await t.signIn('user');
      const results = await Promise.all(Array.from({ length: 6 }, () => inject(user, 'POST', '/containers', body(`q-${uniq()}`))));
      const codes = results.map((r) => r.statusCode).sort();
      expect(codes).toEqual([202, 202, 202, 422, 422, 422]);
      for (const r of results.filter((x) => x.statusCode === 422)) expect(errorOf(r)).toMatchObject({ code: 'quota_exceeded', details: { quota: 'services', limit: 3 } });
      const mine = ((await inject(user, 'GET', '/containers')).json().items as unknown[]).length;
      expect(mine).toBe(3);
      for (const r of results.filter((x) => x.statusCode === 202)) await t.services.jobs.waitFor((r.json() as { job: { id: string } }).job.id, 60_000);

      const other = await t.signIn('user');
      const big = await inject(other, 'POST', '/containers', body(`q-${uniq()}`, { containers: [web(serve('x'), { resources: { memoryMb: 600 } })] }));
      expect(big.statusCode).toBe(422);
      expect(errorOf(big).details).toMatchObject({ quota: 'memoryMb', limit: 512 });
      const id = await create(other, body(`q-${uniq()}`, { containers: [web(serve('x'), { resources: { memoryMb: 256, cpus: 0.5 } })] }));
      const grow = await inject(other, 'PATCH', `/containers/${id}`, { containers: [{ ...(await stored(id)).containers[0], resources: { memoryMb: 600, cpus: 0.5 } }] });
      expect(grow.statusCode).toBe(422);
      expect(errorOf(grow).details).toMatchObject({ quota: 'memoryMb' });
      const second = await inject(other, 'POST', '/containers', body(`q-${uniq()}`, { containers: [web(serve('x'), { resources: { memoryMb: 128, cpus: 0.75 } })] }));
      expect(second.statusCode).toBe(422);
      expect(errorOf(second).details).toMatchObject({ quota: 'cpus', limit: 1 });
      expect((await stored(id)).containers[0].resources).toEqual({ memoryMb: 256, cpus: 0.5 });
      expect((await containerOf(id)).HostConfig.NanoCpus).toBe(500_000_000);

      for (let i = 0; i < 4; i++) await create(admin, body(`qa-${uniq()}`, { containers: [web(serve('x'), { resources: { memoryMb: 600 } })] }));
    });

    it('image pulls count against a per-user quota', async () => {
      const user = await t.signIn('user');
      const two = await inject(user, 'POST', '/containers', body(`p-${uniq()}`, { containers: [{ name: 'web', image: `slipway-test/absent-${uniq()}:1` }, { name: 'db', image: `slipway-test/absent-${uniq()}:1` }] }));
      expect(two.statusCode).toBe(422);
      expect(errorOf(two)).toMatchObject({ code: 'quota_exceeded', details: { quota: 'imagePulls', limit: 1 } });
      const one = await inject(user, 'POST', '/containers', body(`p-${uniq()}`, { containers: [{ name: 'web', image: `slipway-test/absent-${uniq()}:1` }] }));
      expect(one.statusCode).toBe(202); // the pull itself fails here (no registry): the job says so
      await t.services.jobs.waitFor((one.json() as { job: { id: string } }).job.id, 60_000);
      const next = await inject(user, 'POST', '/containers', body(`p-${uniq()}`, { containers: [{ name: 'web', image: `slipway-test/absent-${uniq()}:1` }] }));
      expect(next.statusCode).toBe(422);
      expect(errorOf(next).details).toMatchObject({ quota: 'imagePulls' });
      // Images already on the host cost nothing.
      expect((await inject(user, 'POST', '/containers', body(`p-${uniq()}`))).statusCode).toBe(202);
    });
  });

  describe('finding 3: support wakes and sleeps, only spec changers change; the mask never moves', () => {
    it('support cannot change any part of a definition, but may wake and sleep', async () => {
      const owner = await t.signIn('user');
      const support = await t.signIn('support');
      const name = `sup-${uniq()}`;
      const id = await create(owner, body(name));
      const before = await stored(id);
      const cur = before.containers[0];
      for (const patch of [
        { containers: [{ ...cur, volumes: [{ source: '/', target: '/host' }] }] },
        { containers: [{ ...cur, image: 'evil/image:1' }] },
        { containers: [{ ...cur, env: [{ name: 'X', value: 'y', secret: false }] }] },
        { hostnames: ['stolen.example.com'] },
        { sleep: { mode: 'always-on', idleTimeoutSeconds: 1 } },
      ]) {
        const res = await inject(support, 'PATCH', `/containers/${id}`, patch);
        expect(res.statusCode, JSON.stringify(patch)).toBe(403);
      }
      const after = await stored(id);
      expect({ ...after, updatedAt: 0, state: 0, lastActivityAt: 0 }).toEqual({ ...before, updatedAt: 0, state: 0, lastActivityAt: 0 });
      expect((await inject(support, 'POST', `/containers/${id}/wake`)).statusCode).toBe(200);
      expect((await inject(support, 'POST', `/containers/${id}/sleep`)).statusCode).toBe(200);
      for (const role of ['viewer', 'billing'] as const) expect((await inject(await t.signIn(role), 'POST', `/containers/${id}/wake`)).statusCode, role).toBe(403);
      expect((await inject(await t.signIn('user'), 'POST', `/containers/${id}/wake`)).statusCode).toBe(404);
      expect((await inject(support, 'DELETE', `/containers/${id}`, { confirm: name })).statusCode).toBe(403);
    });

    it('the mask sent with secret:false, a new name or another container is refused; the value stays hidden', async () => {
      const owner = await t.signIn('user');
      const operator = await t.signIn('operator');
      const viewer = await t.signIn('viewer');
      const secretEnv = [{ name: 'SHOP_CONFIG', value: 'top-secret-1', secret: true }, { name: 'MODE', value: 'demo', secret: false }];
      const id = await create(owner, body(`mask-${uniq()}`, { containers: [web(serve('m'), { env: secretEnv })] }));
      const shown = (await stored(id)).containers[0];
      expect(shown.env).toEqual([{ name: 'SHOP_CONFIG', value: MASK, secret: true }, { name: 'MODE', value: 'demo', secret: false }]);
      const attacks = [
        { containers: [{ ...shown, env: [{ name: 'SHOP_CONFIG', value: MASK, secret: false }] }] }, // the exact un-masking
        { containers: [{ ...shown, env: [{ name: 'SHOW_ME', value: MASK, secret: true }] }] }, // renamed
        { containers: [{ ...shown, env: [{ name: 'SHOW_ME', value: MASK, secret: false }] }] },
        { containers: [{ ...shown, name: 'web2', env: [{ name: 'SHOP_CONFIG', value: MASK, secret: false }] }], http: { container: 'web2', port: 80 } }, // another container
        { containers: [shown, { ...shown, name: 'side', env: [{ name: 'SHOP_CONFIG', value: MASK, secret: false }] }] },
      ];
      for (const who of [owner, operator]) {
        for (const patch of attacks) {
          const res = await inject(who, 'PATCH', `/containers/${id}`, patch);
          expect(res.statusCode, JSON.stringify(patch)).toBe(422);
          expect(errorOf(res)).toMatchObject({ code: 'secret_mask_mismatch', details: { issues: [expect.objectContaining({ path: expect.stringMatching(/^containers\.\d\.env\.0\.value$/) })] } });
        }
      }
      for (const reader of [viewer, owner, operator, admin]) {
        const res = await inject(reader, 'GET', `/containers/${id}`);
        expect(res.body).not.toContain('top-secret-1');
      }
      expect((await containerOf(id)).Config.Env).toContain('SHOP_CONFIG=top-secret-1');
      // Sent back on the same entry, the value is kept.
      const done = await patchJob(owner, id, { containers: [shown], sleep: { mode: 'stop', idleTimeoutSeconds: 300 } });
      expect(done.state, done.error ?? '').toBe('succeeded');
      expect((await containerOf(id)).Config.Env).toContain('SHOP_CONFIG=top-secret-1');
    });
  });

  describe('finding 4: names cannot collide; a container is ours only by its label', () => {
    it('shop-prod/web and shop/prod-web are two containers; each tenant keeps its own visitors', async () => {
      const a = await t.signIn('user');
      const b = await t.signIn('user');
      const s = uniq();
      // The old naming slw-<service>-<container> gives both slw-shop-<s>-prod-web.
      const ida = await create(a, body(`shop-${s}-prod`, { hostnames: [`a-${s}.localhost`], containers: [web(serve(`tenant A ${s}`))] }));
      const containerA = await containerOf(ida);
      const idb = await create(b, body(`shop-${s}`, { hostnames: [`b-${s}.localhost`], containers: [{ ...web(serve(`tenant B ${s}`)), name: 'prod-web' }], http: { container: 'prod-web', port: 80 } }));
      expect((await containerOf(ida)).Id).toBe(containerA.Id); // B's create did not remove A's container
      expect((await containerOf(idb, 'prod-web')).Config.Labels?.['slipway.service']).toBe(idb);
      expect((await viaCaddy(httpPort, `a-${s}.localhost`)).body.trim()).toBe(`tenant A ${s}`);
      expect((await viaCaddy(httpPort, `b-${s}.localhost`)).body.trim()).toBe(`tenant B ${s}`);
      expect((await containerOf(idb, 'prod-web')).Name).not.toBe(containerA.Name);
      // B changing its service (its containers are replaced) still leaves A's alone.
      expect((await patchJob(b, idb, { sleep: { mode: 'stop', idleTimeoutSeconds: 300 } })).state).toBe('succeeded');
      expect((await containerOf(ida)).Id).toBe(containerA.Id);
      expect((await viaCaddy(httpPort, `a-${s}.localhost`)).body.trim()).toBe(`tenant A ${s}`);
    });

    it("a sleeping service's fixed port is nobody else's: services get distinct ones, and no one may publish a port in the range", async () => {
      const a = await t.signIn('user');
      const b = await t.signIn('user');
      const s = uniq();
      const ida = await create(a, body(`fixa-${s}`, { hostnames: [`fa-${s}.localhost`], containers: [web(serve(`tenant A ${s}`))] }));
      const idb = await create(b, body(`fixb-${s}`, { hostnames: [`fb-${s}.localhost`], containers: [web(serve(`tenant B ${s}`))] }));
      const portA = Number((await containerOf(ida)).Config.Labels?.['slipway.http-port']);
      const portB = Number((await containerOf(idb)).Config.Labels?.['slipway.http-port']);
      expect(portA).toBeGreaterThanOrEqual(20000);
      expect(portA).toBeLessThanOrEqual(29999);
      expect(portB).not.toBe(portA);
      // Both asleep: each hostname still reaches its own tenant's container (woken through the activator).
      expect((await viaCaddy(httpPort, `fa-${s}.localhost`)).body.trim()).toBe(`tenant A ${s}`);
      expect((await viaCaddy(httpPort, `fb-${s}.localhost`)).body.trim()).toBe(`tenant B ${s}`);
      // Not even an admin may publish a port in the range (it could take a sleeping service's traffic).
      const admin = await t.signIn('admin');
      for (const hostPort of [20000, portA, 29999]) {
        const res = await inject(admin, 'POST', '/containers', body(`grab-${uniq()}`, { containers: [web(serve('grab'), { ports: [{ containerPort: 80, hostPort, hostIp: '127.0.0.1' }] })] }));
        expect(res.statusCode, res.body).toBe(422);
        expect(errorOf(res).code).toBe('host_port_reserved');
      }
      const upd = await inject(admin, 'PATCH', `/containers/${ida}`, { containers: [web(serve('grab'), { ports: [{ containerPort: 80, hostPort: portB, hostIp: '127.0.0.1' }] })] });
      expect(upd.statusCode, upd.body).toBe(422);
      expect((await viaCaddy(httpPort, `fb-${s}.localhost`)).body.trim()).toBe(`tenant B ${s}`);
    });

    it('a container with the right name but a wrong or missing label is never started, routed to, replaced or removed', async () => {
      const owner = await t.signIn('user');
      for (const labels of [{}, { 'slipway.service': 'someone-else', 'slipway.container': 'web' }] as Record<string, string>[]) {
        const name = `imp-${uniq()}`;
        const id = await create(owner, body(name));
        await docker.getContainer(`slw-${id}-web`).remove({ force: true });
        const impostor: Docker.Container = await docker.createContainer({
          name: `slw-${id}-web`, Image: BUSYBOX_IMAGE, Cmd: ['/bin/sh', '-c', serve('impostor')], Labels: labels, ExposedPorts: { '80/tcp': {} },
          HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
        });
        extraContainers.push(impostor.id);
        const wake = await inject(owner, 'POST', `/containers/${id}/wake`);
        expect(wake.statusCode, wake.body).toBe(422);
        expect(errorOf(wake)).toMatchObject({ code: 'foreign_container', message: expect.stringMatching(/not this service's/) });
        expect((await impostor.inspect()).State.Status).toBe('created');
        const visitor = await viaCaddy(httpPort, `${name}.localhost`, { headers: { accept: 'application/json' } });
        expect(visitor.status).toBe(503);
        expect(visitor.body).not.toContain('impostor');
        expect(await rt.caddy.routeDial(rt.controller.routeId(id))).toBe(rt.activator.dial);
        const logs = await inject(owner, 'GET', `/containers/${id}/logs?follow=false`);
        expect(logs.statusCode).toBe(422);
        const upd = await patchJob(owner, id, { sleep: { mode: 'stop', idleTimeoutSeconds: 60 } });
        expect(upd.state).not.toBe('succeeded');
        expect(upd.error).toMatch(/not this service's/);
        expect((await impostor.inspect()).Id).toBe(impostor.id);
        const del = await inject(owner, 'DELETE', `/containers/${id}`, { confirm: name });
        await t.services.jobs.waitFor((del.json() as { job: { id: string } }).job.id, 60_000);
        expect((await impostor.inspect()).Id).toBe(impostor.id); // still there, untouched
      }
    });
  });

  describe('finding 15: credentials in env and argv', () => {
    it('env named or shaped like credentials is masked for every reader; inspect masks Cmd and Entrypoint', async () => {
      const owner = await t.signIn('user');
      const env = [
        { name: 'DATABASE_URL', value: 'postgres://app:pw-db-1@db/app', secret: false },
        { name: 'SENTRY_DSN', value: 'https://key-dsn-2@sentry.example/1', secret: false },
        { name: 'CACHE_URL', value: 'redis://:pw-cache-3@cache:6379', secret: false },
        { name: 'API_TOKEN', value: 'tok-4-abcdef', secret: false },
        { name: 'APP_SECRET', value: 'app-secret-5', secret: true },
        { name: 'PUBLIC_URL', value: 'https://public.example.com', secret: false },
      ];
      const command = ['/bin/sh', '-c', serve('cred'), '--password=pw-arg-6', 'app-secret-5', '--api-token', 'tok-arg-7'];
      const id = await create(owner, body(`cred-${uniq()}`, { containers: [web('', { command, env })] }));
      const secrets = ['pw-db-1', 'key-dsn-2', 'pw-cache-3', 'tok-4-abcdef', 'app-secret-5', 'pw-arg-6', 'tok-arg-7'];
      const readers = [owner, admin, await t.signIn('operator'), await t.signIn('support'), await t.signIn('viewer'), await t.signIn('billing')];
      for (const who of readers) {
        for (const url of [`/containers/${id}`, '/containers']) {
          const res = await inject(who, 'GET', url);
          expect(res.statusCode).toBe(200);
          for (const v of secrets) expect(res.body, `${who.user.role} ${url} ${v}`).not.toContain(v);
        }
      }
      const view = (await stored(id)).containers[0];
      expect(view.env.find((e: Json) => e.name === 'PUBLIC_URL')).toEqual({ name: 'PUBLIC_URL', value: 'https://public.example.com', secret: false });
      expect(view.env.filter((e: Json) => e.value === MASK).map((e: Json) => e.name)).toEqual(['DATABASE_URL', 'SENTRY_DSN', 'CACHE_URL', 'API_TOKEN', 'APP_SECRET']);
      expect(view.command.slice(3)).toEqual([`--password=${MASK}`, MASK, '--api-token', MASK]);
      for (const role of ['operator', 'support', 'viewer'] as const) {
        const res = await inject(await t.signIn(role), 'GET', `/containers/hosts/local/docker/containers/slw-${id}-web`);
        expect(res.statusCode).toBe(200);
        for (const v of secrets) expect(res.body, `${role} inspect ${v}`).not.toContain(v);
        expect((res.json() as Json).container.Config.Cmd.slice(3)).toEqual([`--password=${MASK}`, MASK, '--api-token', MASK]);
      }
      // The owner saves what it was shown: the real values stay in the container.
      const done = await patchJob(owner, id, { containers: [view] });
      expect(done.state, done.error ?? '').toBe('succeeded');
      const c = await containerOf(id);
      expect(c.Config.Env).toEqual(expect.arrayContaining(env.map((e) => `${e.name}=${e.value}`)));
      expect(c.Config.Cmd).toEqual(command);
    });
  });

  describe('finding 15: a hostname belongs to one owner, across sites and containers; nobody takes the panel\'s', () => {
    const taken = (res: { statusCode: number; json(): unknown; body: string }, what: string) => {
      expect(res.statusCode, `${what}: ${res.body}`).toBe(409);
      expect(errorOf(res), what).toMatchObject({ code: 'hostname_taken' });
      // The 409 never says whose it is or which service uses it.
      expect(errorOf(res).message, what).not.toMatch(/service|site\b/i);
    };
    const reserved = (res: { statusCode: number; json(): unknown; body: string }, what: string) => {
      expect(res.statusCode, `${what}: ${res.body}`).toBe(409);
      expect(errorOf(res), what).toMatchObject({ code: 'hostname_reserved' });
    };
    async function siteOf(who: SignedIn, domain: string): Promise<void> {
      const res = await inject(who, 'POST', '/sites', { domain, type: 'html' });
      expect(res.statusCode, res.body).toBe(202);
      const done = await t.services.jobs.waitFor((res.json() as { job: { id: string } }).job.id, 30_000);
      expect(done.state, done.error ?? '').toBe('succeeded');
    }

    it('tenant B cannot create a service with tenant A\'s site domain or container hostname (409, nothing created)', async () => {
      const a = await t.signIn('user');
      const b = await t.signIn('user');
      const s = uniq();
      await siteOf(a, `a-${s}.example.com`);
      const ida = await create(a, body(`own-${s}`, { hostnames: [`a-${s}.localhost`] }));
      for (const hostname of [`a-${s}.example.com`, `www.a-${s}.example.com`, `shop.a-${s}.example.com`, `a-${s}.localhost`, `www.a-${s}.localhost`]) {
        const name = `steal-${uniq()}`;
        taken(await inject(b, 'POST', '/containers', body(name, { hostnames: [`b-${uniq()}.localhost`, hostname] })), hostname);
        expect(await names(), hostname).not.toContain(name);
      }
      // Nor by changing one of its own services; nothing changes.
      const idb = await create(b, body(`mine-${s}`, { hostnames: [`b-${s}.localhost`] }));
      const before = await stored(idb);
      for (const hostname of [`a-${s}.example.com`, `a-${s}.localhost`]) {
        taken(await inject(b, 'PATCH', `/containers/${idb}`, { hostnames: [hostname] }), `PATCH ${hostname}`);
      }
      expect((await stored(idb)).hostnames).toEqual(before.hostnames);
      // And the other way round: B's container hostname is not a site A can create.
      const site = await inject(a, 'POST', '/sites', { domain: `b-${s}.localhost`, type: 'html' });
      expect(site.statusCode, site.body).toBe(409);
      expect(errorOf(site).code).toBe('hostname_taken');
      // A's own site domain is A's to use in a service; A's visitors still reach A.
      expect(await create(a, body(`own2-${s}`, { hostnames: [`a-${s}.example.com`] }))).toBeTruthy();
      expect((await viaCaddy(httpPort, `a-${s}.localhost`)).body.trim()).toBe(`hello own-${s}`);
      expect((await stored(ida)).ownerId).toBe(a.user.id);
    });

    it('nobody, not even an admin, claims the panel\'s own hostname; tenants neither names under it', async () => {
      const b = await t.signIn('user');
      for (const hostname of ['panel.example.net', 'www.panel.example.net']) {
        for (const who of [b, admin]) {
          const name = `panel-${uniq()}`;
          reserved(await inject(who, 'POST', '/containers', body(name, { hostnames: [hostname] })), `${who.user.role} ${hostname}`);
          expect(await names()).not.toContain(name);
        }
      }
      reserved(await inject(b, 'POST', '/containers', body(`panel-${uniq()}`, { hostnames: ['login.panel.example.net'] })), 'user login.panel.example.net');
      const idb = await create(b, body(`pn-${uniq()}`));
      reserved(await inject(b, 'PATCH', `/containers/${idb}`, { hostnames: ['panel.example.net'] }), 'PATCH panel.example.net');
    });

    it('a name is released when the service stops using it (update) or is deleted, and only then', async () => {
      const a = await t.signIn('user');
      const b = await t.signIn('user');
      const s = uniq();
      const name = `rel-${s}`;
      const id = await create(a, body(name, { hostnames: [`old-${s}.localhost`, `keep-${s}.localhost`] }));
      expect((await patchJob(a, id, { hostnames: [`new-${s}.localhost`, `keep-${s}.localhost`] })).state).toBe('succeeded');
      taken(await inject(b, 'POST', '/containers', body(`x-${uniq()}`, { hostnames: [`new-${s}.localhost`] })), 'the new name');
      taken(await inject(b, 'POST', '/containers', body(`x-${uniq()}`, { hostnames: [`keep-${s}.localhost`] })), 'the kept name');
      // The name A no longer uses is free again.
      const site = await inject(b, 'POST', '/sites', { domain: `old-${s}.localhost`, type: 'html' });
      expect(site.statusCode, site.body).toBe(202);
      expect((await t.services.jobs.waitFor((site.json() as { job: { id: string } }).job.id, 30_000)).state).toBe('succeeded');
      const del = await inject(a, 'DELETE', `/containers/${id}`, { confirm: name });
      expect(del.statusCode, del.body).toBe(202);
      expect((await t.services.jobs.waitFor((del.json() as { job: { id: string } }).job.id, 60_000)).state).toBe('succeeded');
      expect(await create(b, body(`y-${s}`, { hostnames: [`new-${s}.localhost`, `keep-${s}.localhost`] }))).toBeTruthy();
    });
  });
});
