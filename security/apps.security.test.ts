import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedIn } from '../server/src/testing/harness.js';
import { appsPanel, until, type AppsTestPanel } from '../modules/apps/server/test-fixtures/apps-harness.js';

/**
 * Hostile tenants against the apps module (Dokku): every attack is made through the real routes,
 * with the fake dokku recording each argv it receives, and asserts what the attacker sees and
 * that nothing reached Dokku or changed.
 */
describe('apps: hostile tenants', () => {
  let p: AppsTestPanel;
  let alice: SignedIn;
  let mallory: SignedIn;
  let admin: SignedIn;

  beforeAll(async () => {
    p = await appsPanel({ apps: { outside: { deployed: true, running: true, image: 'nginx:1.26', deploySource: 'docker-image', deploySourceMetadata: 'nginx:1.26' } } });
    alice = await p.t.signIn('user');
    mallory = await p.t.signIn('user');
    admin = await p.t.signIn('admin');
    const res = await p.inject(alice, 'POST', '/apps', { name: 'alice-shop' });
    expect(res.status, res.text).toBe(201);
    const dep = await p.inject(alice, 'POST', '/apps/alice-shop/deploys', { image: 'nginx:1.26' });
    expect(dep.status, dep.text).toBe(202);
    expect((await p.waitJob(dep.body.job.id)).state).toBe('succeeded');
  }, 90_000);
  afterAll(async () => p?.close());

  const callCount = () => p.fake.calls().length;

  it('hostile app names, images, refs, git URLs and domains get 400 and never reach dokku', async () => {
    const names = ['-x', '--force', 'a;id', 'a$(id)', 'a`id`', 'a\nb', 'a b', 'A', 'a_b', 'x'.repeat(64), 'аpp', 'ａpp', '../etc', 'a\u0000b', 'a\u200bb', ''];
    const images = ['-nginx', '--build-dir=/', 'nginx;id', 'nginx $(id)', 'nginx\n', 'NGINX', 'nginx:', 'ｎginx', 'x'.repeat(600), 'a\u0000', '../../x'];
    const refs = ['-b', '--upload-pack=touch /tmp/pwn', 'a..b', 'a;id', '$(id)', 'a\nb', 'ma\u200bin', 'x'.repeat(300), '@', 'a b'];
    const repos = ['-https://x.example.com/a', 'https://git.example.com/a;id', 'https://u:p@git.example.com/a', 'file:///etc/passwd', 'ssh://git@git.example.com/a',
      'https://git.example.com/a?x=1', 'https://gіt.example.com/a', 'https://git.example.com/../x', 'https://git.example.com/a\nb', `https://git.example.com/${'a'.repeat(2100)}`];
    const domains = ['-x.example.com', '*.example.com', 'a;id.example.com', '$(id).example.com', 'ex ample.com', 'localhost', 'pаypal.com', 'ｅxample.com', 'a\nb.example.com', `${'a'.repeat(64)}.example.com`];
    const before = callCount();
    const bad: string[] = [];
    const expect400 = async (label: string, r: Promise<{ status: number; body: any }>) => {
      const res = await r;
      if (res.status !== 400 || !res.body?.error?.message) bad.push(`${label} → ${res.status}`);
    };
    for (const n of names) await expect400(`POST name ${JSON.stringify(n)}`, p.inject(alice, 'POST', '/apps', { name: n }));
    for (const n of names.filter(Boolean)) await expect400(`GET /apps/${JSON.stringify(n)}`, p.inject(alice, 'GET', `/apps/${encodeURIComponent(n)}`));
    for (const i of images) await expect400(`image ${JSON.stringify(i)}`, p.inject(alice, 'POST', '/apps/alice-shop/deploys', { image: i }));
    for (const r of refs) await expect400(`ref ${JSON.stringify(r)}`, p.inject(alice, 'POST', '/apps/alice-shop/deploys', { repo: 'https://git.example.com/org/site.git', ref: r }));
    for (const r of repos) await expect400(`repo ${JSON.stringify(r.slice(0, 60))}`, p.inject(alice, 'POST', '/apps/alice-shop/deploys', { repo: r, ref: 'main' }));
    for (const d of domains) await expect400(`domain ${JSON.stringify(d)}`, p.inject(alice, 'PATCH', '/apps/alice-shop/domains', { add: [d] }));
    for (const k of ['1A', 'A-B', 'A B', 'DOKKU_SCALE', 'A;B', 'A\nB', 'x'.repeat(200)]) await expect400(`env key ${JSON.stringify(k)}`, p.inject(alice, 'PATCH', '/apps/alice-shop/config', { set: { [k]: 'v' } }));
    await expect400('env value with NUL', p.inject(alice, 'PATCH', '/apps/alice-shop/config', { set: { A: 'a\u0000b' } }));
    for (const m of ['http:80', 'http:80:5000 https:443:5000', '-http:80:5000', 'http:80:5000;id']) await expect400(`port ${m}`, p.inject(alice, 'PATCH', '/apps/alice-shop/ports', { add: [m] }));
    for (const t of ['-web', 'web=1', 'we b']) await expect400(`process ${t}`, p.inject(alice, 'PUT', '/apps/alice-shop/scale', { processes: { [t]: 1 } }));
    await expect400('scale over the limit', p.inject(alice, 'PUT', '/apps/alice-shop/scale', { processes: { web: 500 } }));
    expect(bad).toEqual([]);
    expect(callCount()).toBe(before);
  }, 120_000);

  it('git remotes on private, loopback or metadata addresses are refused for tenants (422) before any git:sync', async () => {
    const before = callCount();
    for (const host of ['internal.example.com', 'loop.example.com', 'metadata.example.com', 'nowhere.example.com']) {
      const res = await p.inject(alice, 'POST', '/apps/alice-shop/deploys', { repo: `https://${host}/org/site.git`, ref: 'main' });
      expect(res.status, `${host}: ${res.text}`).toBe(422);
      expect(res.body.error.code).toBe('network_target_refused');
    }
    expect(callCount()).toBe(before);
  });

  it('another tenant\'s app is invisible (404) and untouchable, and nothing reaches dokku', async () => {
    const list = await p.inject(mallory, 'GET', '/apps');
    expect(list.body.items).toEqual([]);
    expect(list.body.total).toBe(0);
    const before = callCount();
    const tries: [Parameters<AppsTestPanel['inject']>[1], string, unknown?][] = [
      ['GET', '/apps/alice-shop'], ['GET', '/apps/alice-shop/deploys'], ['GET', '/apps/alice-shop/releases'], ['GET', '/apps/alice-shop/config'],
      ['GET', '/apps/alice-shop/domains'], ['GET', '/apps/alice-shop/checks'], ['GET', '/apps/alice-shop/ports'], ['GET', '/apps/alice-shop/scale'], ['GET', '/apps/alice-shop/letsencrypt'],
      ['POST', '/apps/alice-shop/deploys', { image: 'nginx:1.27' }], ['POST', '/apps/alice-shop/releases/1/rollback'], ['PATCH', '/apps/alice-shop/config', { set: { A: 'b' } }],
      ['PATCH', '/apps/alice-shop/domains', { add: ['evil.example.com'] }], ['PATCH', '/apps/alice-shop/checks', { disable: [] }], ['PATCH', '/apps/alice-shop/ports', { clear: true }],
      ['PUT', '/apps/alice-shop/scale', { processes: { web: 0 } }], ['POST', '/apps/alice-shop/ps/stop'], ['PUT', '/apps/alice-shop/letsencrypt', { enabled: false }],
      ['DELETE', '/apps/alice-shop', { confirm: 'alice-shop' }],
    ];
    const wrong: string[] = [];
    for (const [m, u, body] of tries) {
      const res = await p.inject(mallory, m, u, body);
      if (res.status !== 404 || res.body.error.code !== 'not_found') wrong.push(`${m} ${u} → ${res.status}`);
    }
    expect(wrong).toEqual([]);
    expect(callCount()).toBe(before);
    // the foreign deploy job is not even visible
    const deploys = (await p.inject(alice, 'GET', '/apps/alice-shop/deploys')).body.items;
    const cancel = await p.inject(mallory, 'POST', `/jobs/${deploys[0].jobId}/cancel`);
    expect(cancel.status).toBe(404);
    expect(p.fake.state().apps['alice-shop']!.image).toBe('nginx:1.26');
  });

  it('a taken name answers 409 name_taken and is never adopted: another tenant\'s, one created outside the panel, one that appears during the create', async () => {
    const taken = await p.inject(mallory, 'POST', '/apps', { name: 'alice-shop' });
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe('name_taken');
    expect((await p.inject(alice, 'GET', '/apps/alice-shop')).body.app.ownerId).toBe(alice.user.id);

    const outside = await p.inject(mallory, 'POST', '/apps', { name: 'outside' });
    expect(outside.status).toBe(409);
    expect(outside.body.error.code).toBe('name_taken');
    expect((await p.inject(mallory, 'GET', '/apps/outside')).status).toBe(404);
    expect((await p.inject(admin, 'GET', '/apps/outside')).body.app.ownerId).toBeNull();
    expect(p.fake.calls().some((c) => c[0] === 'apps:create' && c[1] === 'outside')).toBe(false);
  });

  it('a create that Dokku refuses leaves no owner behind', async () => {
    // A dokku that says "racer" does not exist when asked, then refuses to create it (made meanwhile outside the panel).
    const racy = await appsPanel({ apps: { racer: {} } }, {}, {
      bin: (fake) => {
        const f = path.join(fake.dir, 'dokku-racy');
        writeFileSync(f, `#!/bin/sh\nif [ "$1" = "apps:report" ] && [ "$2" = "racer" ]; then echo ' !     App racer does not exist' >&2; exit 20; fi\nexec '${fake.bin}' "$@"\n`);
        chmodSync(f, 0o755);
        return f;
      },
    });
    const q = racy;
    try {
      await racerCase(q);
    } finally {
      await q.close();
    }
  }, 60_000);
});

