import { createHmac } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { CoreConfig } from '../../config.js';
import { newId } from '../../db/ids.js';
import type { CoreTables, UsersTable } from '../../db/schema.js';
import type { AuditLog } from '../audit/audit.service.js';
import type { StreamRegistry } from '../events/stream-registry.js';
import { NotFoundError, UnauthorizedError } from '../errors.js';
import type { Actor } from '../rbac/permissions.js';
import type { Role } from '../rbac/roles.js';
import { assertCredentialManagement } from './api-tokens.service.js';
import { randomToken, sha256Hex } from './crypto.js';
import type { TokenSigner } from './jwt.js';
import { describeDevice } from './user-agent.js';

export interface ClientInfo { ip?: string; userAgent?: string }

export interface IssuedTokens {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  refreshToken: string;
  sessionId: string;
  userId: string;
}

/** What the authenticator needs about a session and its user; cached briefly in memory. */
export interface SessionState {
  sessionId: string;
  userId: string;
  username: string;
  email: string;
  role: Role;
  mustChangePassword: boolean;
  totpEnabled: boolean;
  loadedAt: number;
}

export interface SessionView { id: string; ip: string | null; userAgent: string | null; device: string; createdAt: number; lastSeenAt: number; current: boolean }

/**
 * How long a cached session check is trusted; revocations invalidate at once, in this process and
 * (replicas) in the others through the cluster bus. While that bus is down the cache is bypassed.
 */
const STATE_TTL_MS = 5_000;
const STATE_CACHE_MAX = 20_000;
/**
 * A parallel refresh with the token just rotated gets the same successor instead of a reuse alarm.
 * The successor is derived from the rotated token's hash with a key of the panel (HMAC), so every
 * replica can hand out the same one without storing it: the window is the same on any replica.
 */
export const REFRESH_GRACE_MS = 10_000;
const LAST_SEEN_WRITE_EVERY_MS = 60_000;

/** Sessions, refresh-token rotation with reuse detection, and the per-request session check. */
export class SessionService {
  private readonly states = new Map<string, SessionState>();
  private readonly lastSeenWritten = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<IssuedTokens>>();
  /** Told about every revocation or user change made here (replicas relay it to the others). */
  onInvalidate: ((m: { sessionId?: string; userId?: string }) => void) | null = null;
  /** false while cached checks could miss a revocation made elsewhere (the cluster bus is down). */
  cacheUsable: () => boolean = () => true;

  constructor(
    private readonly db: Kysely<CoreTables>,
    private readonly config: CoreConfig,
    private readonly signer: TokenSigner,
    private readonly audit: AuditLog,
    private readonly streams: StreamRegistry | undefined,
    /** Key for the successor of a rotated refresh token (derived from the panel's secrets). */
    private readonly successorKey: Uint8Array,
  ) {}

  /** The one successor of a refresh token (by its hash): the same on every replica, never stored. */
  private successorOf(hash: string): string {
    return createHmac('sha256', this.successorKey).update(`slipway refresh successor\0${hash}`).digest('base64url');
  }

  private get refreshTtlMs(): number {
    return this.config.refreshTokenTtlDays * 86_400_000;
  }

