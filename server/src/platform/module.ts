import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import type { CoreConfig } from '../config.js';
import type { Dialect, NamedMigrations } from '../db/database.js';
import type { CoreTables } from '../db/schema.js';
import type { AuditLog } from './audit/audit.service.js';
import type { EventBus } from './events/event-bus.js';
import type { HostRegistry } from './hosts/host-registry.js';
import type { JobService } from './jobs/types.js';
import type { Permission } from './rbac/permissions.js';

export type HttpApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

export interface ModuleContext<C = unknown> {
  /** Routes registered here live under /api/v1. Every route declares `config.permission` (or `authenticated`/`public`). */
  http: HttpApp;
  db: Kysely<CoreTables>;
  dialect: Dialect;
  jobs: JobService;
  audit: AuditLog;
  events: EventBus;
  hosts: HostRegistry;
  log: FastifyBaseLogger;
  config: C;
  core: CoreConfig;
  /** Runs when the app closes (stop timers, close streams). */
  onClose(fn: () => Promise<void> | void): void;
  /** Runs after every module registered and migrations ran (start background work here). */
  onReady(fn: () => Promise<void> | void): void;
}

export interface ModuleDefinition<C extends z.ZodType = z.ZodType> {
  id: string;
  title: string;
  /** Its own SLIPWAY_<ID>_* keys; field `fooBar` is read from SLIPWAY_<ID>_FOO_BAR. */
  config?: C;
  permissions: Record<string, Permission>;
  /** The permission that makes the module visible in the console's navigation. */
  navPermission?: Permission;
  migrations?: NamedMigrations;
  register(ctx: ModuleContext<z.output<C>>): void | Promise<void>;
}

export function defineModule<C extends z.ZodType>(m: ModuleDefinition<C>): ModuleDefinition<C> {
  if (!/^[a-z][a-z0-9]*$/.test(m.id)) throw new Error(`bad module id ${m.id}`);
  for (const name of Object.keys(m.migrations ?? {})) {
    if (!name.startsWith(`${m.id}_`)) throw new Error(`migration ${name} of module ${m.id} must be named ${m.id}_NNNN_…`);
  }
  return m;
}

/** How a route says who may call it; checked by the auth hook for every request. */
export type RouteAccess =
  | { public: true }
  | { authenticated: true }
  | { permission: Permission | string };

declare module 'fastify' {
  interface FastifyContextConfig {
    public?: boolean;
    authenticated?: boolean;
    permission?: string;
    /** Allowed while the user must change their password (the change-password route, me, logout). */
    allowPasswordChangePending?: boolean;
  }
}
