import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { newId } from '../../db/ids.js';
import type { ApiTokensTable, CoreTables } from '../../db/schema.js';
import type { AuditLog } from '../audit/audit.service.js';
import type { StreamRegistry } from '../events/stream-registry.js';
import { ForbiddenError, NotFoundError, UnauthorizedError } from '../errors.js';
import { corePermissions } from '../rbac/core-permissions.js';
import { can, canAssignRole, roleWithin, type Actor } from '../rbac/permissions.js';
import type { Role } from '../rbac/roles.js';
import { sha256Hex } from './crypto.js';
import type { ClientInfo } from './sessions.service.js';

export const API_TOKEN_MAX_DAYS = 365;
export const API_TOKEN_PATTERN = /^slw_[0-9a-f]{8}_[0-9a-f]{64}$/;
const CACHE_TTL_MS = 5_000;
const LAST_USED_WRITE_EVERY_MS = 60_000;

export interface ApiTokenView { id: string; name: string; role: Role; prefix: string; createdAt: number; expiresAt: number; lastUsedAt: number | null }

function present(r: ApiTokensTable): ApiTokenView {
  return { id: r.id, name: r.name, role: r.role as Role, prefix: `slw_${r.prefix}`, createdAt: Number(r.created_at), expiresAt: Number(r.expires_at), lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at) };
}

interface CachedToken {
  tokenId: string; userId: string; username: string; tokenRole: Role; ownerRole: Role; mustChangePassword: boolean; totpEnabled: boolean; expiresAt: number; loadedAt: number;
}

/**
 * The effective role of a token: its own role while that stays within the owner's current role,
 * otherwise the owner's (a demoted owner's old tokens lose what the owner lost).
 */
export function effectiveTokenRole(tokenRole: Role, ownerRole: Role): Role {
  return roleWithin(tokenRole, ownerRole) ? tokenRole : ownerRole;
}

/**
 * An API token acting for its owner may manage the owner's credentials (sessions, tokens, SSH keys)
 * only up to its own role: a token whose role is below the owner's cannot end the owner's sessions,
 * add or remove SSH keys, or revoke a token with a role above its own.
 */
export function assertCredentialManagement(actor: Actor, credentialRole?: Role): void {
  if (actor.kind !== 'token') return;
  if (credentialRole !== undefined ? !roleWithin(credentialRole, actor.role) : false) {
    throw new ForbiddenError(`This API token (role ${actor.role}) cannot manage a credential with the role ${credentialRole}`, 'role_ceiling');
  }
}

/** Named, expiring personal API tokens (`slw_<prefix>_<secret>`), stored hashed, used as Bearer tokens. */
export class ApiTokenService {
  private readonly cache = new Map<string, CachedToken>();
  private readonly lastUsedWritten = new Map<string, number>();

  constructor(private readonly db: Kysely<CoreTables>, private readonly audit: AuditLog, private readonly streams?: StreamRegistry) {}

  async create(actor: Actor, input: { name: string; role: Role; expiresInDays: number }): Promise<{ token: string; apiToken: ApiTokenView }> {
    if (actor.kind !== 'user' || !actor.userId) throw new ForbiddenError('API tokens can only be created when signed in as a user', 'user_session_required');
    if (!roleWithin(input.role, actor.role)) throw new ForbiddenError(`A token cannot have a role (${input.role}) above yours (${actor.role})`, 'role_ceiling');
    const prefix = randomBytes(4).toString('hex');
    const token = `slw_${prefix}_${randomBytes(32).toString('hex')}`;
    const now = Date.now();
    const row: ApiTokensTable = {
      id: newId(), user_id: actor.userId, name: input.name, role: input.role, prefix, token_hash: sha256Hex(token),
      created_at: now, expires_at: now + Math.min(input.expiresInDays, API_TOKEN_MAX_DAYS) * 86_400_000, last_used_at: null, revoked_at: null,
    };
    await this.db.insertInto('api_tokens').values(row).execute();
    await this.audit.record({ actor, action: 'api_token.create', target: { type: 'api_token', id: row.id }, details: { name: input.name, role: input.role, expiresAt: row.expires_at } });
    return { token, apiToken: present(row) };
  }

  async list(actor: Actor): Promise<ApiTokenView[]> {
    const rows = await this.db.selectFrom('api_tokens').selectAll().where('user_id', '=', actor.userId ?? '').where('revoked_at', 'is', null).orderBy('created_at', 'desc').execute();
    return rows.map(present);
  }

