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
}

export function createAuth(_deps: AuthDeps): AuthServices {
  throw new Error('auth: being built (helper)');
}
