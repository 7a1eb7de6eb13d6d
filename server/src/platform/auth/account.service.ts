import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../../db/database.js';
import { newId } from '../../db/ids.js';
import type { CoreTables, UsersTable } from '../../db/schema.js';
import type { AuditLog } from '../audit/audit.service.js';
import { ConflictError, ForbiddenError, UnauthorizedError, ValidationError } from '../errors.js';
import type { Actor } from '../rbac/permissions.js';
import type { PermissionRegistry } from '../rbac/registry.js';
import type { Role } from '../rbac/roles.js';
import { constantTimeEquals, randomToken, sha256Hex } from './crypto.js';
import { MFA_TOKEN_TTL_SECONDS, type TokenSigner } from './jwt.js';
import { assertPasswordPolicy, dummyVerify, hashPassword, verifyPassword } from './passwords.js';
import type { ClientInfo, IssuedTokens, SessionService } from './sessions.service.js';
import { putSetting, type SettingsService } from './settings.service.js';
import { ACCOUNT_POLICY, IP_POLICY, type LoginThrottle, type Reservation } from './throttle.js';
import type { TwoFactorService } from './two-factor.service.js';
import { presentUser, type UsersService, type UserView } from './users.service.js';

const SETUP_TOKEN_KEY = 'setup_token';
export const SETUP_TOKEN_TTL_MS = 24 * 3_600_000;
const SETUP_LOCK = 7214003;

export type LoginResult =
  | ({ status: 'ok'; user: UserView } & IssuedTokens)
  | { status: 'mfa_required'; mfaToken: string };

export interface MeView {
  id: string; username: string; email: string; role: Role; totpEnabled: boolean; mustChangePassword: boolean; permissions: string[]; require2fa: boolean;
}

function anonymousActor(client: ClientInfo, username: string, userId: string | null = null): Actor {
  return { kind: 'user', userId, username, role: 'user', ip: client.ip, userAgent: client.userAgent };
}

/** First run, sign-in (password, then TOTP or recovery code), password change, sign-out. */
export class AccountService {
  constructor(
    private readonly db: Kysely<CoreTables>,
    private readonly dialect: Dialect,
    private readonly audit: AuditLog,
    private readonly users: UsersService,
    private readonly sessions: SessionService,
    private readonly twoFactor: TwoFactorService,
    private readonly throttle: LoginThrottle,
    private readonly signer: TokenSigner,
    private readonly settings: SettingsService,
    private readonly permissions: PermissionRegistry,
  ) {}

  private async adminExists(db: Kysely<CoreTables> = this.db): Promise<boolean> {
    return !!(await db.selectFrom('users').select('id').where('role', '=', 'admin').limit(1).executeTakeFirst());
  }

  async setupRequired(): Promise<boolean> {
    return !(await this.adminExists());
  }

  /** While no admin exists: a fresh single-use setup token (stored hashed) on every start. */
  async prepareFirstRun(): Promise<{ token: string; expiresAt: number } | null> {
    if (await this.adminExists()) {
      await this.db.deleteFrom('settings').where('key', '=', SETUP_TOKEN_KEY).execute();
      return null;
    }
    const token = randomToken(32);
    const expiresAt = Date.now() + SETUP_TOKEN_TTL_MS;
    await putSetting(this.db, SETUP_TOKEN_KEY, JSON.stringify({ hash: sha256Hex(token), expiresAt }));
    return { token, expiresAt };
  }

  async completeSetup(input: { token: string; username: string; email: string; password: string }, client: ClientInfo): Promise<UserView> {
    if (await this.adminExists()) throw new ConflictError('Setup is already complete');
    const presentedHash = sha256Hex(input.token);
    const stored = await this.readSetupToken();
    const denied = (reason: string) => this.audit.record({ actor: anonymousActor(client, input.username), action: 'setup.complete', outcome: 'denied', details: { reason } });
    if (!stored || !constantTimeEquals(presentedHash, stored.hash)) {
      await denied('invalid_setup_token');
      throw new ForbiddenError('The setup token is not valid; use the link printed when the panel started', 'invalid_setup_token');
    }
    if (stored.expiresAt <= Date.now()) {
      await denied('setup_token_expired');
      throw new ForbiddenError('The setup token has expired; restart the panel to get a new one', 'setup_token_expired');
    }
    const username = input.username.toLowerCase();
    const email = input.email.toLowerCase();
    assertPasswordPolicy(input.password, username, email);
    const now = Date.now();
    const row: UsersTable = {
      id: newId(), username, email, password_hash: await hashPassword(input.password), role: 'admin', status: 'active', must_change_password: 0,
      totp_secret: null, totp_enabled: 0, totp_last_step: null, password_changed_at: now, last_login_at: null, created_at: now, updated_at: now,
    };
    await this.db.transaction().execute(async (trx) => {
      if (this.dialect === 'postgres') await sql`select pg_advisory_xact_lock(${SETUP_LOCK})`.execute(trx);
      if (await this.adminExists(trx)) throw new ConflictError('Setup is already complete');
      // Single use: only the caller that deletes the token row may create the admin.
      const used = await trx.deleteFrom('settings').where('key', '=', SETUP_TOKEN_KEY).where('value', 'like', `%${presentedHash}%`).executeTakeFirst();
      if (Number(used.numDeletedRows) !== 1) throw new ConflictError('Setup is already complete');
      await this.users.insertUnique(trx, row);
    });
    const user = presentUser(row);
    await this.audit.record({ actor: { ...anonymousActor(client, username, row.id), role: 'admin' }, action: 'setup.complete', target: { type: 'user', id: row.id }, details: { username, email } });
    return user;
  }

