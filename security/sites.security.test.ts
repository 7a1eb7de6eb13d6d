import { renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { serverModule } from '../modules/server/server/index.js';
import { sitesModule } from '../modules/sites/server/index.js';
import { createFakeWo, type FakeWo } from '../modules/sites/server/test-fixtures/fake-wo.js';
import { createTestApp, type SignedIn, type TestApp } from '../server/src/testing/harness.js';

type Json = Record<string, any>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Hostile tenants against the sites module (issue 9, findings 2, 5, 6, 14 and 15). A `user` owns a
 * site whose PHP runs as www-data and can rewrite anything in its webroot; the panel is real (routes,
 * auth, jobs, database) and `wo` is the fake that reproduces WordOps' output.
 */
describe('sites: a hostile tenant', () => {
  let fake: FakeWo;
  let t: TestApp;
  let admin: SignedIn;
  let tenant: SignedIn;
  let other: SignedIn;
  let operator: SignedIn;
  let http: string;
  let secretsFile: string;
  const SECRET_MARK = /jwt|dataKey|BEGIN|"key"|root:[^:]*:0:0|\$y\$|\$6\$/i;

  const req = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, who: SignedIn, payload?: unknown) => {
    const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: who.headers, ...(payload !== undefined ? { payload: payload as Json } : {}) });
    return { status: res.statusCode, body: res.body ? (res.json() as Json) : {}, raw: res.body };
  };
  const finish = async (id: string) => t.services.jobs.waitFor(id, 30_000);
  const jobLines = async (id: string) => (await t.services.jobs.logs(id, { kind: 'system', userId: null, username: 'system', role: 'admin' })).map((l) => l.line);

  /** Reads an SSE response for `ms` and returns its text. */
  async function sse(url: string, who: SignedIn, ms = 2500): Promise<{ status: number; text: string }> {
    const abort = new AbortController();
    const res = await fetch(`${http}/api/v1${url}`, { headers: who.headers, signal: abort.signal });
    if (res.status !== 200 || !res.body) {
      const text = await res.text();
      return { status: res.status, text };
    }
    const reader = res.body.getReader();
    let text = '';
    const timer = setTimeout(() => abort.abort(), ms);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    } catch {
      /* aborted */
    } finally {
      clearTimeout(timer);
    }
    return { status: res.status, text };
  }

  async function ws(url: string, who: SignedIn, ms = 2500): Promise<{ status: number; text: string }> {
    const sock = new WebSocket(`${http.replace('http', 'ws')}/api/v1${url}`, ['slipway.v1', `bearer.${who.token}`]);
    let text = '';
    return new Promise((resolve) => {
      sock.on('unexpected-response', (_q, res) => resolve({ status: res.statusCode ?? 0, text }));
      sock.on('message', (m) => (text += String(m)));
      sock.on('open', () => setTimeout(() => {
        sock.close();
        resolve({ status: 101, text });
      }, ms));
      sock.on('error', () => resolve({ status: 0, text }));
    });
  }

  beforeAll(async () => {
    fake = createFakeWo({ sites: { 'admin-owned.example.com': { site_type: 'html', cache_type: 'basic', php_version: null } } });
    t = await createTestApp({
      modules: [serverModule, sitesModule], startBackground: true,
      env: { ...fake.env, SLIPWAY_SITES_HOSTS: 'local,second', SLIPWAY_PUBLIC_URL: 'https://panel.example.net' },
    });
    secretsFile = path.join(t.dataDir, 'secrets.json');
    // A second WordOps host (unreachable: hostname rules are decided before any command runs there).
    const at = Date.now();
    await t.services.database.db.insertInto('hosts').values({
      id: 'second', name: 'second', kind: 'ssh', address: '127.0.0.1', port: 1, username: 'root', host_key_fingerprint: null,
      capabilities: JSON.stringify({ wordops: true }), status: 'offline', last_checked_at: null, created_at: at, updated_at: at,
    }).execute();
    admin = await t.signIn('admin');
    tenant = await t.signIn('user');
    other = await t.signIn('user');
    operator = await t.signIn('operator');
    http = await t.app.listen({ host: '127.0.0.1', port: 0 });
    expect((await req('POST', '/sites/refresh', admin)).status).toBe(200);
    const created = await req('POST', '/sites', tenant, { domain: 'tenant.example.com', type: 'php' });
    expect(created.status).toBe(202);
    expect((await finish(created.body.job.id)).state).toBe('succeeded');
  });
  afterAll(async () => {
    await t?.close();
    fake?.cleanup();
  });

  describe('finding 2: reading host files through a symlinked site log', () => {
    const webrootLog = (kind: string) => `${fake.webrootBase}tenant.example.com/logs/${kind}.log`;
    const nginxLog = (kind: string) => path.join(fake.nginxLogDir, `tenant.example.com.${kind}.log`);
    const targets = () => [secretsFile, '/etc/shadow', path.join(t.dataDir, 'slipway.db')];

    it('serves the nginx log built from the domain, whatever the webroot link points at', async () => {
      writeFileSync(nginxLog('access'), '198.51.100.1 - - "GET / HTTP/1.1" 200\n');
      for (const kind of ['access', 'error']) {
        for (const target of targets()) {
          // the tenant's PHP (www-data owns the webroot) replaces its log link
          rmSync(webrootLog(kind), { force: true });
          symlinkSync(target, webrootLog(kind));
          const r = await req('GET', `/sites/tenant.example.com/logs?kind=${kind}&lines=200`, tenant);
          expect(r.status, `${kind} -> ${target}`).toBe(200);
          expect(r.raw, `${kind} -> ${target}`).not.toMatch(SECRET_MARK);
          const stream = await sse(`/sites/tenant.example.com/logs?kind=${kind}&lines=200&follow=true`, tenant, 1200);
          expect(stream.text, `SSE ${kind} -> ${target}`).not.toMatch(SECRET_MARK);
        }
      }
      const r = await req('GET', '/sites/tenant.example.com/logs?kind=access&lines=5', tenant);
      expect(r.body.lines).toEqual(['198.51.100.1 - - "GET / HTTP/1.1" 200']);
    });

    it('refuses the allowed log itself when it is a symlink, on the site endpoint (HTTP and SSE)', async () => {
      for (const kind of ['access', 'error']) {
        for (const target of targets()) {
          rmSync(nginxLog(kind), { force: true });
          symlinkSync(target, nginxLog(kind));
          const r = await req('GET', `/sites/tenant.example.com/logs?kind=${kind}&lines=200`, tenant);
          expect(r.status, `${kind} -> ${target}`).toBe(422);
          expect(r.body.error.code).toBe('unsafe_file');
          expect(r.raw).not.toMatch(SECRET_MARK);
          const stream = await sse(`/sites/tenant.example.com/logs?kind=${kind}&lines=200&follow=true`, tenant, 800);
          expect(stream.status).toBe(422);
          expect(stream.text).not.toMatch(SECRET_MARK);
        }
        rmSync(nginxLog(kind), { force: true });
        writeFileSync(nginxLog(kind), '');
      }
    });

    it('refuses a link that appears while a site log is followed (rotation into a symlink)', async () => {
      writeFileSync(nginxLog('error'), 'first\n');
      const pending = sse('/sites/tenant.example.com/logs?kind=error&lines=5&follow=true', tenant, 3500);
      await sleep(800);
      renameSync(nginxLog('error'), `${nginxLog('error')}.1`);
      symlinkSync(secretsFile, nginxLog('error'));
      const stream = await pending;
      expect(stream.text).toContain('first');
      expect(stream.text).not.toMatch(SECRET_MARK);
      rmSync(nginxLog('error'), { force: true });
      writeFileSync(nginxLog('error'), '');
    });

    it('refuses the same links through the server log viewer (HTTP, download, SSE and WebSocket)', async () => {
      const list = await req('GET', '/server/logs?host=local', operator);
      expect(list.status).toBe(200);
      const src = (list.body.items as Json[]).find((s) => s.id === 'site-tenant.example.com-access');
      expect(src).toMatchObject({ path: nginxLog('access') });
      for (const target of targets()) {
        // the old webroot path is not what the viewer reads any more
        rmSync(webrootLog('access'), { force: true });
        symlinkSync(target, webrootLog('access'));
        rmSync(nginxLog('access'), { force: true });
        symlinkSync(target, nginxLog('access'));
        const listed = await req('GET', '/server/logs?host=local', operator);
        expect((listed.body.items as Json[]).find((s) => s.id === 'site-tenant.example.com-access')?.available).toBe(false);
        const tail = await req('GET', '/server/logs/site-tenant.example.com-access?lines=200', operator);
        expect(tail.status, target).toBe(422);
        expect(tail.raw).not.toMatch(SECRET_MARK);
        const dl = await req('GET', '/server/logs/site-tenant.example.com-access/download?lines=200', operator);
        expect(dl.status).toBe(422);
        expect(dl.raw).not.toMatch(SECRET_MARK);
        const s = await sse('/server/logs/site-tenant.example.com-access/stream?lines=200', operator, 800);
        expect(s.status).toBe(422);
        expect(s.text).not.toMatch(SECRET_MARK);
        const w = await ws('/server/logs/site-tenant.example.com-access/ws?lines=200', operator, 800);
        expect(w.status).toBe(422);
        expect(w.text).not.toMatch(SECRET_MARK);
      }
      rmSync(nginxLog('access'), { force: true });
      writeFileSync(nginxLog('access'), 'ok line\n');
      const ok = await req('GET', '/server/logs/site-tenant.example.com-access?lines=5', operator);
      expect(ok.status).toBe(200);
      expect(ok.raw).toContain('ok line');
    });

    it('does not let a tenant read another tenant\'s site log', async () => {
      expect((await req('GET', '/sites/tenant.example.com/logs?kind=access', other)).status).toBe(404);
      expect((await sse('/sites/tenant.example.com/logs?kind=access&follow=true', other, 500)).status).toBe(404);
    });
  });

  const asActor = (who: SignedIn) => ({ kind: 'user' as const, userId: who.user.id, username: who.user.username, role: who.user.role });
  const owner = async (domain: string, host = 'local') => (await req('GET', `/sites/${domain}?host=${host}`, admin)).body.site?.ownerId as string | null | undefined;

  describe('finding 5: taking over a site by "creating" it', () => {
    it('refuses to "create" a site WordOps already has but the inventory does not know yet; nobody becomes its owner', async () => {
      // created on the host outside the panel (or before the last refresh)
      const st = fake.state();
      fake.setState({ ...st, sites: { ...st.sites, 'victim.example.com': { site_type: 'wp', cache_type: 'basic', php_version: '8.3' } } });
      const before = fake.calls().filter((a) => a[1] === 'create').length;
      const r = await req('POST', '/sites', tenant, { domain: 'victim.example.com', type: 'html' });
      expect(r.status).toBe(409);
      expect(fake.calls().filter((a) => a[1] === 'create').length).toBe(before);
      expect((await req('GET', '/sites/victim.example.com', tenant)).status).toBe(404);
      expect(await owner('victim.example.com')).toBeNull();
      // and it now holds its name: another tenant cannot use it on another host either
      expect((await req('POST', '/sites', other, { host: 'second', domain: 'victim.example.com', type: 'html' })).body.error.code).toBe('hostname_taken');
    });

    it('never sets or overwrites an owner when `wo site create` fails with "already exists" (the job run directly)', async () => {
      const mine = await req('POST', '/sites', other, { domain: 'others.example.com', type: 'html' });
      expect((await finish(mine.body.job.id)).state).toBe('succeeded');
      expect(await owner('others.example.com')).toBe(other.user.id);
      for (const forget of [false, true]) {
        // variant: the inventory row is gone (a refresh raced), so only `wo` knows the site
        if (forget) await (t.services.database.db as any).deleteFrom('sites_inventory').where('domain', '=', 'others.example.com').execute();
        const job = await t.services.jobs.enqueue('sites.create', { hostId: 'local', domain: 'others.example.com', ownerId: tenant.user.id, options: { type: 'html', letsencrypt: 'off', hsts: false } }, { actor: asActor(tenant), resource: 'site:local:others.example.com' });
        const done = await finish(job.id);
        expect(done.state).toBe('failed');
        expect(done.error).toMatch(/already exists/);
        expect(await owner('others.example.com'), `inventory forgotten: ${forget}`).toBe(forget ? null : other.user.id);
        expect((await req('GET', '/sites/others.example.com', tenant)).status).toBe(404);
      }
    });

    it('a failed create leaves no owned row and frees the name', async () => {
      fake.setState({ ...fake.state(), fail: { nginxConf: true } });
      const r = await req('POST', '/sites', tenant, { domain: 'broken.example.com', type: 'html' });
      expect(r.status).toBe(202);
      const done = await finish(r.body.job.id);
      fake.setState({ ...fake.state(), fail: {} });
      expect(done.state).toBe('failed');
      expect((await req('GET', '/sites/broken.example.com', tenant)).status).toBe(404);
      expect((await req('GET', '/sites/broken.example.com', admin)).status).toBe(404);
      const again = await req('POST', '/sites', other, { domain: 'broken.example.com', type: 'html' });
      expect(again.status).toBe(202);
      expect((await finish(again.body.job.id)).state).toBe('succeeded');
      expect(await owner('broken.example.com')).toBe(other.user.id);
    });

    it('records the intended owner before `wo site create` runs (a crash leaves it owned and pending), and settles it afterwards', async () => {
      fake.setState({ ...fake.state(), delayMs: 2500 });
      const r = await req('POST', '/sites', tenant, { domain: 'slow.example.com', type: 'html' });
      expect(r.status).toBe(202);
      await sleep(300);
      const during = await req('GET', '/sites/slow.example.com', tenant);
      expect(during.status).toBe(200);
      expect(during.body.site).toMatchObject({ ownerId: tenant.user.id, state: 'pending' });
      // a second create of the same name meanwhile: 409, by anyone
      expect((await req('POST', '/sites', other, { domain: 'slow.example.com', type: 'html' })).status).toBe(409);
      expect((await req('POST', '/sites', admin, { domain: 'slow.example.com', type: 'html' })).status).toBe(409);
      expect((await req('DELETE', '/sites/slow.example.com', tenant, { confirm: 'slow.example.com' })).status).toBe(409);
      await finish(r.body.job.id);
      fake.setState({ ...fake.state(), delayMs: 0 });
      expect((await req('GET', '/sites/slow.example.com', tenant)).body.site).toMatchObject({ ownerId: tenant.user.id, state: 'ready' });

      // What a crash leaves: a pending row whose job ended without confirming it. A refresh settles it:
      // the site exists on the host -> kept for its recorded owner; it does not -> removed, name freed.
      const db = t.services.database.db as any;
      const at = Date.now() - 120_000;
      const jobId = 'job-lost-in-a-crash'; // its job row is gone or finished: nothing will confirm the row
      const st = fake.state();
      fake.setState({ ...st, sites: { ...st.sites, 'crashed.example.com': { site_type: 'html', cache_type: 'basic', php_version: null } } });
      for (const d of ['crashed.example.com', 'neverran.example.com']) {
        await db.insertInto('sites_inventory').values({
          id: `crash-${d}`, host_id: 'local', domain: d, site_type: 'html', cache_type: null, php_version: null, enabled: 1, ssl: 0, ssl_provider: null,
          ssl_expires_at: null, ssl_days_left: null, ssl_checked_at: null, hsts: null, webroot: null, db_name: null, disk_bytes: null,
          owner_id: tenant.user.id, state: 'pending', pending_job_id: jobId, refreshed_at: at, created_at: at, updated_at: at,
        }).execute();
      }
      expect((await req('GET', '/sites/crashed.example.com', tenant)).body.site).toMatchObject({ ownerId: tenant.user.id, state: 'pending' });
      await req('POST', '/sites/refresh', admin);
      expect((await req('GET', '/sites/crashed.example.com', tenant)).body.site).toMatchObject({ ownerId: tenant.user.id, state: 'ready' });
      expect((await req('GET', '/sites/neverran.example.com', admin)).status).toBe(404);
    });
  });

  describe('finding 6: SSRF through a proxy site', () => {
    const hostile: [string, number][] = [
      ['127.0.0.1', 2019], ['localhost', 2019], ['0.0.0.0', 2019], ['169.254.169.254', 80], ['10.0.0.1', 80], ['10.1.2.3', 8080], ['172.16.0.1', 80],
      ['172.31.1.1', 80], ['192.168.1.1', 80], ['100.64.0.1', 80], ['2130706433', 2019], ['0x7f000001', 2019], ['0177.0.0.1', 2019], ['127.1', 2019],
      ['localhost.localdomain', 2019], ['255.255.255.255', 80], ['224.0.0.1', 80],
    ];
    it.each(hostile)('a user cannot proxy a site to %s:%s (nothing reaches wo)', async (host, port) => {
      const before = fake.calls().length;
      const r = await req('POST', '/sites', tenant, { domain: `p${port}-${host.replace(/\W/g, '')}.example.com`, type: 'proxy', proxy: { host, port } });
      expect([400, 422], `${host}:${port} -> ${r.status} ${r.raw}`).toContain(r.status);
      if (r.status === 422) expect(r.body.error.code).toBe('network_target_refused');
      expect(fake.calls().length).toBe(before);
    });

    it('refuses IPv6 and mapped forms at the schema (WordOps proxies IPv4 only) and the panel\'s own address', async () => {
      for (const host of ['[::1]', '::1', '::ffff:127.0.0.1', 'fd00:ec2::254']) {
        expect((await req('POST', '/sites', tenant, { domain: 'v6.example.com', type: 'proxy', proxy: { host, port: 80 } })).status, host).toBe(400);
      }
      const port = Number(new URL(http).port);
      const r = await req('POST', '/sites', operator, { domain: 'panel-proxy.example.com', type: 'proxy', proxy: { host: '127.0.0.1', port } });
      expect(r.status).toBe(422);
    });

    it('pins a public backend to its address; an admin is not restricted', async () => {
      const r = await req('POST', '/sites', tenant, { domain: 'pub.example.com', type: 'proxy', proxy: { host: '93.184.215.14', port: 8080 } });
      expect(r.status).toBe(202);
      await finish(r.body.job.id);
      expect(fake.calls()).toContainEqual(['site', 'create', 'pub.example.com', '--proxy=93.184.215.14:8080']);
      const a = await req('POST', '/sites', admin, { domain: 'internal.example.com', type: 'proxy', proxy: { host: '127.0.0.1', port: 3000 } });
      expect(a.status).toBe(202);
      await finish(a.body.job.id);
    });
  });

  describe('finding 14: secrets in wo output', () => {
    it('redacts password, secret, token and key values in the job log and the job error', async () => {
      const secret = 'Zq9-topsecret-Value';
      fake.setState({ ...fake.state(), echo: ['HTTP Auth User Name: WordOps', `HTTP Auth Password : ${secret}`, `DB_PASSWORD=${secret}`, `api_key: ${secret}`, `X-Auth-Token=${secret}`] });
      const r = await req('POST', '/sites', tenant, { domain: 'wp-redact.example.com', type: 'wp' });
      const done = await finish(r.body.job.id);
      fake.setState({ ...fake.state(), echo: [] });
      expect(done.state).toBe('succeeded');
      const lines = await jobLines(r.body.job.id);
      expect(lines).toContain('HTTP Auth Password : [redacted]');
      expect(lines).toContain('HTTP Auth User Name: WordOps');
      expect(lines.some((l) => /WordPress admin password : \[redacted\]/.test(l))).toBe(true);
      expect(lines.join('\n')).not.toContain(secret);
      const api = await sse(`/jobs/${r.body.job.id}/logs`, tenant, 1500);
      expect(api.text).toContain('HTTP Auth Password : [redacted]');
      expect(api.text).not.toContain(secret);
    });
  });

  describe('finding 15: hostname ownership', () => {
    it('refuses a second tenant the same hostname on another host and under another tenant\'s domain', async () => {
      for (const domain of ['tenant.example.com', 'TENANT.example.com.', 'www.tenant.example.com']) {
        const r = await req('POST', '/sites', other, { host: 'second', domain, type: 'html' });
        expect(r.status, domain).toBe(409);
        expect(r.body.error.code).toBe('hostname_taken');
      }
      for (const domain of ['shop.tenant.example.com', 'a.b.tenant.example.com']) {
        const r = await req('POST', '/sites', other, { domain, type: 'html' });
        expect(r.body.error.code, domain).toBe('hostname_taken');
      }
      // the owner may add its own subdomain
      const own = await req('POST', '/sites', tenant, { domain: 'shop.tenant.example.com', type: 'html' });
      expect(own.status).toBe(202);
      await finish(own.body.job.id);
    });

    it('lets nobody claim the panel\'s own hostname, and no tenant its subdomains or parent', async () => {
      for (const who of [tenant, admin]) {
        const r = await req('POST', '/sites', who, { domain: 'panel.example.net', type: 'html' });
        expect(r.status).toBe(409);
        expect(r.body.error.code).toBe('hostname_reserved');
      }
      for (const domain of ['evil.panel.example.net', 'example.net', 'www.panel.example.net']) {
        expect((await req('POST', '/sites', tenant, { domain, type: 'html' })).body.error.code, domain).toBe('hostname_reserved');
      }
    });

    it('frees the name when the site is deleted', async () => {
      const del = await req('DELETE', '/sites/shop.tenant.example.com', tenant, { confirm: 'shop.tenant.example.com' });
      expect((await finish(del.body.job.id)).state).toBe('succeeded');
      const r = await req('POST', '/sites', tenant, { host: 'second', domain: 'shop.tenant.example.com', type: 'html' });
      expect(r.body.error?.code).not.toBe('hostname_taken');
    });
  });
});