  /**
   * Revokes a token. Someone else's token only with users.manage and only when its owner's role
   * lies within the actor's (billing cannot revoke an admin's tokens). An API token acting for its
   * owner may revoke only tokens whose role lies within its own (a read-only token cannot revoke
   * the owner's admin token).
   */
  async revoke(actor: Actor, id: string): Promise<void> {
    const row = await this.db.selectFrom('api_tokens as t').innerJoin('users as u', 'u.id', 't.user_id')
      .select(['t.id', 't.user_id', 't.name', 't.role', 'u.role as ownerRole']).where('t.id', '=', id).where('t.revoked_at', 'is', null).executeTakeFirst();
    if (!row) throw new NotFoundError('API token', id);
    if (row.user_id !== actor.userId) {
      if (!can(actor, corePermissions['users.manage'])) throw new NotFoundError('API token', id);
      if (!canAssignRole(actor.role, row.ownerRole as Role)) {
        throw new ForbiddenError(`Your role (${actor.role}) cannot manage the API tokens of a user with the role ${row.ownerRole}`, 'role_ceiling');
      }
    }
    assertCredentialManagement(actor, row.role as Role);
    await this.db.updateTable('api_tokens').set({ revoked_at: Date.now() }).where('id', '=', id).execute();
    this.dropCached({ tokenId: id });
    this.streams?.closeToken(id, 'token_revoked');
    this.onInvalidate?.({ tokenId: id });
    await this.audit.record({ actor, action: 'api_token.revoke', target: { type: 'api_token', id }, details: { name: row.name, ...(row.user_id !== actor.userId ? { owner: row.user_id } : {}) } });
  }

  /** Revokes every token of a user (admin password or 2FA reset, suspension); returns how many. */
  async revokeAllForUser(userId: string, reason: string): Promise<number> {
    const res = await this.db.updateTable('api_tokens').set({ revoked_at: Date.now() }).where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst();
    this.userChanged(userId);
    this.streams?.closeUserTokens(userId, reason);
    return Number(res.numUpdatedRows);
  }

  userChanged(userId: string): void {
    this.dropCached({ userId });
    this.onInvalidate?.({ userId });
  }

  /** Told about every revocation or user change made here (replicas relay it to the others). */
  onInvalidate: ((m: { tokenId?: string; userId?: string }) => void) | null = null;
  /** false while cached checks could miss a revocation made elsewhere (the cluster bus is down). */
  cacheUsable: () => boolean = () => true;

  /** A revocation or user change (made here or by another replica): forget what is cached. */
  dropCached(m: { tokenId?: string; userId?: string; all?: boolean }): void {
    if (m.all) this.cache.clear();
    for (const [k, v] of this.cache) if ((m.tokenId && v.tokenId === m.tokenId) || (m.userId && v.userId === m.userId)) this.cache.delete(k);
  }

  async authenticate(token: string, client: ClientInfo): Promise<Actor & { ownerRole: Role; totpEnabled: boolean }> {
    const invalid = () => new UnauthorizedError('API token is invalid, expired or revoked', 'invalid_token');
    if (!API_TOKEN_PATTERN.test(token)) throw invalid();
    const hash = sha256Hex(token);
    const now = Date.now();
    let c = this.cache.get(hash);
    if (!c || now - c.loadedAt > CACHE_TTL_MS || !this.cacheUsable()) {
      const row = await this.db.selectFrom('api_tokens as t').innerJoin('users as u', 'u.id', 't.user_id')
        .select(['t.id', 't.role as tokenRole', 't.expires_at', 't.revoked_at', 'u.id as userId', 'u.username', 'u.role as ownerRole', 'u.status', 'u.must_change_password', 'u.totp_enabled'])
        .where('t.token_hash', '=', hash).executeTakeFirst();
      if (!row || row.revoked_at !== null || row.status !== 'active') {
        this.cache.delete(hash);
        throw invalid();
      }
      c = {
        tokenId: row.id, userId: row.userId, username: row.username, tokenRole: row.tokenRole as Role, ownerRole: row.ownerRole as Role,
        mustChangePassword: Number(row.must_change_password) === 1, totpEnabled: Number(row.totp_enabled) === 1, expiresAt: Number(row.expires_at), loadedAt: now,
      };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(hash, c);
    }
    if (c.expiresAt <= now) throw invalid();
    const last = this.lastUsedWritten.get(c.tokenId) ?? 0;
    if (now - last >= LAST_USED_WRITE_EVERY_MS) {
      this.lastUsedWritten.set(c.tokenId, now);
      await this.db.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', c.tokenId).execute();
    }
    return {
      kind: 'token', userId: c.userId, username: c.username, role: effectiveTokenRole(c.tokenRole, c.ownerRole), tokenId: c.tokenId,
      ip: client.ip, userAgent: client.userAgent, mustChangePassword: c.mustChangePassword, ownerRole: c.ownerRole, totpEnabled: c.totpEnabled,
    };
  }
}
