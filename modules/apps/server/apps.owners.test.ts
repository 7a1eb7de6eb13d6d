import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedIn } from '../../../server/src/testing/harness.js';
import { loadOrCreatePanelKey } from '../../../server/src/testing/index.js';
import { startSshd, type TestSshd } from '../../../server/src/testing/sshd.js';
import { appsPanel, until, type AppsTestPanel } from './test-fixtures/apps-harness.js';
import { createFakeDokku, type FakeDokku } from './test-fixtures/fake-dokku.js';

const REMOTE = 'dokku-2';

/**
 * Apps on several Dokku hosts (local, and a second one reached over a real sshd as the dokku user,
 * SSH_ORIGINAL_COMMAND), the host picker of the new-app form, and ownerless apps found on a host
 * given an owner by staff.
 */
describe('apps: Dokku hosts and ownerless apps', () => {
  let p: AppsTestPanel;
  let remote: FakeDokku;
  let sshd: TestSshd;
  let operator: SignedIn;
  let user: SignedIn;

  beforeAll(async () => {
    remote = createFakeDokku({
      images: ['nginx:1.26'],
      apps: { legacy: { deployed: true, running: true, image: 'nginx:1.26', deploySource: 'docker-image', deploySourceMetadata: 'nginx:1.26', vhosts: ['legacy.example.org'] } },
    });
    p = await appsPanel({}, { SLIPWAY_APPS_SSH_USER: userInfo().username });
    // The panel's own key (what `dokku ssh-keys:add slipway <key>` would install) behind sshcommand's forced command.
    const { publicKey } = loadOrCreatePanelKey(p.t.dataDir);
    sshd = await startSshd({ authorizedKeys: [remote.sshcommandKey(publicKey)] });
    const at = Date.now();
    await p.t.services.database.db.insertInto('hosts').values({
      id: REMOTE, name: 'Dokku two', kind: 'ssh', address: sshd.address, port: sshd.port, username: sshd.username, host_key_fingerprint: sshd.hostKeyFingerprint,
      capabilities: JSON.stringify({ dokku: true }), status: 'online', last_checked_at: null, created_at: at, updated_at: at,
    }).execute();
    operator = await p.t.signIn('operator');
    user = await p.t.signIn('user');
  }, 180_000);
  afterAll(async () => {
    await p?.close();
    await sshd?.stop();
    remote?.cleanup();
  });

  it('offers every Dokku host to the new-app form, with the default, and creates the app on the one picked', async () => {
    const hosts = await p.inject(user, 'GET', '/apps/-/hosts');
    expect(hosts.status, hosts.text).toBe(200);
    expect(hosts.body.items).toEqual([
      { id: 'local', name: expect.any(String), kind: 'local', default: true, status: expect.any(String) },
      { id: REMOTE, name: 'Dokku two', kind: 'ssh', default: false, status: 'online' },
    ]);
    const res = await p.inject(user, 'POST', '/apps', { name: 'shop', hostId: REMOTE });
    expect(res.status, res.text).toBe(201);
    expect(res.body.app).toMatchObject({ name: 'shop', host: REMOTE, ownerId: user.user.id });
    expect(remote.callRecords().find((c) => c.argv[0] === 'apps:create')).toMatchObject({ argv: ['apps:create', 'shop'], via: 'ssh', original: 'apps:create shop' });
    expect(p.fake.state().apps.shop).toBeUndefined();
    // the same name on the other host is another app
    const local = await p.inject(user, 'POST', '/apps', { name: 'shop' });
    expect(local.status, local.text).toBe(201);
    expect(local.body.app.host).toBe('local');
    expect((await p.inject(user, 'GET', `/apps/shop?host=${REMOTE}`)).body.app.host).toBe(REMOTE);
    const list = (await p.inject(user, 'GET', '/apps')).body.items.map((a: { host: string; name: string }) => `${a.host}/${a.name}`);
    expect(list.sort()).toEqual([`${REMOTE}/shop`, 'local/shop']);
  }, 180_000);

  it('an app found on a host is ownerless: staff list it with ?ownerless=true and give it to a user, who then sees and deploys it', async () => {
    const t0 = Date.now();
    const r = await p.inject(operator, 'POST', '/apps/-/refresh');
    expect(r.status, r.text).toBe(200);
    const ownerless = await p.inject(operator, 'GET', '/apps?ownerless=true');
    expect(ownerless.body.items.map((a: { name: string; ownerId: string | null }) => [a.name, a.ownerId])).toEqual([['legacy', null]]);
    expect((await p.inject(user, 'GET', '/apps/legacy')).status).toBe(404);

    const owners = await p.inject(operator, 'GET', '/apps/-/owners');
    expect(owners.status, owners.text).toBe(200);
    expect(owners.body.items).toContainEqual({ id: user.user.id, username: user.user.username, role: 'user' });

    const assigned = await p.inject(operator, 'PUT', '/apps/legacy/owner', { ownerId: user.user.id });
    expect(assigned.status, assigned.text).toBe(200);
    expect(assigned.body.app).toMatchObject({ name: 'legacy', host: REMOTE, ownerId: user.user.id });
    expect((await p.inject(operator, 'GET', '/apps?ownerless=true')).body.items).toEqual([]);

    // the user sees it, and its hostname became theirs (they may keep using it)
    expect((await p.inject(user, 'GET', '/apps/legacy')).body.app.ownerId).toBe(user.user.id);
    const claim = await p.t.services.database.db.selectFrom('hostname_claims').selectAll().where('hostname', '=', 'legacy.example.org').executeTakeFirst();
    expect(claim?.owner_id).toBe(user.user.id);
    const dep = await p.inject(user, 'POST', '/apps/legacy/deploys', { image: 'nginx:1.26' });
    expect(dep.status, dep.text).toBe(202);
    const done = await p.waitJob(dep.body.job.id, 120_000);
    expect(done.state, done.error ?? '').toBe('succeeded');

    // one audit entry, by the operator
    const audit = await p.t.services.database.db.selectFrom('audit_log').selectAll().where('action', '=', 'apps.owner.assign').execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor_id: operator.user.id, outcome: 'success' });

    // a second assignment is refused: it has an owner now
    const again = await p.inject(operator, 'PUT', '/apps/legacy/owner', { ownerId: operator.user.id });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('already_owned');
    expect((await p.inject(user, 'GET', '/apps/legacy')).body.app.ownerId).toBe(user.user.id);
  }, 180_000);
});