  async create(user: Pick<UsersTable, 'id'>, client: ClientInfo): Promise<IssuedTokens> {
    const now = Date.now();
    const sessionId = newId();
    const refreshToken = randomToken(32);
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('sessions').values({
        id: sessionId, user_id: user.id, ip: client.ip ?? null, user_agent: client.userAgent?.slice(0, 512) ?? null,
        created_at: now, last_seen_at: now, expires_at: now + this.refreshTtlMs, revoked_at: null, revoked_reason: null,
      }).execute();
      await trx.insertInto('refresh_tokens').values({ id: newId(), session_id: sessionId, token_hash: sha256Hex(refreshToken), created_at: now, used_at: null, replaced_by: null }).execute();
    });
    return this.issue(user.id, sessionId, refreshToken);
  }

  private async issue(userId: string, sessionId: string, refreshToken: string): Promise<IssuedTokens> {
    const ttl = this.config.accessTokenTtlSeconds;
    const accessToken = await this.signer.signAccess({ userId, sessionId }, ttl);
    return { accessToken, tokenType: 'Bearer', expiresIn: ttl, refreshToken, sessionId, userId };
  }

  /** Rotates a refresh token. Concurrent calls with the same token share one result. */
  refresh(refreshToken: string, client: ClientInfo): Promise<IssuedTokens> {
    const hash = sha256Hex(refreshToken);
    const running = this.inflight.get(hash);
    if (running) return running;
    const p = this.rotate(hash, client).finally(() => this.inflight.delete(hash));
    this.inflight.set(hash, p);
    return p;
  }

  private async rotate(hash: string, client: ClientInfo): Promise<IssuedTokens> {
    const now = Date.now();
    const row = await this.db.selectFrom('refresh_tokens as r').innerJoin('sessions as s', 's.id', 'r.session_id')
      .innerJoin('users as u', 'u.id', 's.user_id')
      .select(['r.id as tokenId', 'r.used_at', 's.id as sessionId', 's.user_id', 's.revoked_at', 's.expires_at', 'u.status', 'u.username'])
      .where('r.token_hash', '=', hash).executeTakeFirst();
    const invalid = () => new UnauthorizedError('Refresh token is invalid or expired; sign in again', 'invalid_refresh_token');
    if (!row || row.revoked_at !== null || Number(row.expires_at) <= now || row.status !== 'active') throw invalid();

    const successor = this.successorOf(hash);
    if (row.used_at === null) {
      const successorId = newId();
      const won = await this.db.transaction().execute(async (trx) => {
        const res = await trx.updateTable('refresh_tokens').set({ used_at: now, replaced_by: successorId }).where('id', '=', row.tokenId).where('used_at', 'is', null).executeTakeFirst();
        if (Number(res.numUpdatedRows) !== 1) return false;
        await trx.insertInto('refresh_tokens').values({ id: successorId, session_id: row.sessionId, token_hash: sha256Hex(successor), created_at: now, used_at: null, replaced_by: null }).execute();
        await trx.updateTable('sessions').set({ last_seen_at: now, expires_at: now + this.refreshTtlMs, ip: client.ip ?? null }).where('id', '=', row.sessionId).execute();
        return true;
      });
      if (won) return this.issue(row.user_id, row.sessionId, successor);
    }
    // Rotated moments ago (here or on another replica): the same successor, if it is the one stored.
    const used = await this.db.selectFrom('refresh_tokens as r').innerJoin('refresh_tokens as n', 'n.id', 'r.replaced_by')
      .select(['r.used_at', 'n.token_hash']).where('r.id', '=', row.tokenId).executeTakeFirst();
    if (used?.used_at != null && Date.now() - Number(used.used_at) <= REFRESH_GRACE_MS && used.token_hash === sha256Hex(successor)) {
      return this.issue(row.user_id, row.sessionId, successor);
    }

    // A rotated token came back: someone holds a copy. End the whole session (token family).
    await this.revoke(row.sessionId, 'refresh_token_reuse');
    await this.audit.record({
      actor: { kind: 'user', userId: row.user_id, username: row.username, role: 'user', ip: client.ip, userAgent: client.userAgent },
      action: 'auth.refresh_reuse', target: { type: 'session', id: row.sessionId }, outcome: 'denied',
      details: { reason: 'a refresh token was used twice; the session was ended' },
    });
    throw new UnauthorizedError('This refresh token was already used; the session has been ended for safety. Sign in again', 'refresh_token_reused');
  }

  /** The per-request check behind every access token: one indexed query at most every few seconds. */
  async state(sessionId: string, userId: string): Promise<SessionState> {
    const now = Date.now();
    let s = this.states.get(sessionId);
    if (!s || now - s.loadedAt > STATE_TTL_MS || !this.cacheUsable()) {
      const row = await this.db.selectFrom('sessions as s').innerJoin('users as u', 'u.id', 's.user_id')
        .select(['s.id', 's.revoked_at', 's.expires_at', 'u.id as userId', 'u.username', 'u.email', 'u.role', 'u.status', 'u.must_change_password', 'u.totp_enabled'])
        .where('s.id', '=', sessionId).executeTakeFirst();
      if (!row || row.revoked_at !== null || Number(row.expires_at) <= now || row.status !== 'active') {
        this.states.delete(sessionId);
        throw new UnauthorizedError('Your session has ended; sign in again', 'session_ended');
      }
      s = {
        sessionId, userId: row.userId, username: row.username, email: row.email, role: row.role as Role,
        mustChangePassword: Number(row.must_change_password) === 1, totpEnabled: Number(row.totp_enabled) === 1, loadedAt: now,
      };
      if (this.states.size >= STATE_CACHE_MAX) this.states.delete(this.states.keys().next().value!);
      this.states.set(sessionId, s);
      this.touch(sessionId, now);
    }
    if (s.userId !== userId) throw new UnauthorizedError('Access token is invalid or expired', 'invalid_token');
    return s;
  }

  private touch(sessionId: string, now: number): void {
    const last = this.lastSeenWritten.get(sessionId) ?? 0;
    if (now - last < LAST_SEEN_WRITE_EVERY_MS) return;
    this.lastSeenWritten.set(sessionId, now);
    if (this.lastSeenWritten.size > STATE_CACHE_MAX) this.lastSeenWritten.clear();
    void this.db.updateTable('sessions').set({ last_seen_at: now }).where('id', '=', sessionId).execute().catch(() => {});
  }

  async revoke(sessionId: string, reason: string): Promise<void> {
    await this.db.updateTable('sessions').set({ revoked_at: Date.now(), revoked_reason: reason }).where('id', '=', sessionId).where('revoked_at', 'is', null).execute();
    this.states.delete(sessionId);
    this.streams?.closeSession(sessionId, reason === 'logout' ? 'logout' : 'session_revoked');
    this.onInvalidate?.({ sessionId });
  }

  /** A revocation or user change made by another replica: forget what is cached (streams: the caller). */
  dropCached(m: { sessionId?: string; userId?: string }): void {
    if (m.sessionId) this.states.delete(m.sessionId);
    if (m.userId) for (const [sid, s] of this.states) if (s.userId === m.userId) this.states.delete(sid);
  }

  /** Everything cached (the cluster bus reconnected: messages may have been missed). */
  dropAllCached(): void {
    this.states.clear();
  }

  /** Ends every session of a user (optionally keeping one: the caller's own). */
  async revokeAllForUser(userId: string, reason: string, keepSessionId?: string): Promise<number> {
    let q = this.db.updateTable('sessions').set({ revoked_at: Date.now(), revoked_reason: reason }).where('user_id', '=', userId).where('revoked_at', 'is', null);
    if (keepSessionId) q = q.where('id', '!=', keepSessionId);
    const res = await q.executeTakeFirst();
    this.forgetUser(userId);
    this.streams?.closeUserSessions(userId, reason, keepSessionId);
    return Number(res.numUpdatedRows);
  }

  /** Drops cached state after a change to the user (role, status, 2FA, password flag). */
  forgetUser(userId: string): void {
    for (const [sid, s] of this.states) if (s.userId === userId) this.states.delete(sid);
    this.onInvalidate?.({ userId });
  }

  /** A low-role API token may not see or end its owner's sessions (a session carries the owner's full role). */
  private async assertMayManage(actor: Actor): Promise<void> {
    if (actor.kind !== 'token') return;
    const owner = await this.db.selectFrom('users').select('role').where('id', '=', actor.userId ?? '').executeTakeFirst();
    assertCredentialManagement(actor, (owner?.role ?? 'admin') as Role);
  }

  async list(actor: Actor): Promise<SessionView[]> {
    await this.assertMayManage(actor);
    const rows = await this.db.selectFrom('sessions').selectAll().where('user_id', '=', actor.userId ?? '').where('revoked_at', 'is', null)
      .where('expires_at', '>', Date.now()).orderBy('last_seen_at', 'desc').execute();
    return rows.map((r) => ({
      id: r.id, ip: r.ip, userAgent: r.user_agent, device: describeDevice(r.user_agent), createdAt: Number(r.created_at),
      lastSeenAt: Number(r.last_seen_at), current: r.id === actor.sessionId,
    }));
  }

  async end(actor: Actor, sessionId: string): Promise<void> {
    await this.assertMayManage(actor);
    const row = await this.db.selectFrom('sessions').select(['id']).where('id', '=', sessionId).where('user_id', '=', actor.userId ?? '').where('revoked_at', 'is', null).executeTakeFirst();
    if (!row) throw new NotFoundError('Session', sessionId);
    await this.revoke(sessionId, actor.sessionId === sessionId ? 'logout' : 'ended_by_user');
    await this.audit.record({ actor, action: 'auth.session.end', target: { type: 'session', id: sessionId } });
  }

  /** The session a refresh token belongs to (for logout by refresh token), or null. */
  async sessionOfRefreshToken(refreshToken: string): Promise<{ sessionId: string; userId: string; username: string } | null> {
    const row = await this.db.selectFrom('refresh_tokens as r').innerJoin('sessions as s', 's.id', 'r.session_id').innerJoin('users as u', 'u.id', 's.user_id')
      .select(['s.id as sessionId', 'u.id as userId', 'u.username']).where('r.token_hash', '=', sha256Hex(refreshToken)).where('s.revoked_at', 'is', null).executeTakeFirst();
    return row ?? null;
  }
}
