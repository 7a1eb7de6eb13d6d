import { createHmac } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { CoreConfig } from '../../config.js';
import type { Dialect } from '../../db/database.js';
import type { CoreTables } from '../../db/schema.js';
import type { Authenticator } from '../../http/auth-hook.js';
import type { AuditLog } from '../audit/audit.service.js';
import type { Cluster } from '../cluster/cluster.js';
import type { EventBus } from '../events/event-bus.js';
import { StreamRegistry, type StreamLimits } from '../events/stream-registry.js';
import type { HttpApp } from '../module.js';
import type { Secrets } from '../secrets.js';
import type { PermissionRegistry } from '../rbac/registry.js';
import { AccountService } from './account.service.js';
import type { Role } from '../rbac/roles.js';
import { ApiTokenService, effectiveTokenRole } from './api-tokens.service.js';
import { createAuthenticator } from './authenticator.js';
import { registerAuthRoutes } from './auth.routes.js';
import { constantTimeEquals } from './crypto.js';
import { TokenSigner } from './jwt.js';
import { prepareDummyHash } from './passwords.js';
import { ProxyGuard } from './proxy-guard.js';
import { SessionService } from './sessions.service.js';
import { SettingsService } from './settings.service.js';
import { SshKeyService } from './ssh-keys.service.js';
import { LoginThrottle } from './throttle.js';
import { TwoFactorService } from './two-factor.service.js';
import { registerUsersRoutes } from './users.routes.js';
import { UsersService } from './users.service.js';

export interface AuthDeps {
  db: Kysely<CoreTables>;
  dialect: Dialect;
  audit: AuditLog;
  events: EventBus;
  secrets: Secrets;
  config: CoreConfig;
  log: FastifyBaseLogger;
  streamLimits?: StreamLimits;
  /** This app's permissions (`/auth/me` lists the actor's from it); the CLI builds one of every module. */
  permissions: PermissionRegistry;
  /** Replicas: revocations and user changes made here reach the other replicas' caches and streams. */
  cluster?: Cluster;
}

/** Cross-replica message: a session, API token or user changed; drop what is cached about it. */
const AUTH_TOPIC = 'auth.invalidate';

export interface AuthServices {
  authenticator: Authenticator;
  registerRoutes(app: HttpApp): void;
  constantTimeEquals(a: string, b: string): boolean;
  /** First run: when no admin exists, makes (or reuses) the setup token, writes it to the data dir. */
  prepareFirstRun(): Promise<{ token: string; expiresAt: number } | null>;
  users: UsersService;
  account: AccountService;
  sessions: SessionService;
  twoFactor: TwoFactorService;
  apiTokens: ApiTokenService;
  sshKeys: SshKeyService;
  settings: SettingsService;
  /** Live SSE/WebSocket streams by session and token: revocations close them. */
  streams: StreamRegistry;
  /** Refuses proxied requests from loopback while SLIPWAY_TRUST_PROXY is unset; its warnings feed /ready and /modules. */
  proxyGuard: ProxyGuard;
  /** Re-checks open streams against the database every few seconds (revocations by another process, e.g. the CLI). */
  startStreamGuard(): void;
  stop(): void;
}

const STREAM_GUARD_MS = 5_000;

/**
 * Closes open streams whose session or API token was revoked, whose user was suspended or whose
 * role changed in the database — by another panel process or the CLI, which this process's
 * registry never hears of directly. One query per kind for all open streams.
 */
export async function sweepStreams(db: Kysely<CoreTables>, streams: StreamRegistry): Promise<number> {
  const { sessionIds, tokenIds } = streams.credentials();
  const now = Date.now();
  const sessions = new Map<string, { ok: boolean; role: string }>();
  const tokens = new Map<string, { ok: boolean; role: string }>();
  for (let i = 0; i < sessionIds.length; i += 500) {
    const rows = await db.selectFrom('sessions as s').innerJoin('users as u', 'u.id', 's.user_id')
      .select(['s.id', 's.revoked_at', 's.expires_at', 'u.status', 'u.role']).where('s.id', 'in', sessionIds.slice(i, i + 500)).execute();
    for (const r of rows) sessions.set(r.id, { ok: r.revoked_at === null && Number(r.expires_at) > now && r.status === 'active', role: r.role });
  }
  for (let i = 0; i < tokenIds.length; i += 500) {
    const rows = await db.selectFrom('api_tokens as t').innerJoin('users as u', 'u.id', 't.user_id')
      .select(['t.id', 't.role', 't.revoked_at', 't.expires_at', 'u.status', 'u.role as ownerRole']).where('t.id', 'in', tokenIds.slice(i, i + 500)).execute();
    for (const r of rows) tokens.set(r.id, { ok: r.revoked_at === null && Number(r.expires_at) > now && r.status === 'active', role: effectiveTokenRole(r.role as Role, r.ownerRole as Role) });
  }
  return streams.sweep((e) => {
    const c = e.sessionId ? sessions.get(e.sessionId) : e.tokenId ? tokens.get(e.tokenId) : undefined;
    if (!e.sessionId && !e.tokenId) return null;
    if (!c || !c.ok) return e.sessionId ? 'session_revoked' : 'token_revoked';
    return c.role !== e.role ? 'role_changed' : null;
  });
}

