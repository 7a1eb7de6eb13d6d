import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedIn } from '../server/src/testing/harness.js';
import { appsPanel, type AppsTestPanel } from '../modules/apps/server/test-fixtures/apps-harness.js';

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
