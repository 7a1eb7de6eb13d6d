import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type SignedIn, type TestApp } from '../../../server/src/testing/harness.js';
import { SYSTEM_ACTOR } from '../../../server/src/sdk.js';
import { sitesModule } from './index.js';
import { createFakeWo, type FakeWo } from './test-fixtures/fake-wo.js';

type Json = Record<string, any>;

/** Issue 18, item 3: the new WordPress site's admin password, shown once to its creator; a reset later. */
describe('WordPress admin password', () => {
  let fake: FakeWo;
  let t: TestApp;
  let alice: SignedIn;
  let bob: SignedIn;
  let admin: SignedIn;

  const req = async (method: 'GET' | 'POST', url: string, who: SignedIn, payload?: unknown) => {
    const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: who.headers, ...(payload !== undefined ? { payload: payload as Json } : {}) });
    return { status: res.statusCode, body: res.body ? (res.json() as Json) : {}, headers: res.headers };
  };
  const logOf = async (jobId: string) => (await t.services.jobs.logs(jobId, SYSTEM_ACTOR)).map((l) => l.line).join('\n');

  beforeAll(async () => {
    fake = createFakeWo({ sites: { 'html.example.com': { site_type: 'html', cache_type: 'basic' } } });
    t = await createTestApp({
      modules: [sitesModule],
      env: { SLIPWAY_SITES_WO_DIR: fake.dir, SLIPWAY_SITES_CERT_DIR: fake.certDir, SLIPWAY_SITES_NGINX_LOG_DIR: fake.nginxLogDir, SLIPWAY_SITES_REFRESH_INTERVAL_SECONDS: '0', SLIPWAY_SITES_CERT_CHECK_INTERVAL_HOURS: '0' },
    });
    alice = await t.signIn('user', { username: 'alice' });
    bob = await t.signIn('user', { username: 'bob' });
    admin = await t.signIn('admin');
  });
  afterAll(async () => {
    await t?.close();
    fake?.cleanup();
  });

  it('shows the password WordOps generated once, to the creator only; nothing readable is stored or logged', async () => {
    const created = await req('POST', '/sites', alice, { domain: 'blog.example.com', type: 'wp', adminUser: 'alice' });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    expect((await t.services.jobs.waitFor(created.body.job.id, 30_000)).state).toBe('succeeded');
    const real = fake.state().sites['blog.example.com']!.wp_users!.alice!;
    expect(real).toMatch(/^\S{12,}$/);

    // Not in the job log, not in the audit log, not in the database in plain text.
    expect(await logOf(created.body.job.id)).not.toContain(real);
    expect(JSON.stringify((await t.services.audit.list({ limit: 50 })).items)).not.toContain(real);
    const rows = await t.services.database.db.selectFrom('sites_wp_passwords' as never).selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(real);

    // The attacker: another tenant and even an admin see nothing waiting and cannot reveal it.
    expect((await req('GET', '/sites/blog.example.com/admin-password', bob)).status).toBe(404);
    expect((await req('POST', '/sites/blog.example.com/admin-password/reveal', bob)).status).toBe(404);
    expect((await req('GET', '/sites/blog.example.com/admin-password', admin)).body).toEqual({ waiting: false, wpUser: null, createdAt: null });
    expect((await req('POST', '/sites/blog.example.com/admin-password/reveal', admin)).status).toBe(404);

    expect((await req('GET', '/sites/blog.example.com/admin-password', alice)).body).toMatchObject({ waiting: true, wpUser: 'alice' });
    const shown = await req('POST', '/sites/blog.example.com/admin-password/reveal', alice);
    expect(shown.status).toBe(200);
    expect(shown.headers['cache-control']).toBe('no-store');
    expect(shown.body).toEqual({ wpUser: 'alice', password: real });
    // Once.
    expect((await req('POST', '/sites/blog.example.com/admin-password/reveal', alice)).status).toBe(404);
    expect((await req('GET', '/sites/blog.example.com/admin-password', alice)).body.waiting).toBe(false);
  });

  it('resets the password with `wo site update --password` (stdin, not argv) and shows the new one once', async () => {
    // Another tenant cannot reset it; a non-WordPress site and a bad user name are refused.
    expect((await req('POST', '/sites/blog.example.com/admin-password', bob, { wpUser: 'alice' })).status).toBe(404);
    expect((await req('POST', '/sites/html.example.com/admin-password', admin, {})).status).toBe(422);
    expect((await req('POST', '/sites/blog.example.com/admin-password', alice, { wpUser: '--user_pass=x' })).status).toBe(400);

    const before = fake.state().sites['blog.example.com']!.wp_users!.alice;
    const r = await req('POST', '/sites/blog.example.com/admin-password', alice, { wpUser: 'alice' });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect((await t.services.jobs.waitFor(r.body.job.id, 30_000)).state).toBe('succeeded');
    const now = fake.state().sites['blog.example.com']!.wp_users!.alice!;
    expect(now).not.toBe(before);
    expect(now).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(fake.calls().at(-1)).toEqual(['site', 'update', 'blog.example.com', '--password']);
    expect(await logOf(r.body.job.id)).not.toContain(now);
    expect((await req('POST', '/sites/blog.example.com/admin-password/reveal', alice)).body).toEqual({ wpUser: 'alice', password: now });

    // A user WordPress does not have: the job fails and says so; nothing waits to be shown.
    const bad = await req('POST', '/sites/blog.example.com/admin-password', alice, { wpUser: 'nobody' });
    const done = await t.services.jobs.waitFor(bad.body.job.id, 30_000);
    expect(done.state).toBe('failed');
    expect(done.error).toMatch(/Invalid WordPress user nobody/);
    expect((await req('GET', '/sites/blog.example.com/admin-password', alice)).body.waiting).toBe(false);
    const audit = (await t.services.audit.list({ action: 'sites.password.reset', limit: 10 })).items.map((e) => e.outcome);
    expect(audit).toEqual(['failure', 'started', 'success', 'started']);
  });
});