/** Wires authentication, users, sessions, 2FA, API tokens and SSH keys. */
export function createAuth(deps: AuthDeps): AuthServices {
  const { db, dialect, audit, config } = deps;
  const signer = new TokenSigner(deps.secrets.jwtKey);
  const settings = new SettingsService(db, audit);
  const streams = new StreamRegistry(deps.streamLimits);
  const successorKey = createHmac('sha256', deps.secrets.jwtKey).update('slipway refresh-token successor key').digest();
  const sessions = new SessionService(db, config, signer, audit, streams, successorKey);
  const apiTokens = new ApiTokenService(db, audit, streams);
  const userChanged = (userId: string) => {
    sessions.forgetUser(userId);
    apiTokens.userChanged(userId);
  };
  const endSessions = (userId: string, reason: string, keep?: string) => sessions.revokeAllForUser(userId, reason, keep);
  const users = new UsersService(db, dialect, audit, [{ userChanged }], endSessions, {
    revokeTokens: (userId, reason) => apiTokens.revokeAllForUser(userId, reason),
    closeStreams: (userId, reason) => streams.closeUser(userId, reason),
  });
  const throttle = new LoginThrottle(db, dialect);
  const twoFactor = new TwoFactorService(db, deps.secrets.dataKey, audit, settings, endSessions, userChanged, throttle);
  const account = new AccountService(db, dialect, audit, users, sessions, twoFactor, throttle, signer, settings, deps.permissions);
  const sshKeys = new SshKeyService(db, audit);
  const authenticator = createAuthenticator({ signer, sessions, apiTokens, settings, audit });
  let guard: NodeJS.Timeout | undefined;
  const cluster = deps.cluster;
  if (cluster?.shared) {
    // A revocation on any replica: the others drop their cached checks at once and re-check their
    // open streams (closed with the same reasons as by the periodic guard below).
    let sweeping: NodeJS.Timeout | null = null;
    const sweepSoon = () => {
      sweeping ??= setTimeout(() => {
        sweeping = null;
        void sweepStreams(db, streams).catch((e: unknown) => deps.log.warn({ err: e }, 'stream re-check failed'));
      }, 20);
    };
    sessions.onInvalidate = (m) => void cluster.send(AUTH_TOPIC, m);
    apiTokens.onInvalidate = (m) => void cluster.send(AUTH_TOPIC, m);
    sessions.cacheUsable = apiTokens.cacheUsable = () => cluster.isConnected();
    cluster.on(AUTH_TOPIC, (data) => {
      const m = data as { sessionId?: string; userId?: string; tokenId?: string };
      sessions.dropCached(m);
      apiTokens.dropCached(m);
      sweepSoon();
    });
    cluster.onReconnect(() => {
      sessions.dropAllCached();
      apiTokens.dropCached({ all: true });
      sweepSoon();
    });
  }
  const proxyGuard = new ProxyGuard(config.trustProxy, deps.log);
  void prepareDummyHash().catch((e: unknown) => deps.log.error({ err: e }, 'argon2 is not working'));

  return {
    authenticator,
    constantTimeEquals,
    prepareFirstRun: () => account.prepareFirstRun(),
    registerRoutes(app) {
      registerAuthRoutes(app, { account, sessions, twoFactor, authenticator, config });
      registerUsersRoutes(app, { users, settings, apiTokens, sshKeys });
    },
    users, account, sessions, twoFactor, apiTokens, sshKeys, settings, streams, proxyGuard,
    startStreamGuard() {
      if (guard) return;
      guard = setInterval(() => void sweepStreams(db, streams).catch((e: unknown) => deps.log.warn({ err: e }, 'stream re-check failed')), STREAM_GUARD_MS);
      guard.unref();
    },
    stop() {
      if (guard) clearInterval(guard);
      guard = undefined;
      streams.closeAll('shutdown');
    },
  };
}
