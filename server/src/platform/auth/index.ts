import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { CoreConfig } from '../../config.js';
import type { Dialect } from '../../db/database.js';
import type { CoreTables } from '../../db/schema.js';
import type { Authenticator } from '../../http/auth-hook.js';
import type { AuditLog } from '../audit/audit.service.js';
import type { EventBus } from '../events/event-bus.js';
import type { HttpApp } from '../module.js';
import type { Secrets } from '../secrets.js';
import { AccountService } from './account.service.js';
import { ApiTokenService } from './api-tokens.service.js';
import { createAuthenticator } from './authenticator.js';
import { registerAuthRoutes } from './auth.routes.js';
import { constantTimeEquals } from './crypto.js';
import { TokenSigner } from './jwt.js';
import { prepareDummyHash } from './passwords.js';
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
}

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
}

/** Wires authentication, users, sessions, 2FA, API tokens and SSH keys. */
export function createAuth(deps: AuthDeps): AuthServices {
  const { db, dialect, audit, config } = deps;
  const signer = new TokenSigner(deps.secrets.jwtKey);
  const settings = new SettingsService(db, audit);
  const sessions = new SessionService(db, config, signer, audit);
  const apiTokens = new ApiTokenService(db, audit);
  const userChanged = (userId: string) => {
    sessions.forgetUser(userId);
    apiTokens.userChanged(userId);
  };
  const endSessions = (userId: string, reason: string, keep?: string) => sessions.revokeAllForUser(userId, reason, keep);
  const users = new UsersService(db, dialect, audit, [{ userChanged }], endSessions);
  const twoFactor = new TwoFactorService(db, deps.secrets.dataKey, audit, settings, endSessions, userChanged);
  const throttle = new LoginThrottle(db, dialect);
  const account = new AccountService(db, dialect, audit, users, sessions, twoFactor, throttle, signer, settings);
  const sshKeys = new SshKeyService(db, audit);
  const authenticator = createAuthenticator({ signer, sessions, apiTokens, settings, audit });
  void prepareDummyHash().catch((e: unknown) => deps.log.error({ err: e }, 'argon2 is not working'));

  return {
    authenticator,
    constantTimeEquals,
    prepareFirstRun: () => account.prepareFirstRun(),
    registerRoutes(app) {
      registerAuthRoutes(app, { account, sessions, twoFactor, authenticator, config });
      registerUsersRoutes(app, { users, settings, apiTokens, sshKeys });
    },
    users, account, sessions, twoFactor, apiTokens, sshKeys, settings,
  };
}
