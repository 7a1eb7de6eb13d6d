import { sql, type Kysely, type Transaction } from 'kysely';
import type { Dialect } from '../../db/database.js';
import { newId } from '../../db/ids.js';
import type { CoreTables, UsersTable } from '../../db/schema.js';
import type { AuditLog } from '../audit/audit.service.js';
import { ConflictError, DomainRuleError, ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import { corePermissions } from '../rbac/core-permissions.js';
import { canAssignRole, requirePermission, type Actor } from '../rbac/permissions.js';
import type { Role } from '../rbac/roles.js';
import { assertPasswordPolicy, generateTemporaryPassword, hashPassword } from './passwords.js';

export interface UserView {
  id: string;
  username: string;
  email: string;
  role: Role;
  status: 'active' | 'suspended';
  totpEnabled: boolean;
  mustChangePassword: boolean;
  lastLoginAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export function presentUser(u: UsersTable): UserView {
  return {
    id: u.id, username: u.username, email: u.email, role: u.role as Role, status: u.status,
    totpEnabled: Number(u.totp_enabled) === 1, mustChangePassword: Number(u.must_change_password) === 1,
    lastLoginAt: u.last_login_at === null ? null : Number(u.last_login_at), createdAt: Number(u.created_at), updatedAt: Number(u.updated_at),
  };
}

export interface CreateUserInput { username: string; email: string; role: Role; password?: string; mustChangePassword?: boolean }
export interface UserFilters { search?: string; role?: Role; status?: 'active' | 'suspended'; limit: number; offset: number }

/** Invalidates what other services cache about a user (sessions, API tokens). */
export interface UserChangeListener { userChanged(userId: string): void }

/** What an account change does to the user's other credentials and live streams. */
export interface UserCredentialHooks {
  /** Revokes every API token of the user (cache and streams included); returns how many. */
  revokeTokens(userId: string, reason: string): Promise<number>;
  /** Closes every live stream of the user (all sessions and tokens). */
  closeStreams(userId: string, reason: string): number;
}

/** Serialises changes that could remove the last active administrator (PostgreSQL; SQLite already serialises writers). */
const ADMIN_LOCK = 7214002;

export class UsersService {
  constructor(
    private readonly db: Kysely<CoreTables>,
    private readonly dialect: Dialect,
    private readonly audit: AuditLog,
    private readonly listeners: UserChangeListener[],
    private readonly endSessions: (userId: string, reason: string) => Promise<unknown>,
    private readonly credentials: UserCredentialHooks = { revokeTokens: async () => 0, closeStreams: () => 0 },
  ) {}

  private changed(userId: string) {
    for (const l of this.listeners) l.userChanged(userId);
  }

  /** Tells the caches (sessions, API tokens) that something about the user changed. */
  notifyChanged(userId: string): void {
    this.changed(userId);
  }

  async byId(id: string): Promise<UsersTable | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Username or e-mail, case-insensitive (both are stored lower-case). */
  async byLogin(identifier: string): Promise<UsersTable | undefined> {
    const v = identifier.trim().toLowerCase();
    return this.db.selectFrom('users').selectAll().where(v.includes('@') ? 'email' : 'username', '=', v).executeTakeFirst();
  }

  private async load(id: string): Promise<UsersTable> {
    const u = await this.byId(id);
    if (!u) throw new NotFoundError('User', id);
    return u;
  }

  /** Someone may act on an account only if its role lies within their own (billing cannot reset an admin). */
  private assertCanManage(actor: Actor, target: UsersTable) {
    if (!canAssignRole(actor.role, target.role as Role)) {
      throw new ForbiddenError(`Your role (${actor.role}) cannot manage a user with the role ${target.role}`, 'role_ceiling');
    }
  }

  private assertCanGrant(actor: Actor, role: Role) {
    if (!canAssignRole(actor.role, role)) throw new ForbiddenError(`Your role (${actor.role}) cannot grant the role ${role}`, 'role_ceiling');
  }

  private async lockAdmins(trx: Transaction<CoreTables>) {
    if (this.dialect === 'postgres') await sql`select pg_advisory_xact_lock(${ADMIN_LOCK})`.execute(trx);
  }

  /** Refuses when the change would leave no active administrator. */
  private async assertNotLastAdmin(trx: Transaction<CoreTables>, target: UsersTable, what: string) {
    if (target.role !== 'admin' || target.status !== 'active') return;
    const others = await trx.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('role', '=', 'admin').where('status', '=', 'active').where('id', '!=', target.id).executeTakeFirstOrThrow();
    if (Number(others.n) === 0) throw new DomainRuleError(`Cannot ${what} the last active administrator`, 'last_admin');
  }

  async create(actor: Actor, input: CreateUserInput): Promise<{ user: UserView; temporaryPassword: string | null }> {
    requirePermission(actor, corePermissions['users.manage']);
    this.assertCanGrant(actor, input.role);
    const username = input.username.toLowerCase();
    const email = input.email.toLowerCase();
    const temporaryPassword = input.password === undefined ? generateTemporaryPassword() : null;
    const password = input.password ?? temporaryPassword!;
    if (input.password !== undefined) assertPasswordPolicy(password, username, email);
    await this.assertUnique(username, email);
    const now = Date.now();
    const row: UsersTable = {
      id: newId(), username, email, password_hash: await hashPassword(password), role: input.role, status: 'active',
      must_change_password: temporaryPassword || input.mustChangePassword ? 1 : 0, totp_secret: null, totp_enabled: 0, totp_last_step: null,
      password_changed_at: now, last_login_at: null, created_at: now, updated_at: now,
    };
    await this.insertUnique(this.db, row);
    await this.audit.record({ actor, action: 'user.create', target: { type: 'user', id: row.id }, details: { username, email, role: input.role } });
    return { user: presentUser(row), temporaryPassword };
  }

  private async assertUnique(username: string | null, email: string, exceptId?: string) {
    let q = this.db.selectFrom('users').select(['username', 'email'])
      .where((eb) => (username === null ? eb('email', '=', email) : eb.or([eb('username', '=', username), eb('email', '=', email)])));
    if (exceptId) q = q.where('id', '!=', exceptId);
    const clash = await q.executeTakeFirst();
    if (clash) throw new ConflictError(clash.username === username ? `The username ${username} is taken` : `The e-mail address ${email} is already in use`);
  }

  /** Inserts, turning a unique-constraint race into a 409. */
  async insertUnique(db: Kysely<CoreTables>, row: UsersTable): Promise<void> {
    try {
      await db.insertInto('users').values(row).execute();
    } catch (e) {
      if (/unique|duplicate/i.test((e as Error).message)) throw new ConflictError('The username or e-mail address is already in use');
      throw e;
    }
  }

  async list(actor: Actor, f: UserFilters): Promise<{ items: UserView[]; total: number }> {
    requirePermission(actor, corePermissions['users.read']);
    let q = this.db.selectFrom('users');
    if (f.search) {
      const like = `%${f.search.toLowerCase().replace(/[%_\\]/g, '')}%`;
      q = q.where((eb) => eb.or([eb('username', 'like', like), eb('email', 'like', like)]));
    }
    if (f.role) q = q.where('role', '=', f.role);
    if (f.status) q = q.where('status', '=', f.status);
    const [rows, count] = await Promise.all([
      q.selectAll().orderBy('username').limit(f.limit).offset(f.offset).execute(),
      q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
    ]);
    return { items: rows.map(presentUser), total: Number(count.n) };
  }

  async get(actor: Actor, id: string): Promise<UserView> {
    if (actor.userId !== id) requirePermission(actor, corePermissions['users.read']);
    return presentUser(await this.load(id));
  }

  async update(actor: Actor, id: string, patch: { email?: string; role?: Role }): Promise<UserView> {
    requirePermission(actor, corePermissions['users.manage']);
    const target = await this.load(id);
    this.assertCanManage(actor, target);
    const email = patch.email?.toLowerCase();
    if (patch.role) this.assertCanGrant(actor, patch.role);
    if (email && email !== target.email) await this.assertUnique(null, email, id);
    const updated = await this.db.transaction().execute(async (trx) => {
      await this.lockAdmins(trx);
      const fresh = (await trx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()) ?? target;
      if (patch.role && patch.role !== 'admin') await this.assertNotLastAdmin(trx, fresh, 'demote');
      const set = { ...(email ? { email } : {}), ...(patch.role ? { role: patch.role } : {}), updated_at: Date.now() };
      await trx.updateTable('users').set(set).where('id', '=', id).execute();
      return { ...fresh, ...set };
    });
    this.changed(id);
    // Streams were authorised with the old role: they end, the client reconnects with the new one.
    if (patch.role && patch.role !== target.role) this.credentials.closeStreams(id, 'role_changed');
    await this.audit.record({
      actor, action: 'user.update', target: { type: 'user', id },
      details: { ...(email && email !== target.email ? { email: { from: target.email, to: email } } : {}), ...(patch.role && patch.role !== target.role ? { role: { from: target.role, to: patch.role } } : {}) },
    });
    return presentUser(updated);
  }

  async setSuspended(actor: Actor, id: string, suspended: boolean): Promise<UserView> {
    requirePermission(actor, corePermissions['users.manage']);
    const target = await this.load(id);
    this.assertCanManage(actor, target);
    if (suspended && actor.userId === id) throw new DomainRuleError('You cannot suspend your own account', 'self_action');
    const updated = await this.db.transaction().execute(async (trx) => {
      await this.lockAdmins(trx);
      const fresh = (await trx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()) ?? target;
      if (suspended) await this.assertNotLastAdmin(trx, fresh, 'suspend');
      const set = { status: suspended ? ('suspended' as const) : ('active' as const), updated_at: Date.now() };
      await trx.updateTable('users').set(set).where('id', '=', id).execute();
      if (suspended) await trx.updateTable('api_tokens').set({ revoked_at: Date.now() }).where('user_id', '=', id).where('revoked_at', 'is', null).execute();
      return { ...fresh, ...set };
    });
    if (suspended) {
      await this.endSessions(id, 'suspended');
      await this.credentials.revokeTokens(id, 'user_suspended');
      this.credentials.closeStreams(id, 'user_suspended');
    }
    this.changed(id);
    await this.audit.record({ actor, action: suspended ? 'user.suspend' : 'user.unsuspend', target: { type: 'user', id }, details: { username: target.username } });
    return presentUser(updated);
  }

  async delete(actor: Actor, id: string, confirm: string): Promise<void> {
    requirePermission(actor, corePermissions['users.delete']);
    const target = await this.load(id);
    this.assertCanManage(actor, target);
    if (confirm !== target.username) throw new ValidationError(`Type the username (${target.username}) to confirm the deletion`, { issues: [{ path: 'body.confirm', message: 'does not match the username' }] });
    if (actor.userId === id) throw new DomainRuleError('You cannot delete your own account', 'self_action');
    await this.db.transaction().execute(async (trx) => {
      await this.lockAdmins(trx);
      const fresh = (await trx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()) ?? target;
      await this.assertNotLastAdmin(trx, fresh, 'delete');
      await trx.deleteFrom('users').where('id', '=', id).execute();
    });
    this.changed(id);
    this.credentials.closeStreams(id, 'user_deleted');
    await this.audit.record({ actor, action: 'user.delete', target: { type: 'user', id }, details: { username: target.username } });
  }

  /** Admin reset: the user must choose a new password at next sign-in; all their sessions end. */
  async resetPassword(actor: Actor, id: string, password?: string): Promise<{ user: UserView; temporaryPassword: string | null }> {
    requirePermission(actor, corePermissions['users.manage']);
    const target = await this.load(id);
    this.assertCanManage(actor, target);
    if (password !== undefined) assertPasswordPolicy(password, target.username, target.email);
    const temporaryPassword = password === undefined ? generateTemporaryPassword() : null;
    const now = Date.now();
    const set = { password_hash: await hashPassword(password ?? temporaryPassword!), must_change_password: 1, password_changed_at: now, updated_at: now };
    await this.db.updateTable('users').set(set).where('id', '=', id).execute();
    // Whoever knew the old password may have made tokens with it: a reset ends every credential.
    await this.endSessions(id, 'password_reset');
    const tokensRevoked = await this.credentials.revokeTokens(id, 'password_reset');
    this.credentials.closeStreams(id, 'password_reset');
    this.changed(id);
    await this.audit.record({ actor, action: 'user.reset_password', target: { type: 'user', id }, details: { username: target.username, generated: temporaryPassword !== null, tokensRevoked } });
    return { user: presentUser({ ...target, ...set }), temporaryPassword };
  }

  /** Admin reset of someone's 2FA (lost device): they sign in with the password alone and enrol again. */
  async resetTwoFactor(actor: Actor, id: string): Promise<UserView> {
    requirePermission(actor, corePermissions['users.manage']);
    const target = await this.load(id);
    this.assertCanManage(actor, target);
    const set = { totp_secret: null, totp_enabled: 0, totp_last_step: null, updated_at: Date.now() };
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('users').set(set).where('id', '=', id).execute();
      await trx.deleteFrom('recovery_codes').where('user_id', '=', id).execute();
    });
    await this.endSessions(id, 'two_factor_reset');
    const tokensRevoked = await this.credentials.revokeTokens(id, 'two_factor_reset');
    this.credentials.closeStreams(id, 'two_factor_reset');
    this.changed(id);
    await this.audit.record({ actor, action: 'user.reset_2fa', target: { type: 'user', id }, details: { username: target.username, tokensRevoked } });
    return presentUser({ ...target, ...set });
  }
}
