import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, testPassword, type SignedIn, type TestApp } from '../../testing/harness.js';

describe('users administration', () => {
  let t: TestApp;
  let admin: SignedIn;
  beforeAll(async () => {
    t = await createTestApp({ startBackground: false });
    admin = await t.signIn('admin', { username: 'chief' });
  });
  afterAll(async () => t?.close());

  const users = (headers: Record<string, string>, query = '') => t.app.inject({ method: 'GET', url: `/api/v1/users${query}`, headers });
  const userCount = async () => Number((await t.services.database.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);

  it('creates users (given password or a generated one shown once), lists with filters and pagination', async () => {
    const withPw = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: admin.headers, payload: { username: 'Dana.Ops', email: 'Dana@Example.test', role: 'operator', password: testPassword() } });
    expect(withPw.statusCode).toBe(201);
    expect(withPw.json()).toMatchObject({ user: { username: 'dana.ops', email: 'dana@example.test', role: 'operator', status: 'active', mustChangePassword: false }, temporaryPassword: null });
    const generated = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: admin.headers, payload: { username: 'erin', email: 'erin@example.test', role: 'viewer' } });
    expect(generated.statusCode).toBe(201);
    const temp = generated.json().temporaryPassword as string;
    expect(generated.json().user.mustChangePassword).toBe(true);
    const login = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'erin', password: temp } });
    expect(login.json().user.mustChangePassword).toBe(true);

    const dup = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: admin.headers, payload: { username: 'erin', email: 'other@example.test', role: 'viewer' } });
    expect(dup.statusCode).toBe(409);

    const all = (await users(admin.headers)).json();
    expect(all.total).toBe(3);
    expect(all.items.map((u: { username: string }) => u.username)).toEqual(['chief', 'dana.ops', 'erin']);
    expect((await users(admin.headers, '?search=DANA')).json()).toMatchObject({ total: 1, items: [{ username: 'dana.ops' }] });
    expect((await users(admin.headers, '?role=viewer')).json().items.map((u: { username: string }) => u.username)).toEqual(['erin']);
    const page = (await users(admin.headers, '?limit=1&offset=1')).json();
    expect(page.total).toBe(3);
    expect(page.items.map((u: { username: string }) => u.username)).toEqual(['dana.ops']);
    expect((await users(admin.headers, '?limit=0')).statusCode).toBe(400);
    expect((await users(admin.headers, '?role=emperor')).statusCode).toBe(400);
    const audit = (await t.services.audit.list({ action: 'user.create', limit: 10 })).items;
    expect(audit.map((e) => e.details?.username)).toEqual(expect.arrayContaining(['dana.ops', 'erin']));
    expect(JSON.stringify(audit)).not.toContain(temp);
  });

  it('refuses bad input with 400 and changes nothing', async () => {
    const before = await userCount();
    const bad = [
      { username: '-rm', email: 'x@example.test', role: 'viewer' },
      { username: 'ok-name', email: 'not-an-email', role: 'viewer' },
      { username: 'ok-name', email: 'x@example.test', role: 'root' },
      { username: 'ok-name', email: 'x@example.test', role: 'viewer', password: 'short' },
      { username: 'ok-name', email: 'x@example.test', role: 'viewer', password: 'qwertyuiop123' },
      { username: 'ok-name', email: 'x@example.test', role: 'viewer', password: 'my-ok-name-is-long' },
      { username: 'a'.repeat(40), email: 'x@example.test', role: 'viewer' },
    ];
    for (const payload of bad) {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: admin.headers, payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().error.message.length).toBeGreaterThan(5);
    }
    expect(await userCount()).toBe(before);
  });

  it('a role may only grant and manage roles within its own', async () => {
    const billing = await t.signIn('billing');
    const viewer = await t.signIn('viewer');
    expect((await users(viewer.headers)).statusCode).toBe(403);
    expect((await users(billing.headers)).statusCode).toBe(200);
    const asAdmin = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: billing.headers, payload: { username: 'sneaky', email: 'sneaky@example.test', role: 'admin' } });
    expect(asAdmin.statusCode).toBe(403);
    expect(asAdmin.json().error.code).toBe('role_ceiling');
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: billing.headers, payload: { username: 'ops2', email: 'ops2@example.test', role: 'operator' } })).statusCode).toBe(403);
    const ok = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: billing.headers, payload: { username: 'cust1', email: 'cust1@example.test', role: 'viewer' } });
    expect(ok.statusCode).toBe(201);
    // Billing looks after customer accounts: the `user` role is assignable although its own permissions are not a subset.
    const customer = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: billing.headers, payload: { username: 'cust2', email: 'cust2@example.test', role: 'user' } });
    expect(customer.statusCode).toBe(201);
    expect(customer.json().user.role).toBe('user');
    // Billing cannot reset an administrator's password or promote anyone to admin.
    expect((await t.app.inject({ method: 'POST', url: `/api/v1/users/${admin.user.id}/reset-password`, headers: billing.headers })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'PATCH', url: `/api/v1/users/${ok.json().user.id}`, headers: billing.headers, payload: { role: 'admin' } })).statusCode).toBe(403);
    // Billing lacks users.delete.
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/users/${ok.json().user.id}`, headers: billing.headers, payload: { confirm: 'cust1' } })).statusCode).toBe(403);
  });

  it('editing a role takes effect on the user\'s next request', async () => {
    const u = await t.signIn('viewer');
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: u.headers })).json().user.role).toBe('viewer');
    const patch = await t.app.inject({ method: 'PATCH', url: `/api/v1/users/${u.user.id}`, headers: admin.headers, payload: { role: 'operator', email: 'NEW-ADDR@example.test' } });
    expect(patch.statusCode).toBe(200);
    expect(patch.json().user).toMatchObject({ role: 'operator', email: 'new-addr@example.test' });
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: u.headers })).json().user).toMatchObject({ role: 'operator', email: 'new-addr@example.test' });
    const entry = (await t.services.audit.list({ action: 'user.update', limit: 1 })).items[0]!;
    expect(entry.details).toMatchObject({ role: { from: 'viewer', to: 'operator' } });
    expect((await t.app.inject({ method: 'PATCH', url: `/api/v1/users/${u.user.id}`, headers: admin.headers, payload: {} })).statusCode).toBe(400);
  });

  it('suspension ends sessions and API tokens at once; unsuspend lets the user back in', async () => {
    const u = await t.signIn('operator');
    const tok = await t.app.inject({ method: 'POST', url: '/api/v1/api-tokens', headers: u.headers, payload: { name: 'ci', role: 'viewer', expiresInDays: 30 } });
    const tokenHeaders = { authorization: `Bearer ${tok.json().token}` };
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: tokenHeaders })).statusCode).toBe(200);
    const s = await t.app.inject({ method: 'POST', url: `/api/v1/users/${u.user.id}/suspend`, headers: admin.headers });
    expect(s.json().user.status).toBe('suspended');
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: u.headers })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: tokenHeaders })).statusCode).toBe(401);
    const login = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: u.user.username, password: u.password } });
    expect(login.statusCode).toBe(403);
    expect(login.json().error.code).toBe('account_suspended');
    expect((await users(admin.headers, '?status=suspended')).json().items.map((x: { id: string }) => x.id)).toEqual([u.user.id]);
    await t.app.inject({ method: 'POST', url: `/api/v1/users/${u.user.id}/unsuspend`, headers: admin.headers });
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: u.user.username, password: u.password } })).statusCode).toBe(200);
    // The revoked token stays revoked.
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: tokenHeaders })).statusCode).toBe(401);
  });

  it('deletion needs the username typed as confirmation', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: admin.headers, payload: { username: 'leaver', email: 'leaver@example.test', role: 'viewer' } });
    const id = created.json().user.id as string;
    const wrong = await t.app.inject({ method: 'DELETE', url: `/api/v1/users/${id}`, headers: admin.headers, payload: { confirm: 'someone' } });
    expect(wrong.statusCode).toBe(400);
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/users/${id}`, headers: admin.headers })).statusCode).toBe(200);
    const del = await t.app.inject({ method: 'DELETE', url: `/api/v1/users/${id}`, headers: admin.headers, payload: { confirm: 'leaver' } });
    expect(del.statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/users/${id}`, headers: admin.headers })).statusCode).toBe(404);
    expect((await t.services.audit.list({ action: 'user.delete', limit: 1 })).items[0]).toMatchObject({ target: { id }, details: { username: 'leaver' } });
  });

  it('nobody can demote, suspend or delete the last active administrator (422)', async () => {
    // chief is the only admin created so far besides any made by signIn('admin') in this file: make sure of it.
    const admins = (await users(admin.headers, '?role=admin')).json();
    expect(admins.total).toBe(1);
    const second = await t.signIn('admin');
    // The second admin may act on chief while chief is not the last one…
    const demoteChief = await t.app.inject({ method: 'PATCH', url: `/api/v1/users/${admin.user.id}`, headers: second.headers, payload: { role: 'operator' } });
    expect(demoteChief.statusCode).toBe(200);
    // …but now second is the last admin: chief (an operator) cannot touch it, and second cannot demote itself.
    const self = await t.app.inject({ method: 'PATCH', url: `/api/v1/users/${second.user.id}`, headers: second.headers, payload: { role: 'viewer' } });
    expect(self.statusCode).toBe(422);
    expect(self.json().error.code).toBe('last_admin');
    const viaSystem = t.services.auth.users;
    const { SYSTEM_ACTOR } = await import('../rbac/permissions.js');
    await expect(viaSystem.setSuspended(SYSTEM_ACTOR, second.user.id, true)).rejects.toMatchObject({ status: 422, code: 'last_admin' });
    await expect(viaSystem.delete(SYSTEM_ACTOR, second.user.id, second.user.username)).rejects.toMatchObject({ status: 422 });
    expect((await users(second.headers, '?role=admin')).json().total).toBe(1);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: second.headers })).json().user.role).toBe('admin');
  });
});
