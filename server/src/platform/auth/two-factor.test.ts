import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type SignedIn, type TestApp } from '../../testing/harness.js';

const LOGIN = '/api/v1/auth/login';
/** What an authenticator app would show `offsetSteps` periods from now. */
function codeAt(secret: string, offsetSteps = 0): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp: Date.now() + offsetSteps * 30_000 });
}

async function enrol(t: TestApp, u: SignedIn): Promise<{ secret: string; recoveryCodes: string[] }> {
  const e = await t.app.inject({ method: 'POST', url: '/api/v1/auth/2fa/enroll', headers: u.headers });
  expect(e.statusCode).toBe(200);
  const { secret, otpauthUri } = e.json() as { secret: string; otpauthUri: string };
  expect(otpauthUri).toMatch(/^otpauth:\/\/totp\/Slipway:.+\?.*secret=/);
  expect(otpauthUri).toContain('digits=6');
  expect(otpauthUri).toContain('period=30');
  const c = await t.app.inject({ method: 'POST', url: '/api/v1/auth/2fa/confirm', headers: u.headers, payload: { code: codeAt(secret) } });
  expect(c.statusCode).toBe(200);
  return { secret, recoveryCodes: c.json().recoveryCodes };
}

describe('two-factor authentication', () => {
  let t: TestApp;
  beforeAll(async () => { t = await createTestApp({ startBackground: false }); });
  afterAll(async () => t?.close());

  it('enrols, stores the secret encrypted, and signs in with a code; a replayed code is refused', async () => {
    const u = await t.signIn('operator');
    const wrongConfirm = await t.app.inject({ method: 'POST', url: '/api/v1/auth/2fa/confirm', headers: u.headers, payload: { code: '000000' } });
    expect(wrongConfirm.statusCode).toBe(422);
    const { secret, recoveryCodes } = await enrol(t, u);
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    const row = await t.services.database.db.selectFrom('users').select(['totp_secret', 'totp_enabled']).where('id', '=', u.user.id).executeTakeFirstOrThrow();
    expect(row.totp_enabled).toBe(1);
    expect(row.totp_secret).not.toContain(secret);
    const codes = await t.services.database.db.selectFrom('recovery_codes').select('code_hash').where('user_id', '=', u.user.id).execute();
    expect(codes.map((c) => c.code_hash).join()).not.toContain(recoveryCodes[0]!.replaceAll('-', ''));

    const step1 = await t.app.inject({ method: 'POST', url: LOGIN, payload: { username: u.user.username, password: u.password } });
    expect(step1.json()).toEqual({ status: 'mfa_required', mfaToken: expect.any(String) });
    const mfaToken = step1.json().mfaToken as string;
    // The MFA token is not an access token.
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${mfaToken}` } })).statusCode).toBe(401);

    // The confirm used the current step; the next step's code (accepted: ±1 step) signs in once.
    const code = codeAt(secret, 1);
    const ok = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login/mfa', payload: { mfaToken, code } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ status: 'ok', user: { totpEnabled: true } });
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${ok.json().accessToken}` } });
    expect(me.json().user.totpEnabled).toBe(true);

    // The MFA token is single-use: replaying it is refused whatever the code.
    const replay = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login/mfa', payload: { mfaToken, code } });
    expect(replay.statusCode).toBe(401);
    expect(replay.json().error.code).toBe('invalid_mfa_token');
    // With a fresh token, a used, an old and a far-future code are each refused.
    const fresh = (await t.app.inject({ method: 'POST', url: LOGIN, payload: { username: u.user.username, password: u.password } })).json().mfaToken as string;
    const reused = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login/mfa', payload: { mfaToken: fresh, code } });
    expect(reused.statusCode).toBe(401);
    expect(reused.json().error.code).toBe('invalid_code');
    const old = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login/mfa', payload: { mfaToken: fresh, code: codeAt(secret, 0) } });
    expect(old.statusCode).toBe(401);
    const far = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login/mfa', payload: { mfaToken: fresh, code: codeAt(secret, 5) } });
    expect(far.statusCode).toBe(401);
  });

  it('a recovery code signs in exactly once; enrolling ends the other sessions', async () => {
    const u = await t.signIn('viewer');
    const other = await t.app.inject({ method: 'POST', url: LOGIN, payload: { username: u.user.username, password: u.password } });
    const otherHeaders = { authorization: `Bearer ${other.json().accessToken}` };
    const { recoveryCodes } = await enrol(t, u);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: otherHeaders })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: u.headers })).statusCode).toBe(200);

    const mfaToken = (await t.app.inject({ method: 'POST', url: LOGIN, payload: { username: u.user.username, password: u.password } })).json().mfaToken;
    const used = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login/mfa', payload: { mfaToken, recoveryCode: recoveryCodes[3]!.toLowerCase() } });
    expect(used.statusCode).toBe(200);
    const replayed = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login/mfa', payload: { mfaToken, recoveryCode: recoveryCodes[4] } });
    expect(replayed.json().error.code).toBe('invalid_mfa_token');
    const fresh = (await t.app.inject({ method: 'POST', url: LOGIN, payload: { username: u.user.username, password: u.password } })).json().mfaToken as string;
    const again = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login/mfa', payload: { mfaToken: fresh, recoveryCode: recoveryCodes[3] } });
    expect(again.statusCode).toBe(401);
    expect(again.json().error.code).toBe('invalid_code');
    const audit = (await t.services.audit.list({ action: 'auth.login', limit: 50 })).items.filter((e) => e.actor.id === u.user.id);
    expect(audit.some((e) => e.outcome === 'success' && e.details?.method === 'recovery_code')).toBe(true);
    expect(audit.some((e) => e.outcome === 'failure' && e.details?.reason === 'invalid_recovery_code')).toBe(true);
  });

  it('disabling needs the password and a code; an admin can reset a user\'s 2FA (audited)', async () => {
    const u = await t.signIn('viewer');
    const { secret } = await enrol(t, u);
    const noPw = await t.app.inject({ method: 'POST', url: '/api/v1/auth/2fa/disable', headers: u.headers, payload: { password: 'not-the-password', code: codeAt(secret, 1) } });
    expect(noPw.statusCode).toBe(403);
    const badCode = await t.app.inject({ method: 'POST', url: '/api/v1/auth/2fa/disable', headers: u.headers, payload: { password: u.password, code: '123456' } });
    expect(badCode.statusCode).toBe(422);
    const off = await t.app.inject({ method: 'POST', url: '/api/v1/auth/2fa/disable', headers: u.headers, payload: { password: u.password, code: codeAt(secret, 1) } });
    expect(off.statusCode).toBe(204);
    expect((await t.app.inject({ method: 'POST', url: LOGIN, payload: { username: u.user.username, password: u.password } })).json().status).toBe('ok');

    await enrol(t, u);
    const admin = await t.signIn('admin');
    const billing = await t.signIn('billing');
    const reset = await t.app.inject({ method: 'POST', url: `/api/v1/users/${u.user.id}/reset-2fa`, headers: billing.headers });
    expect(reset.statusCode).toBe(200);
    expect(reset.json().user.totpEnabled).toBe(false);
    expect((await t.app.inject({ method: 'POST', url: LOGIN, payload: { username: u.user.username, password: u.password } })).json().status).toBe('ok');
    // Billing may not reset an administrator's 2FA (role ceiling).
    expect((await t.app.inject({ method: 'POST', url: `/api/v1/users/${admin.user.id}/reset-2fa`, headers: billing.headers })).statusCode).toBe(403);
    const audit = (await t.services.audit.list({ action: 'user.reset_2fa', limit: 10 })).items;
    expect(audit[0]).toMatchObject({ actor: { id: billing.user.id }, target: { type: 'user', id: u.user.id } });
  });

  it('when the panel requires 2FA for a role, its users without 2FA can only reach the account and 2FA routes until enrolled', async () => {
    const admin = await t.signIn('admin');
    const op = await t.signIn('operator');
    const viewer = await t.signIn('viewer');
    const put = await t.app.inject({ method: 'PUT', url: '/api/v1/settings/security', headers: admin.headers, payload: { require2fa: { all: false, roles: ['operator'] } } });
    expect(put.statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/settings/security', headers: admin.headers })).json()).toEqual({ require2fa: { all: false, roles: ['operator'] } });
    expect((await t.app.inject({ method: 'PUT', url: '/api/v1/settings/security', headers: op.headers, payload: { require2fa: { all: false, roles: [] } } })).statusCode).toBe(403);

    const me = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: op.headers });
    expect(me.json().user.require2fa).toBe(true);
    const blocked = await t.app.inject({ method: 'GET', url: '/api/v1/ssh-keys', headers: op.headers });
    expect(blocked.statusCode).toBe(403);
    expect(blocked.json().error.code).toBe('two_factor_enrollment_required');
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/ssh-keys', headers: viewer.headers })).statusCode).toBe(200);

    const { secret } = await enrol(t, op);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: op.headers })).json().user.require2fa).toBe(false);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/ssh-keys', headers: op.headers })).statusCode).toBe(200);
    const disable = await t.app.inject({ method: 'POST', url: '/api/v1/auth/2fa/disable', headers: op.headers, payload: { password: op.password, code: codeAt(secret, 1) } });
    expect(disable.statusCode).toBe(422);
    await t.app.inject({ method: 'PUT', url: '/api/v1/settings/security', headers: admin.headers, payload: { require2fa: { all: false, roles: [] } } });
    expect((await t.services.audit.list({ action: 'settings.security.update', limit: 10 })).items).toHaveLength(2);
  });
});

