import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestApp, type SignedIn, type TestApp } from '../../testing/harness.js';
import { parsePublicKey } from './ssh-keys.service.js';

describe('API tokens', () => {
  let t: TestApp;
  let op: SignedIn;
  beforeAll(async () => {
    t = await createTestApp({ startBackground: false });
    op = await t.signIn('operator');
  });
  afterAll(async () => t?.close());
  afterEach(() => vi.useRealTimers());

  const create = (headers: Record<string, string>, payload: object) => t.app.inject({ method: 'POST', url: '/api/v1/api-tokens', headers, payload });

  it('is shown once, stored hashed, works as a Bearer token with its own role, and records use', async () => {
    const res = await create(op.headers, { name: 'deploy bot', role: 'viewer', expiresInDays: 30 });
    expect(res.statusCode).toBe(201);
    const { token, apiToken } = res.json();
    expect(token).toMatch(/^slw_[0-9a-f]{8}_[0-9a-f]{64}$/);
    expect(token.startsWith(apiToken.prefix)).toBe(true);
    expect(apiToken.expiresAt - apiToken.createdAt).toBe(30 * 86_400_000);
    const stored = await t.services.database.db.selectFrom('api_tokens').selectAll().where('id', '=', apiToken.id).executeTakeFirstOrThrow();
    expect(stored.token_hash).not.toContain(token.slice(14));
    const list = (await t.app.inject({ method: 'GET', url: '/api/v1/api-tokens', headers: op.headers })).json();
    expect(JSON.stringify(list)).not.toContain(token.slice(14));
    expect(list.items).toHaveLength(1);

    const headers = { authorization: `Bearer ${token}` };
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers });
    expect(me.json().user).toMatchObject({ username: op.user.username, role: 'viewer' });
    expect(me.json().user.permissions).not.toContain('core.jobs.cancel');
    const after = (await t.app.inject({ method: 'GET', url: '/api/v1/api-tokens', headers: op.headers })).json().items[0];
    expect(after.lastUsedAt).toBeGreaterThan(0);

    // A viewer token cannot add an SSH key: the key would act with the owner's (operator's) full role.
    const key = execKey('ed25519');
    const add = await t.app.inject({ method: 'POST', url: '/api/v1/ssh-keys', headers, payload: { name: 'from-token', publicKey: key.publicKey } });
    expect(add.statusCode).toBe(403);
    expect(add.json().error.code).toBe('role_ceiling');
    key.cleanup();
    // A change made with a token is audited as token use, with the token as actor (here: it revokes itself).
    const revoke = await t.app.inject({ method: 'DELETE', url: `/api/v1/api-tokens/${apiToken.id}`, headers });
    expect(revoke.statusCode).toBe(204);
    const used = (await t.services.audit.list({ action: 'api_token.use', limit: 5 })).items[0]!;
    expect(used).toMatchObject({ actor: { kind: 'token', id: op.user.id }, target: { id: apiToken.id }, details: { method: 'DELETE' } });
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers })).statusCode).toBe(401);
  });

  it('cannot exceed the owner\'s role, 365 days, or be created by another token', async () => {
    const count = async () => (await t.services.database.db.selectFrom('api_tokens').select('id').execute()).length;
    const before = await count();
    const up = await create(op.headers, { name: 'escalate', role: 'admin', expiresInDays: 30 });
    expect(up.statusCode).toBe(403);
    expect(up.json().error.code).toBe('role_ceiling');
    expect((await create(op.headers, { name: 'billing', role: 'billing', expiresInDays: 30 })).statusCode).toBe(403);
    expect((await create(op.headers, { name: 'long', role: 'viewer', expiresInDays: 366 })).statusCode).toBe(400);
    expect((await create(op.headers, { name: '', role: 'viewer', expiresInDays: 3 })).statusCode).toBe(400);
    expect((await create(op.headers, { name: 'x', role: 'viewer', expiresInDays: 0 })).statusCode).toBe(400);
    expect(await count()).toBe(before);
    const tok = (await create(op.headers, { name: 'parent', role: 'operator', expiresInDays: 3 })).json().token;
    const child = await create({ authorization: `Bearer ${tok}` }, { name: 'child', role: 'viewer', expiresInDays: 3 });
    expect(child.statusCode).toBe(403);
  });

  it('loses what a demoted owner lost', async () => {
    const admin = await t.signIn('admin');
    const u = await t.signIn('operator');
    const tok = (await create(u.headers, { name: 'ops', role: 'operator', expiresInDays: 3 })).json().token;
    const headers = { authorization: `Bearer ${tok}` };
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers })).json().user.role).toBe('operator');
    await t.app.inject({ method: 'PATCH', url: `/api/v1/users/${u.user.id}`, headers: admin.headers, payload: { role: 'viewer' } });
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers })).json().user.role).toBe('viewer');
  });

  it('expires and can be revoked (only by its owner or a user manager)', async () => {
    const res = await create(op.headers, { name: 'short', role: 'viewer', expiresInDays: 1 });
    const headers = { authorization: `Bearer ${res.json().token}` };
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers })).statusCode).toBe(200);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 86_400_000 + 1000);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers })).statusCode).toBe(401);
    vi.useRealTimers();

    const other = await create(op.headers, { name: 'to-revoke', role: 'viewer', expiresInDays: 5 });
    const id = other.json().apiToken.id as string;
    const otherHeaders = { authorization: `Bearer ${other.json().token}` };
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: otherHeaders })).statusCode).toBe(200);
    const stranger = await t.signIn('viewer');
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/api-tokens/${id}`, headers: stranger.headers })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/api-tokens/${id}`, headers: op.headers })).statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: otherHeaders })).statusCode).toBe(401);
    expect((await t.services.audit.list({ action: 'api_token.revoke', limit: 1 })).items[0]).toMatchObject({ target: { id } });
  });
});