  private async readSetupToken(): Promise<{ hash: string; expiresAt: number } | null> {
    const row = await this.db.selectFrom('settings').select('value').where('key', '=', SETUP_TOKEN_KEY).executeTakeFirst();
    if (!row) return null;
    try {
      const v = JSON.parse(row.value) as { hash?: unknown; expiresAt?: unknown };
      return typeof v.hash === 'string' && typeof v.expiresAt === 'number' ? { hash: v.hash, expiresAt: v.expiresAt } : null;
    } catch {
      return null;
    }
  }

  async login(input: { username: string; password: string }, client: ClientInfo): Promise<LoginResult> {
    const identifier = input.username.trim().toLowerCase();
    const user = await this.users.byLogin(identifier);
    const accountKey = user ? `user:${user.id}` : `name:${identifier}`;
    const ipKey = `ip:${client.ip ?? 'unknown'}`;
    // Reserved before the password is checked: parallel guesses cannot exceed the policy.
    const attempt = await this.throttle.reserve([{ key: accountKey, policy: ACCOUNT_POLICY }, { key: ipKey, policy: IP_POLICY }]);
    let ok = false;
    try {
      if (user) ok = await verifyPassword(user.password_hash, input.password);
      else await dummyVerify(input.password);
    } catch (e) {
      await attempt.failed();
      throw e;
    }
    if (!user || !ok) {
      await this.failed(attempt, client, identifier, user?.id ?? null, 'invalid_credentials');
      throw new UnauthorizedError('Wrong username or password', 'invalid_credentials');
    }
    if (user.status !== 'active') {
      await attempt.succeeded();
      await this.audit.record({ actor: anonymousActor(client, user.username, user.id), action: 'auth.login', target: { type: 'user', id: user.id, name: user.username }, outcome: 'denied', details: { reason: 'suspended' } });
      throw new ForbiddenError('This account is suspended; contact an administrator', 'account_suspended');
    }
    if (Number(user.totp_enabled) === 1) {
      // The password alone proves nothing yet: the account's failure history stays until the
      // second step succeeds (this attempt just stops counting as a failure).
      await attempt.succeeded();
      return { status: 'mfa_required', mfaToken: await this.issueMfaChallenge(user.id) };
    }
    await attempt.succeeded({ clear: [accountKey] });
    return this.finishLogin(user, client, 'password');
  }

  /** A single-use challenge (auth_challenges row) carried as the mfaToken's jti. */
  private async issueMfaChallenge(userId: string): Promise<string> {
    const now = Date.now();
    const id = newId();
    await this.db.deleteFrom('auth_challenges').where('expires_at', '<', now).execute();
    await this.db.insertInto('auth_challenges').values({ id, user_id: userId, purpose: 'mfa_login', created_at: now, expires_at: now + MFA_TOKEN_TTL_SECONDS * 1000, used_at: null }).execute();
    return this.signer.signMfa(userId, id);
  }

  async loginMfa(input: { mfaToken: string; code?: string; recoveryCode?: string }, client: ClientInfo): Promise<LoginResult> {
    const expired = () => new UnauthorizedError('The sign-in step expired or was already used; sign in again', 'invalid_mfa_token');
    const { userId, challengeId } = await this.signer.verifyMfa(input.mfaToken);
    const challenge = await this.db.selectFrom('auth_challenges').selectAll().where('id', '=', challengeId).executeTakeFirst();
    if (!challenge || challenge.user_id !== userId || challenge.used_at !== null || Number(challenge.expires_at) <= Date.now()) throw expired();
    const user = await this.users.byId(userId);
    if (!user || user.status !== 'active' || Number(user.totp_enabled) !== 1) throw expired();
    const accountKey = `user:${user.id}`;
    const ipKey = `ip:${client.ip ?? 'unknown'}`;
    const attempt = await this.throttle.reserve([{ key: accountKey, policy: ACCOUNT_POLICY }, { key: ipKey, policy: IP_POLICY }]);
    const method = input.code !== undefined ? 'totp' : 'recovery_code';
    let ok = false;
    try {
      ok = input.code !== undefined ? await this.twoFactor.consumeTotp(user, input.code) : await this.twoFactor.consumeRecoveryCode(user.id, input.recoveryCode ?? '');
    } catch (e) {
      await attempt.failed();
      throw e;
    }
    if (!ok) {
      await this.failed(attempt, client, user.username, user.id, method === 'totp' ? 'invalid_code' : 'invalid_recovery_code');
      throw new UnauthorizedError('The code is wrong, expired or already used', 'invalid_code');
    }
    // Single use: only the request that marks the challenge used gets a session.
    const used = await this.db.updateTable('auth_challenges').set({ used_at: Date.now() }).where('id', '=', challengeId).where('used_at', 'is', null).executeTakeFirst();
    if (Number(used.numUpdatedRows) !== 1) {
      await attempt.succeeded();
      throw expired();
    }
    await attempt.succeeded({ clear: [accountKey] });
    return this.finishLogin(user, client, method);
  }