describe('password reset by an administrator', () => {
  let t: TestApp;
  beforeAll(async () => { t = await createTestApp({ startBackground: false }); });
  afterAll(async () => t?.close());

  it('ends the user\'s sessions and, until they change it, only the account routes work', async () => {
    const admin = await t.signIn('admin');
    const u = await t.signIn('operator');
    const reset = await t.app.inject({ method: 'POST', url: `/api/v1/users/${u.user.id}/reset-password`, headers: admin.headers });
    expect(reset.statusCode).toBe(200);
    const temporary = reset.json().temporaryPassword as string;
    expect(temporary.length).toBeGreaterThanOrEqual(20);
    expect(reset.json().user.mustChangePassword).toBe(true);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: u.headers })).statusCode).toBe(401);

    const login = await t.app.inject({ method: 'POST', url: LOGIN, payload: { username: u.user.username, password: temporary } });
    const headers = { authorization: `Bearer ${login.json().accessToken}` };
    expect(login.json().user.mustChangePassword).toBe(true);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers })).json().user.mustChangePassword).toBe(true);
    const blocked = await t.app.inject({ method: 'GET', url: '/api/v1/ssh-keys', headers });
    expect(blocked.statusCode).toBe(403);
    expect(blocked.json().error.code).toBe('password_change_required');
    const next = 'Harbour-lantern-47-quietly';
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/password', headers, payload: { currentPassword: temporary, newPassword: next } })).statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/ssh-keys', headers })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers })).json().user.mustChangePassword).toBe(false);

    const given = await t.app.inject({ method: 'POST', url: `/api/v1/users/${u.user.id}/reset-password`, headers: admin.headers, payload: { password: 'Another-long-passphrase-9' } });
    expect(given.json().temporaryPassword).toBeNull();
    expect((await t.app.inject({ method: 'POST', url: LOGIN, payload: { username: u.user.username, password: 'Another-long-passphrase-9' } })).statusCode).toBe(200);
  });
});