describe('apps: ownerless apps, hosts, build output, certificate alerts', () => {
  let p: AppsTestPanel;
  let alice: SignedIn;
  let mallory: SignedIn;
  let operator: SignedIn;
  let buildId: string;

  beforeAll(async () => {
    const soon = String(Math.floor(Date.now() / 1000) + 3 * 86400);
    p = await appsPanel({
      apps: {
        found: { deployed: true, running: true, image: 'nginx:1.26', deploySource: 'docker-image', deploySourceMetadata: 'nginx:1.26', vhosts: ['found.example.org'], letsencrypt: { active: true, expiration: soon, email: 'x@example.org' } },
      },
    });
    alice = await p.t.signIn('user');
    mallory = await p.t.signIn('user');
    operator = await p.t.signIn('operator');
    expect((await p.inject(alice, 'POST', '/apps', { name: 'alice-shop' })).status).toBe(201);
    const dep = await p.inject(alice, 'POST', '/apps/alice-shop/deploys', { image: 'nginx:1.26' });
    expect((await p.waitJob(dep.body.job.id)).state).toBe('succeeded');
    buildId = (await p.inject(alice, 'GET', '/apps/alice-shop/builds')).body.items[0].id;
    // the app found on the host is in the inventory (first refresh), then the certificate watch runs
    const admin = await p.t.signIn('admin');
    await until('the found app in the inventory', async () => (await p.inject(admin, 'GET', '/apps/found')).status === 200);
    const refreshed = await p.inject(operator, 'POST', '/apps/-/refresh');
    expect(refreshed.status, refreshed.text).toBe(200);
  }, 90_000);
  afterAll(async () => p?.close());

  const callCount = () => p.fake.calls().length;

  it('a user never sees ownerless apps, cannot claim one, and cannot list the users an app can be given to', async () => {
    const before = callCount();
    expect((await p.inject(alice, 'GET', '/apps?ownerless=true')).body).toMatchObject({ items: [], total: 0 });
    expect((await p.inject(alice, 'GET', '/apps')).body.items.map((a: { name: string }) => a.name)).toEqual(['alice-shop']);
    expect((await p.inject(alice, 'GET', '/apps/found')).status).toBe(404);
    expect((await p.inject(alice, 'GET', '/apps/found/builds')).status).toBe(404);
    for (const body of [{ ownerId: alice.user.id }, { ownerId: mallory.user.id }]) {
      const res = await p.inject(alice, 'PUT', '/apps/found/owner', body);
      expect(res.status, res.text).toBe(403);
    }
    expect((await p.inject(alice, 'PUT', '/apps/alice-shop/owner', { ownerId: mallory.user.id })).status).toBe(403);
    expect((await p.inject(alice, 'GET', '/apps/-/owners')).status).toBe(403);
    const admin = await p.t.signIn('admin');
    expect((await p.inject(admin, 'GET', '/apps/found')).body.app.ownerId).toBeNull();
    expect((await p.inject(admin, 'GET', '/apps/alice-shop')).body.app.ownerId).toBe(alice.user.id);
    expect(callCount()).toBe(before);
  });

  it('staff cannot move an owned app, nor give one to a bogus, unknown or suspended user', async () => {
    const owned = await p.inject(operator, 'PUT', '/apps/alice-shop/owner', { ownerId: mallory.user.id });
    expect(owned.status, owned.text).toBe(409);
    expect(owned.body.error.code).toBe('already_owned');
    for (const ownerId of ['', '../x', '-1 or 1=1', 'a'.repeat(65), 'x\ny']) {
      const res = await p.inject(operator, 'PUT', '/apps/found/owner', { ownerId });
      expect(res.status, `${JSON.stringify(ownerId)}: ${res.text}`).toBe(400);
    }
    const unknown = await p.inject(operator, 'PUT', '/apps/found/owner', { ownerId: 'nosuchuser0000000000' });
    expect(unknown.status, unknown.text).toBe(400);
    expect(unknown.body.error.details.issues[0].path).toBe('ownerId');
    const victim = await p.t.signIn('user');
    await p.t.services.database.db.updateTable('users').set({ status: 'suspended' }).where('id', '=', victim.user.id).execute();
    expect((await p.inject(operator, 'PUT', '/apps/found/owner', { ownerId: victim.user.id })).status).toBe(400);
    const admin = await p.t.signIn('admin');
    expect((await p.inject(admin, 'GET', '/apps/found')).body.app.ownerId).toBeNull();
    expect((await p.inject(admin, 'GET', '/apps/alice-shop')).body.app.ownerId).toBe(alice.user.id);
  });

  it('hostile build ids get 400 and never reach dokku; another app\'s build is 404; another tenant\'s app is 404', async () => {
    const before = callCount();
    const wrong: string[] = [];
    for (const id of ['current', '-f', '--trace', '../../etc/passwd', 'abc;id', `${buildId.toUpperCase()}`, `${buildId}\n`, '$(id)aaaaaaaaaa', 'a'.repeat(15)]) {
      const res = await p.inject(alice, 'GET', `/apps/alice-shop/builds/${encodeURIComponent(id)}/output`);
      if (res.status !== 400) wrong.push(`${JSON.stringify(id)} → ${res.status}`);
    }
    expect(wrong).toEqual([]);
    expect(callCount()).toBe(before);
    for (const u of ['/apps/alice-shop/builds', `/apps/alice-shop/builds/${buildId}/output`]) {
      const res = await p.inject(mallory, 'GET', u);
      expect(res.status, `${u}: ${res.text}`).toBe(404);
    }
    expect(callCount()).toBe(before);
    // mallory's own app asking for alice's build id: builds:list of mallory's app does not have it
    expect((await p.inject(mallory, 'POST', '/apps', { name: 'mallory-app' })).status).toBe(201);
    const res = await p.inject(mallory, 'GET', `/apps/mallory-app/builds/${buildId}/output`);
    expect(res.status, res.text).toBe(404);
    expect(p.fake.calls().some((c) => c[0] === 'builds:output')).toBe(false);
  });

  it('a create names only a Dokku host: unknown, non-Dokku and hostile host ids are refused before dokku', async () => {
    const at = Date.now();
    await p.t.services.database.db.insertInto('hosts').values({
      id: 'plain', name: 'plain', kind: 'ssh', address: '192.0.2.10', port: 22, username: 'root', host_key_fingerprint: 'SHA256:x', capabilities: '{}', status: 'online',
      last_checked_at: null, created_at: at, updated_at: at,
    }).execute();
    const before = callCount();
    for (const hostId of ['nowhere', 'plain']) {
      const res = await p.inject(alice, 'POST', '/apps', { name: 'elsewhere', hostId });
      expect(res.status, `${hostId}: ${res.text}`).toBe(422);
      expect(res.body.error.code).toBe('host_without_dokku');
    }
    for (const hostId of ['-local', '../local', 'local;id', 'a b', '', 'x'.repeat(80)]) {
      const res = await p.inject(alice, 'POST', '/apps', { name: 'elsewhere', hostId });
      expect(res.status, `${JSON.stringify(hostId)}: ${res.text}`).toBe(400);
    }
    expect(callCount()).toBe(before);
    const hosts = (await p.inject(alice, 'GET', '/apps/-/hosts')).body.items;
    expect(hosts.map((h: { id: string }) => h.id)).toEqual(['local']);
    expect(JSON.stringify(hosts)).not.toContain('192.0.2.10');
  });

  it('certificate alerts of an ownerless app reach staff only; a tenant sees only its own apps\' alerts', async () => {
    const admin = await p.t.signIn('admin');
    const staff = (await p.inject(admin, 'GET', '/apps/-/alerts')).body.items;
    expect(staff).toEqual([expect.objectContaining({ name: 'found', kind: 'expiring' })]);
    expect((await p.inject(operator, 'GET', '/apps/-/alerts')).body.items).toHaveLength(1);
    for (const who of [alice, mallory]) expect((await p.inject(who, 'GET', '/apps/-/alerts')).body.items).toEqual([]);
    // a tenant cannot run the watch (it reads every app on every host)
    expect((await p.inject(alice, 'POST', '/apps/-/refresh')).status).toBe(403);
  });
});