  private async failed(attempt: Reservation, client: ClientInfo, username: string, userId: string | null, reason: string) {
    const outcomes = await attempt.failed();
    const actor = anonymousActor(client, username, userId);
    const target = userId ? { type: 'user', id: userId } : undefined; // named when listed (the typed identifier may be an email)
    await this.audit.record({ actor, action: 'auth.login', target, outcome: 'failure', details: { reason } });
    for (const o of outcomes) {
      if (o.lockedUntil) await this.audit.record({ actor, action: 'auth.lockout', target, outcome: 'denied', details: { scope: o.key.startsWith('ip:') ? 'ip' : 'account', lockedUntil: o.lockedUntil } });
    }
  }

  private async finishLogin(user: UsersTable, client: ClientInfo, method: string): Promise<LoginResult> {
    const tokens = await this.sessions.create(user, client);
    const now = Date.now();
    await this.db.updateTable('users').set({ last_login_at: now }).where('id', '=', user.id).execute();
    await this.audit.record({ actor: { ...anonymousActor(client, user.username, user.id), role: user.role as Role, sessionId: tokens.sessionId }, action: 'auth.login', target: { type: 'user', id: user.id, name: user.username }, details: { method, sessionId: tokens.sessionId } });
    return { status: 'ok', ...tokens, user: presentUser({ ...user, last_login_at: now }) };
  }

  async changePassword(actor: Actor, currentPassword: string, newPassword: string): Promise<void> {
    if (actor.kind !== 'user' || !actor.userId) throw new ForbiddenError('Passwords can only be changed when signed in as the user', 'user_session_required');
    const user = await this.users.byId(actor.userId);
    if (!user) throw new UnauthorizedError();
    if (!(await this.throttle.confirmPassword(user.id, () => verifyPassword(user.password_hash, currentPassword)))) {
      await this.audit.record({ actor, action: 'auth.password.change', target: { type: 'user', id: user.id }, outcome: 'failure', details: { reason: 'invalid_password' } });
      throw new ForbiddenError('The current password is wrong', 'invalid_password');
    }
    assertPasswordPolicy(newPassword, user.username, user.email, 'newPassword');
    if (newPassword === currentPassword) {
      throw new ValidationError('The new password must differ from the current one', { rule: 'reused', issues: [{ path: 'newPassword', message: 'same as the current password' }] });
    }
    const now = Date.now();
    await this.db.updateTable('users').set({ password_hash: await hashPassword(newPassword), must_change_password: 0, password_changed_at: now, updated_at: now }).where('id', '=', user.id).execute();
    const ended = await this.sessions.revokeAllForUser(user.id, 'password_changed', actor.sessionId);
    this.users.notifyChanged(user.id);
    await this.audit.record({ actor, action: 'auth.password.change', target: { type: 'user', id: user.id }, details: { otherSessionsEnded: ended } });
  }

  async logout(sessionId: string, actor: Actor): Promise<void> {
    await this.sessions.revoke(sessionId, 'logout');
    await this.audit.record({ actor, action: 'auth.logout', target: { type: 'session', id: sessionId } });
  }

  /** Served from the session cache: no query on the hot path. */
  async me(actor: Actor): Promise<MeView> {
    let view: Omit<MeView, 'permissions' | 'require2fa'>;
    if (actor.kind === 'user' && actor.sessionId && actor.userId) {
      const s = await this.sessions.state(actor.sessionId, actor.userId);
      view = { id: s.userId, username: s.username, email: s.email, role: s.role, totpEnabled: s.totpEnabled, mustChangePassword: s.mustChangePassword };
    } else {
      const u = actor.userId ? await this.users.byId(actor.userId) : undefined;
      if (!u) throw new UnauthorizedError();
      view = { id: u.id, username: u.username, email: u.email, role: actor.role, totpEnabled: Number(u.totp_enabled) === 1, mustChangePassword: Number(u.must_change_password) === 1 };
    }
    const settings = await this.settings.security();
    return {
      ...view,
      role: actor.role,
      permissions: this.permissions.permissionsOf(actor.role),
      require2fa: !view.totpEnabled && this.settings.requires2fa(settings, view.role),
    };
  }
}
