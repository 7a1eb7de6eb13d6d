import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../db/database.js';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db.js';
import type { Actor } from '../rbac/permissions.js';
import { HostnameClaims, normalizeHostname, panelHostnames } from './hostname-claims.js';

const actor = (userId: string, role: Actor['role'] = 'user'): Actor => ({ kind: 'user', userId, username: userId, role });
const alice = actor('alice');
const bob = actor('bob');
const admin = actor('root-admin', 'admin');

describe('hostname claims', () => {
  let tdb: TestDatabase;
  let claims: HostnameClaims;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    await migrate(tdb.database.db);
    claims = new HostnameClaims(tdb.database.db, { reserved: panelHostnames({ publicUrl: 'https://Panel.Example.NET:8443/' }) });
  });
  afterAll(async () => tdb?.cleanup());

  it('normalises case, trailing dot, IDN and a leading www', () => {
    expect(normalizeHostname('Shop.Example.COM.')).toBe('shop.example.com');
    expect(normalizeHostname('www.example.com')).toBe('example.com');
    expect(normalizeHostname('bücher.example')).toBe('xn--bcher-kva.example');
    expect(normalizeHostname('ＥＸＡＭＰＬＥ.com')).toBe('example.com');
    for (const bad of ['', 'a b.com', 'a/b.com', 'user@a.com', 'a.com:80', '-x.com', 'a..com', '\u200bx.com']) expect(() => normalizeHostname(bad), bad).toThrow();
  });

  it('gives a name to its first owner and refuses every spelling of it to a second tenant (409 hostname_taken)', async () => {
    await claims.claim(alice, 'alice-shop.example.com', 'site:local:alice-shop.example.com');
    for (const spelling of ['alice-shop.example.com', 'ALICE-SHOP.example.com', 'alice-shop.example.com.', 'www.alice-shop.example.com', 'Alice-Shop.Example.Com.']) {
      const e = await claims.claim(bob, spelling, 'site:h2:x').catch((x: unknown) => x);
      expect(e, spelling).toMatchObject({ status: 409, code: 'hostname_taken' });
    }
    // the same owner may use it again (another host, a container) — one claim, two resources
    await claims.claim(alice, 'www.alice-shop.example.com', 'container:abc');
    expect((await claims.get('alice-shop.example.com'))?.resources).toEqual(['site:local:alice-shop.example.com', 'container:abc']);
    // an admin cannot take a tenant's name either
    await expect(claims.claim(admin, 'alice-shop.example.com', 'site:local:x')).rejects.toMatchObject({ code: 'hostname_taken' });
  });

  it('refuses a tenant a name under or above another owner\'s name', async () => {
    await claims.claim(alice, 'alice.example.org', 'site:local:alice.example.org');
    await expect(claims.claim(bob, 'shop.alice.example.org', 'r')).rejects.toMatchObject({ code: 'hostname_taken' });
    await expect(claims.claim(bob, 'a.b.alice.example.org', 'r')).rejects.toMatchObject({ code: 'hostname_taken' });
    await expect(claims.claim(bob, 'example.org', 'r')).rejects.toMatchObject({ code: 'hostname_taken' });
    // but not a sibling, nor a look-alike suffix
    await claims.claim(bob, 'bob.example.org', 'r1');
    await claims.claim(bob, 'xalice.example.org', 'r2');
    // the owner itself may add subdomains
    await claims.claim(alice, 'blog.alice.example.org', 'r3');
  });

  it('lets a concurrent second tenant lose the race with 409', async () => {
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => claims.claim(actor(`racer${i}`), 'race.example.com', `r${i}`)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((x) => x.status === 'rejected')) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'hostname_taken' });
  });

  it('reserves the panel\'s own hostname for everyone, and its subdomains and parents for non-admins', async () => {
    for (const who of [alice, admin]) {
      for (const n of ['panel.example.net', 'PANEL.example.net.', 'www.panel.example.net']) {
        await expect(claims.claim(who, n, 'r'), `${who.role} ${n}`).rejects.toMatchObject({ status: 409, code: 'hostname_reserved' });
      }
    }
    for (const n of ['evil.panel.example.net', 'a.b.panel.example.net', 'example.net']) {
      await expect(claims.claim(alice, n, 'r'), n).rejects.toMatchObject({ code: 'hostname_reserved' });
    }
    await claims.claim(admin, 'example.net', 'site:local:example.net');
    await claims.claim(alice, 'panel-example.net', 'r');
  });

  it('records names found on a host without an owner: a tenant cannot take them, an admin can use them', async () => {
    await claims.record('found.example.com', null, 'site:local:found.example.com');
    await expect(claims.claim(alice, 'found.example.com', 'site:h2:found.example.com')).rejects.toMatchObject({ code: 'hostname_taken' });
    await claims.claim(admin, 'found.example.com', 'site:h2:found.example.com');
    // recording never steals or throws
    await claims.record('alice-shop.example.com', null, 'site:h3:alice-shop.example.com');
    expect((await claims.get('alice-shop.example.com'))?.ownerId).toBe('alice');
  });

  it('staff acting on a tenant\'s resource claim for that tenant, within the tenant\'s names only', async () => {
    const operator = actor('ops', 'operator');
    await claims.claim(alice, 'alice-app.example.com', 'container:a1');
    // The operator adds a name to Alice's service: the claim is Alice's, not the operator's.
    await claims.claim(operator, 'alice-api.example.com', 'container:a1', { ownerId: 'alice' });
    expect(await claims.get('alice-api.example.com')).toMatchObject({ ownerId: 'alice' });
    // Alice's names are usable on her behalf; Bob's never are, nor do they become the operator's own.
    await expect(claims.check(operator, 'alice-app.example.com', { ownerId: 'alice' })).resolves.toBe('alice-app.example.com');
    await claims.claim(bob, 'bob-app.example.com', 'container:b1');
    await expect(claims.claim(operator, 'bob-app.example.com', 'container:a1', { ownerId: 'alice' })).rejects.toMatchObject({ status: 409, code: 'hostname_taken' });
    await expect(claims.claim(operator, 'alice-app.example.com', 'container:o1')).rejects.toMatchObject({ status: 409, code: 'hostname_taken' });
    expect((await claims.get('bob-app.example.com'))?.resources).toEqual(['container:b1']);
  });

  it('frees a name when its last resource releases it', async () => {
    await claims.claim(alice, 'gone.example.com', 'a');
    await claims.claim(alice, 'gone.example.com', 'b');
    await claims.release('gone.example.com', 'a');
    await expect(claims.claim(bob, 'gone.example.com', 'c')).rejects.toMatchObject({ code: 'hostname_taken' });
    await claims.release('www.gone.example.com', 'b');
    await claims.claim(bob, 'gone.example.com', 'c');
    expect((await claims.get('gone.example.com'))?.ownerId).toBe('bob');
  });
});