async function racerCase(p: AppsTestPanel) {
  {
    const m = await p.t.signIn('user');
    const a = await p.t.signIn('admin');
    const res = await p.inject(m, 'POST', '/apps', { name: 'racer' });
    expect(res.status, res.text).toBe(409);
    expect(res.body.error.code).toBe('name_taken');
    expect(p.fake.calls().some((c) => c.join(' ') === 'apps:create racer')).toBe(true);
    expect((await p.inject(m, 'GET', '/apps/racer')).status).toBe(404);
    expect((await p.inject(m, 'GET', '/apps')).body.items).toEqual([]);
    const seen = await p.inject(a, 'GET', '/apps/racer');
    if (seen.status === 200) expect(seen.body.app.ownerId).toBeNull();
    else expect(seen.status).toBe(404);
  }
}

describe('apps: roles', () => {
  let p: AppsTestPanel;
  let owner: SignedIn;

  beforeAll(async () => {
    p = await appsPanel();
    owner = await p.t.signIn('operator');
    expect((await p.inject(owner, 'POST', '/apps', { name: 'ops-app' })).status).toBe(201);
  }, 60_000);
  afterAll(async () => p?.close());

  it('viewer, support and billing read apps but get 403 on every change, and nothing reaches dokku', async () => {
    for (const role of ['viewer', 'support', 'billing'] as const) {
      const who = await p.t.signIn(role);
      expect((await p.inject(who, 'GET', '/apps')).body.items.map((a: { name: string }) => a.name)).toEqual(['ops-app']);
      const before = p.fake.calls().length;
      const changes: [Parameters<AppsTestPanel['inject']>[1], string, unknown?][] = [
        ['POST', '/apps', { name: 'mine' }], ['POST', '/apps/ops-app/deploys', { image: 'nginx:1.27' }], ['POST', '/apps/ops-app/releases/1/rollback'],
        ['PATCH', '/apps/ops-app/config', { set: { A: 'b' } }], ['PATCH', '/apps/ops-app/domains', { add: ['x.example.com'] }], ['PUT', '/apps/ops-app/letsencrypt', { enabled: true }],
        ['PATCH', '/apps/ops-app/checks', { disable: [] }], ['PATCH', '/apps/ops-app/ports', { clear: true }], ['PUT', '/apps/ops-app/scale', { processes: { web: 2 } }],
        ['POST', '/apps/ops-app/ps/restart'], ['DELETE', '/apps/ops-app', { confirm: 'ops-app' }],
      ];
      const wrong: string[] = [];
      for (const [m, u, body] of changes) {
        const res = await p.inject(who, m, u, body);
        if (res.status !== 403) wrong.push(`${role} ${m} ${u} → ${res.status}`);
      }
      expect(wrong).toEqual([]);
      expect(p.fake.calls().length).toBe(before);
    }
  }, 60_000);

  it('a domain another tenant holds is refused with 409 hostname_taken before domains:add', async () => {
    const t1 = await p.t.signIn('user');
    const t2 = await p.t.signIn('user');
    expect((await p.inject(t1, 'POST', '/apps', { name: 't1-app' })).status).toBe(201);
    expect((await p.inject(t2, 'POST', '/apps', { name: 't2-app' })).status).toBe(201);
    expect((await p.inject(t1, 'PATCH', '/apps/t1-app/domains', { add: ['shop.tenant1.example'] })).status).toBe(200);
    const before = p.fake.calls().length;
    for (const d of ['shop.tenant1.example', 'SHOP.tenant1.example', 'www.shop.tenant1.example', 'tenant1.example', 'a.shop.tenant1.example']) {
      const res = await p.inject(t2, 'PATCH', '/apps/t2-app/domains', { add: [d] });
      expect(res.status, `${d}: ${res.text}`).toBe(409);
      expect(res.body.error.code).toBe('hostname_taken');
    }
    expect(p.fake.calls().length).toBe(before);
    expect(p.fake.state().apps['t2-app']!.vhosts).toEqual([]);
  }, 60_000);
});