function execKey(type: 'ed25519' | 'rsa' | 'ecdsa', bits?: number) {
  const dir = mkdtempSync(path.join(tmpdir(), 'slipway-sshkey-'));
  const file = path.join(dir, 'key');
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-N', '', '-C', 'me@laptop', '-f', file]);
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  return { publicKey: readFileSync(`${file}.pub`, 'utf8'), fingerprint, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

describe('SSH keys', () => {
  let t: TestApp;
  beforeAll(async () => { t = await createTestApp({ startBackground: false }); });
  afterAll(async () => t?.close());

  it('computes the same SHA256 fingerprint as ssh-keygen for ed25519, RSA and ECDSA keys', () => {
    for (const [type, bits] of [['ed25519'], ['rsa', 3072], ['ecdsa', 384]] as const) {
      const k = execKey(type, bits);
      try {
        expect(parsePublicKey(k.publicKey).fingerprint).toBe(k.fingerprint);
      } finally {
        k.cleanup();
      }
    }
  });

  it('stores a user\'s keys, refuses malformed, weak and duplicate keys, and deletes', async () => {
    const u = await t.signIn('user');
    const k = execKey('ed25519');
    const weak = execKey('rsa', 1024);
    try {
      const add = await t.app.inject({ method: 'POST', url: '/api/v1/ssh-keys', headers: u.headers, payload: { name: 'laptop', publicKey: k.publicKey } });
      expect(add.statusCode).toBe(201);
      expect(add.json().sshKey).toMatchObject({ name: 'laptop', type: 'ssh-ed25519', fingerprint: k.fingerprint });
      const bad = [
        'ssh-ed25519 AAAAnotbase64!!! x',
        'ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4EddRIpUt9KnC7s5Of2EbdSPO9EAMMeP4C2USZpRV1AIlH7WT2NWPq/xfW6MPbLm1Vs14E7 x',
        `${k.publicKey.trim()}\n${k.publicKey.trim()}`,
        k.publicKey.replace('ssh-ed25519', 'ssh-rsa'),
        weak.publicKey,
      ];
      for (const publicKey of bad) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/ssh-keys', headers: u.headers, payload: { name: 'bad', publicKey } });
        expect(res.statusCode, publicKey.slice(0, 30)).toBe(400);
      }
      expect((await t.app.inject({ method: 'POST', url: '/api/v1/ssh-keys', headers: u.headers, payload: { name: 'again', publicKey: k.publicKey } })).statusCode).toBe(409);
      const list = (await t.app.inject({ method: 'GET', url: '/api/v1/ssh-keys', headers: u.headers })).json();
      expect(list.items).toHaveLength(1);
      const other = await t.signIn('user');
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/ssh-keys', headers: other.headers })).json().items).toHaveLength(0);
      expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/ssh-keys/${list.items[0].id}`, headers: other.headers })).statusCode).toBe(404);
      expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/ssh-keys/${list.items[0].id}`, headers: u.headers })).statusCode).toBe(204);
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/ssh-keys', headers: u.headers })).json().items).toHaveLength(0);
      expect((await t.services.audit.list({ action: 'ssh_key.add', limit: 5 })).items.map((e) => e.details?.fingerprint)).toEqual([k.fingerprint]);
      expect((await t.services.audit.list({ action: 'ssh_key.remove', limit: 5 })).items).toHaveLength(1);
    } finally {
      k.cleanup();
      weak.cleanup();
    }
  });
});
