import { appendFileSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PublishedEvent } from '../../../server/src/testing/index.js';
import { createTestApp, type SignedIn, type TestApp } from '../../../server/src/testing/harness.js';
import { sitesModule } from './index.js';
import { createFakeWo, type FakeWo } from './test-fixtures/fake-wo.js';

type Json = Record<string, any>;

describe('sites API over the fake wo (local host)', () => {
  let fake: FakeWo;
  let t: TestApp;
  let admin: SignedIn;
  const events: PublishedEvent[] = [];

  const req = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, who: SignedIn, payload?: unknown) => {
    const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: who.headers, ...(payload !== undefined ? { payload: payload as Json } : {}) });
    return { status: res.statusCode, body: res.body ? (res.json() as Json) : {} };
  };
  const finish = async (job: Json) => {
    const done = await t.services.jobs.waitFor(job.id as string, 30_000);
    const lines = (await t.services.jobs.logs(job.id as string, { kind: 'system', userId: null, username: 'system', role: 'admin' })).map((l) => l.line);
    return { job: done, lines };
  };

  beforeAll(async () => {
    fake = createFakeWo({
      sites: {
        'blog.example.com': { site_type: 'wp', cache_type: 'wpfc', php_version: '8.2', is_ssl: true, db_name: 'blog_example_com', db_user: 'blog_u', db_password: 'hunter2' },
        'shop.example.org': { site_type: 'php83', cache_type: 'basic', php_version: '8.3' },
        'old.example.net': { site_type: 'html', cache_type: 'basic', php_version: null, is_enabled: false, is_ssl: true },
      },
    });
    fake.writeCertificate('blog.example.com', 10);
    fake.writeCertificate('old.example.net', 80);
    t = await createTestApp({
      modules: [sitesModule],
      env: {
        SLIPWAY_SITES_WO_DIR: fake.dir,
        SLIPWAY_SITES_CERT_DIR: fake.certDir,
        SLIPWAY_SITES_NGINX_LOG_DIR: fake.nginxLogDir,
        SLIPWAY_SITES_REFRESH_INTERVAL_SECONDS: '0',
        SLIPWAY_SITES_CERT_CHECK_INTERVAL_HOURS: '0',
      },
    });
    t.services.events.subscribe((e) => events.push(e));
    admin = await t.signIn('admin');
    const r = await req('POST', '/sites/refresh', admin);
    expect(r.status).toBe(200);
    // The module's own first refresh (fast, then deep) runs in the background: let it finish so the
    // tests below can count `wo` calls. Quiet means 2 s without a new call: on a loaded CI machine
    // one `wo` call of the deep refresh can take longer than half a second.
    for (const until = Date.now() + 30_000; (await req('GET', '/sites', admin)).body.total !== 3 && Date.now() < until; ) await new Promise((res) => setTimeout(res, 100));
    for (let quiet = 0, n = -1; quiet < 20; ) {
      await new Promise((res) => setTimeout(res, 100));
      const now = fake.calls().length;
      quiet = now === n ? quiet + 1 : 0;
      n = now;
    }
  });
  afterAll(async () => {
    await t?.close();
    fake?.cleanup();
  });

  it('lists the inventory with filters, search and pagination, without calling wo per request', async () => {
    const before = fake.calls().length;
    const all = await req('GET', '/sites', admin);
    expect(all.status).toBe(200);
    expect(all.body.total).toBe(3);
    expect(all.body.items.map((s: Json) => s.domain)).toEqual(['blog.example.com', 'old.example.net', 'shop.example.org']);
    expect((await req('GET', '/sites?type=wp', admin)).body.items.map((s: Json) => s.domain)).toEqual(['blog.example.com']);
    expect((await req('GET', '/sites?type=php&php=8.3', admin)).body.items.map((s: Json) => s.domain)).toEqual(['shop.example.org']);
    expect((await req('GET', '/sites?ssl=true', admin)).body.total).toBe(2);
    expect((await req('GET', '/sites?enabled=false', admin)).body.items.map((s: Json) => s.domain)).toEqual(['old.example.net']);
    expect((await req('GET', '/sites?cache=wpfc', admin)).body.total).toBe(1);
    expect((await req('GET', '/sites?search=SHOP', admin)).body.items.map((s: Json) => s.domain)).toEqual(['shop.example.org']);
    expect((await req('GET', '/sites?search=%25', admin)).body.total).toBe(0); // a literal %, not a wildcard
    const page = await req('GET', '/sites?limit=1&offset=1', admin);
    expect(page.body).toMatchObject({ total: 3, limit: 1, offset: 1 });
    expect(page.body.items.map((s: Json) => s.domain)).toEqual(['old.example.net']);
    expect(fake.calls().length).toBe(before);
  });

  it('shows one site with SSL expiry from its certificate, webroot, database and disk use', async () => {
    const r = await req('GET', '/sites/blog.example.com', admin);
    expect(r.status).toBe(200);
    const site = r.body.site as Json;
    expect(site).toMatchObject({ domain: 'blog.example.com', host: 'local', type: 'wp', cache: 'wpfc', php: '8.2', enabled: true, webroot: `${fake.webrootBase}blog.example.com`, databaseName: 'blog_example_com' });
    expect(site.ssl.enabled).toBe(true);
    expect(site.ssl.daysLeft).toBeGreaterThanOrEqual(9);
    expect(site.ssl.daysLeft).toBeLessThanOrEqual(10);
    expect(Math.abs(site.ssl.expiresAt - (Date.now() + 10 * 86_400_000))).toBeLessThan(86_400_000 + 60_000);
    expect(JSON.stringify(r.body)).not.toContain('hunter2');
    expect((await req('GET', '/sites/nope.example.com', admin)).status).toBe(404);
  });

  it('raises a certificate alert and an event for a certificate within 14 days, none for a healthy one', async () => {
    const r = await req('GET', '/sites/alerts', admin);
    expect(r.status).toBe(200);
    expect(r.body.items).toHaveLength(1);
    expect(r.body.items[0]).toMatchObject({ domain: 'blog.example.com', kind: 'expiring' });
    expect(r.body.items[0].message).toMatch(/expires in (9|10) days/);
    expect(events.filter((e) => e.type === 'sites.certificate_expiring').map((e) => e.data?.domain)).toEqual(['blog.example.com']);
    // a second check does not repeat the event
    await req('POST', '/sites/refresh', admin);
    expect(events.filter((e) => e.type === 'sites.certificate_expiring')).toHaveLength(1);
  });

  it('creates a WordPress site with Redis and Let\'s Encrypt as a job with the live wo output', async () => {
    const r = await req('POST', '/sites', admin, {
      domain: 'new.example.com', type: 'wp', php: '8.3', cache: 'wpredis', letsencrypt: 'on', hsts: true, adminUser: 'boss', adminEmail: 'boss@example.com',
    });
    expect(r.status).toBe(202);
    expect(r.body.job).toMatchObject({ type: 'sites.create', resource: 'site:local:new.example.com' });
    const { job, lines } = await finish(r.body.job);
    expect(job.state).toBe('succeeded');
    expect(lines).toContain('$ wo site create new.example.com --wp --php83 --wpredis --user=boss --email=boss@example.com --letsencrypt=on --hsts');
    expect(lines).toContain('Successfully created site http://new.example.com');
    expect(lines).toContain('WordPress admin password : [redacted]');
    const site = (await req('GET', '/sites/new.example.com', admin)).body.site as Json;
    expect(site).toMatchObject({ type: 'wp', cache: 'wpredis', php: '8.3', hsts: true, ssl: { enabled: true, daysLeft: 89 } });
    const audit = await t.services.audit.list({ action: 'sites.create', limit: 10 });
    expect(audit.items.map((a) => a.target?.id)).toContain('local:new.example.com');
    expect((await req('POST', '/sites', admin, { domain: 'new.example.com', type: 'html' })).status).toBe(409);
  });

  it('switches PHP version and cache, and locks a site against a second change while one runs', async () => {
    fake.setState({ ...fake.state(), delayMs: 1500 });
    const first = await req('PUT', '/sites/shop.example.org', admin, { php: '8.4' });
    expect(first.status).toBe(202);
    const second = await req('PUT', '/sites/shop.example.org', admin, { enabled: false });
    expect(second.status).toBe(409);
    expect(second.body.error.message).toContain(first.body.job.id);
    const { job } = await finish(first.body.job);
    fake.setState({ ...fake.state(), delayMs: 0 });
    expect(job.state).toBe('succeeded');
    expect((await req('GET', '/sites/shop.example.org', admin)).body.site.php).toBe('8.4');
    expect(fake.calls()).toContainEqual(['site', 'update', 'shop.example.org', '--php84']);

    const cache = await req('PUT', '/sites/blog.example.com', admin, { cache: 'wprocket' });
    expect((await finish(cache.body.job)).job.state).toBe('succeeded');
    expect(fake.calls()).toContainEqual(['site', 'update', 'blog.example.com', '--wp', '--wprocket']);
    expect((await req('GET', '/sites/blog.example.com', admin)).body.site.cache).toBe('wprocket');
    // rules checked before any job: no cache on a PHP site, nothing-to-change
    expect((await req('PUT', '/sites/shop.example.org', admin, { cache: 'wpredis' })).status).toBe(422);
    expect((await req('PUT', '/sites/shop.example.org', admin, { php: '8.4' })).body.error.code).toBe('nothing_to_change');
  });

  it('reports a failed renewal as a failed job, an alert and an event, undoing the PHP switch of the same change', async () => {
    fake.setState({ ...fake.state(), fail: { renew: true } });
    const r = await req('PUT', '/sites/blog.example.com', admin, { php: '8.1', renewCertificate: true });
    const { job, lines } = await finish(r.body.job);
    fake.setState({ ...fake.state(), fail: {} });
    expect(job.state).toBe('failed');
    expect(job.error).toContain('Unable to renew certificate');
    expect(lines).toContain('$ wo site update blog.example.com --letsencrypt=renew');
    const updates = fake.calls().filter((a) => a[1] === 'update' && a[2] === 'blog.example.com').slice(-3).map((a) => a[3]);
    expect(updates).toEqual(['--php81', '--letsencrypt=renew', '--php82']);
    expect(fake.state().sites['blog.example.com']!.php_version).toBe('8.2');
    expect(job.steps.find((st) => st.name === 'PHP version')?.state).toBe('undone');
    const alerts = (await req('GET', '/sites/alerts', admin)).body.items as Json[];
    expect(alerts.map((a) => `${a.domain}:${a.kind}`)).toContain('blog.example.com:renewal_failed');
    expect(events.some((e) => e.type === 'sites.certificate_renewal_failed' && e.data?.domain === 'blog.example.com')).toBe(true);
  });

  it('tails a site\'s access log from the allow-listed path only', async () => {
    appendFileSync(`${fake.webrootBase}new.example.com/logs/access.log`, '1.2.3.4 - - "GET / HTTP/1.1" 200\n5.6.7.8 - - "GET /wp-login.php HTTP/1.1" 200\n');
    const r = await req('GET', '/sites/new.example.com/logs?kind=access&lines=1', admin);
    expect(r.status).toBe(200);
    expect(r.body.lines).toEqual(['5.6.7.8 - - "GET /wp-login.php HTTP/1.1" 200']);
    expect((await req('GET', '/sites/new.example.com/logs?kind=../../etc/passwd', admin)).status).toBe(400);
  });

  it('follows a site\'s error log live over SSE', async () => {
    const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const abort = new AbortController();
    const res = await fetch(`${address}/api/v1/sites/new.example.com/logs?kind=error&lines=5&follow=true`, { headers: admin.headers, signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const marker = `[error] upstream timed out ${Date.now()}`;
    let text = '';
    const deadline = Date.now() + 10_000;
    setTimeout(() => appendFileSync(`${fake.webrootBase}new.example.com/logs/error.log`, `${marker}\n`), 500);
    while (!text.includes(marker) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    abort.abort();
    expect(text).toContain('event: line');
    expect(text).toContain(JSON.stringify({ line: marker }));
  });

  it('says a site log file is missing (a `state` event) instead of a silent stream, then follows it once it appears', async () => {
    const file = path.join(fake.nginxLogDir, 'blog.example.com.access.log');
    rmSync(file, { force: true });
    // The previous test already put the app on a port.
    const bound = t.app.server.address();
    const address = bound && typeof bound === 'object' ? `http://127.0.0.1:${bound.port}` : await t.app.listen({ host: '127.0.0.1', port: 0 });
    const abort = new AbortController();
    const res = await fetch(`${address}/api/v1/sites/blog.example.com/logs?kind=access&lines=5&follow=true`, { headers: admin.headers, signal: abort.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const marker = `1.2.3.4 - - "GET /first-request-${Date.now()} HTTP/1.1" 200`;
    let text = '';
    let wrote = false;
    const deadline = Date.now() + 15_000;
    while (!text.includes(JSON.stringify({ line: marker })) && Date.now() < deadline) {
      const next = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), deadline - Date.now()))]);
      if (!next || next.done) break;
      text += new TextDecoder().decode(next.value);
      if (!wrote && text.includes('event: state')) {
        wrote = true;
        appendFileSync(file, `${marker}\n`);
      }
    }
    abort.abort();
    expect(text, text).toContain('event: state');
    expect(text).toContain('"state":"missing"');
    expect(text).toContain('The access log does not exist yet');
    const state = /event: state\ndata: (.*)\n/.exec(text)?.[1] ?? '';
    expect(state).not.toContain(fake.nginxLogDir); // said in words, not as a host path
    expect(text).toContain(JSON.stringify({ line: marker }));
  }, 30_000);

  it('deletes a site only when the domain is typed again', async () => {
    expect((await req('DELETE', '/sites/new.example.com', admin, { confirm: 'other.example.com' })).body.error.code).toBe('confirmation_mismatch');
    expect((await req('DELETE', '/sites/new.example.com', admin, { confirm: 'new.example.com', keepDatabase: true, keepFiles: true })).status).toBe(422);
    const r = await req('DELETE', '/sites/new.example.com', admin, { confirm: 'new.example.com' });
    expect(r.status).toBe(202);
    const { job } = await finish(r.body.job);
    expect(job.state).toBe('succeeded');
    expect(fake.calls()).toContainEqual(['site', 'delete', 'new.example.com', '--all', '--no-prompt']);
    expect((await req('GET', '/sites/new.example.com', admin)).status).toBe(404);
    expect(existsSync(`${fake.webrootBase}new.example.com`)).toBe(false);
    const history = await req('GET', '/sites/blog.example.com/jobs', admin);
    expect(history.body.items.map((j: Json) => j.type)).toEqual(expect.arrayContaining(['sites.update']));
  });

  it('refuses hostile domains and option values with 400 before anything reaches wo', async () => {
    const before = fake.calls().length;
    const hostileDomains = [
      '-rf.example.com', '--help', 'a.com;id', 'a.com$(id)', '$(reboot).example.com', '`id`.example.com', 'a.com\nwo site delete b.com',
      'a.com --all', 'a'.repeat(64) + '.com', `${'a.'.repeat(127)}com`, 'exаmple.com' /* Cyrillic а */, 'ｅｘａｍｐｌｅ.com', 'exa\u200Bmple.com',
      'аррӏе.com', 'localhost', '../etc/passwd', 'example.com/x', '1.2.3.4', '',
    ];
    for (const domain of hostileDomains) {
      const r = await req('POST', '/sites', admin, { domain, type: 'html' });
      expect(r.status, `POST domain ${JSON.stringify(domain)}`).toBe(400);
      const p = await req('GET', `/sites/${encodeURIComponent(domain)}`, admin);
      expect([400, 404, 414], `GET domain ${JSON.stringify(domain)}`).toContain(p.status);
    }
    const hostileOptions: Json[] = [
      { type: 'wp', adminUser: '-rf' }, { type: 'wp', adminUser: 'a b' }, { type: 'wp', adminEmail: '--x@y.zz' }, { type: 'wp', adminEmail: 'a@b.c;id' },
      { type: 'wp', letsencrypt: 'wildcard', dnsProvider: 'dns_cf;id' }, { type: 'wp', letsencrypt: 'wildcard', dnsProvider: '--force' },
      { type: 'proxy', proxy: { host: '-oProxyCommand=id', port: 80 } }, { type: 'proxy', proxy: { host: '127.0.0.1 --x', port: 80 } },
      { type: 'wp', php: '8.3 --all' }, { type: 'wp', cache: '--wpfc' }, { type: '--html' }, { type: 'html', cache: 'wpredis' }, { type: 'wp', extra: '--all' },
    ];
    for (const o of hostileOptions) {
      const r = await req('POST', '/sites', admin, { domain: 'safe.example.com', ...o });
      expect(r.status, JSON.stringify(o)).toBe(400);
    }
    expect((await req('PUT', '/sites/blog.example.com', admin, { php: '-8.3' })).status).toBe(400);
    expect((await req('GET', '/sites?search=%24(id)&type=--wp', admin)).status).toBe(400);
    expect(fake.calls().length).toBe(before);
  });

  it('converts an IDN to punycode before it reaches wo', async () => {
    const r = await req('POST', '/sites', admin, { domain: 'bücher.example', type: 'html' });
    expect(r.status).toBe(202);
    expect((await finish(r.body.job)).job.state).toBe('succeeded');
    expect(fake.calls()).toContainEqual(['site', 'create', 'xn--bcher-kva.example', '--html']);
  });

  it('documents its routes in the OpenAPI document', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/openapi.json' });
    expect(res.statusCode).toBe(200);
    const paths = Object.keys((res.json() as { paths: Record<string, unknown> }).paths);
    expect(paths).toEqual(expect.arrayContaining(['/api/v1/sites', '/api/v1/sites/alerts', '/api/v1/sites/{domain}', '/api/v1/sites/{domain}/logs']));
  });

  it('lets a viewer read but not change, and the user role only see its own sites', async () => {
    const viewer = await t.signIn('viewer');
    expect((await req('GET', '/sites', viewer)).body.total).toBeGreaterThan(0);
    expect((await req('POST', '/sites', viewer, { domain: 'v.example.com', type: 'html' })).status).toBe(403);
    const user = await t.signIn('user');
    expect((await req('GET', '/sites', user)).body.total).toBe(0);
    const r = await req('POST', '/sites', user, { domain: 'mine.example.com', type: 'html' });
    expect(r.status).toBe(202);
    await finish(r.body.job);
    expect((await req('GET', '/sites', user)).body.items.map((s: Json) => s.domain)).toEqual(['mine.example.com']);
    expect((await req('GET', '/sites/blog.example.com', user)).status).toBe(404);
    expect((await req('DELETE', '/sites/blog.example.com', user, { confirm: 'blog.example.com' })).status).toBe(404);
  });
});
