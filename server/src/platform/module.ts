import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import type { CoreConfig } from '../config.js';
import type { Dialect, NamedMigrations } from '../db/database.js';
import type { CoreTables } from '../db/schema.js';
import type { AuditLog } from './audit/audit.service.js';
import type { EngineProbe } from './engines/engine.js';
import type { ModuleStatusView } from './engines/module-status.js';
import type { EventBus } from './events/event-bus.js';
import type { LogSourceProvider } from './extensions/log-sources.js';
import type { CapabilityContracts, CapabilityKey, CapabilityUse } from './extensions/capabilities.js';
import type { OverviewCount } from './extensions/overview.js';
import type { HostRegistry } from './hosts/host-registry.js';
import type { JobService } from './jobs/types.js';
import type { HostnameClaims } from './names/hostname-claims.js';
import type { Permission } from './rbac/permissions.js';
import type { ScheduledFn, ScheduleOptions } from './schedule/scheduler.js';
import type { SecretBox } from './secret-box.js';

export type HttpApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

/** A module's own tables (kysely table interfaces by table name), added to the core ones in `ctx.db`. */
export type ModuleTables = object;

declare const tablesOf: unique symbol;

/**
 * A module's migrations, carrying the type of the tables they create (a type only: nothing is
 * added at run time). `defineModule({ migrations })` reads it, so `ctx.db` is typed with them.
 */
export type ModuleMigrations<T extends ModuleTables = {}> = NamedMigrations & { readonly [tablesOf]?: T };

/** Types a module's migrations with the tables they create: `defineMigrations<SitesTables>({ sites_0001_init: … })`. */
export function defineMigrations<T extends ModuleTables>(migrations: NamedMigrations): ModuleMigrations<T> {
  return migrations;
}

export interface ModuleContext<C = unknown, T extends ModuleTables = {}> {
  /** Routes registered here live under /api/v1. Every route declares `config.permission` (or `authenticated`/`public`). */
  http: HttpApp;
  /** The core tables and the module's own (typed by its migrations or `defineModule<Tables, typeof Config>`). */
  db: Kysely<CoreTables & T>;
  dialect: Dialect;
  jobs: JobService;
  audit: AuditLog;
  events: EventBus;
  hosts: HostRegistry;
  /**
   * Hostname ownership shared by every module (sites, containers, apps…): claim a name before it
   * reaches an engine, release it when the resource no longer uses it. The panel's own hostname is
   * reserved.
   */
  hostnames: HostnameClaims;
  /** Encryption at rest for one purpose (`ctx.secretBox('apps env v1')`), keyed from the data key the module never sees. */
  secretBox(purpose: string): SecretBox;
  log: FastifyBaseLogger;
  config: C;
  core: CoreConfig;
  /** Runs when the app closes (stop timers, close streams). */
  onClose(fn: () => Promise<void> | void): void;
  /**
   * Background work (load engine state, start watchers). Runs once the module's engines answer:
   * at start, or later without a restart when an engine appears. A throw is logged, the module is
   * `unavailable` with that reason, and the function is tried again with the next engine probe.
   */
  onReady(fn: () => Promise<void> | void): void;
  /**
   * Periodic work: runs every `everyMs` (0 = off) once the module is ready; never overlaps itself;
   * a failure is logged and shown as the schedule's last error in GET /api/v1/modules; stops on close.
   */
  schedule(name: string, everyMs: number, fn: ScheduledFn, opts?: ScheduleOptions): void;
  /**
   * Declares a machine-local duty this replica runs for its own machine (a listener such as the
   * containers activator, a host sampler): with several replicas every one runs it, nothing is
   * handed over, and GET /api/v1/modules lists it under the replica that holds it. Schedules of
   * such work pass `{ local: true }`; every other schedule runs on one replica at a time.
   */
  localDuty(name: string, description: string): void;
  /** Log files of this module for the log viewer (`add` returns the remover; removed on close anyway). */
  logSources: { add(provider: LogSourceProvider): () => void };
  /** Resource counts for the dashboard (`count({ id: 'sites', title: 'Sites', permission, count })`). */
  overview: { count(c: Omit<OverviewCount, 'moduleId'>): () => void };
  /**
   * Offers a capability to other modules under its name (contract in platform/extensions/capabilities.ts).
   * One provider per name; withdrawn on close (or by the returned remover).
   */
  provide<K extends CapabilityKey>(name: K, impl: CapabilityContracts[K]): () => void;
  /**
   * Another module's capability, resolved now: `{ available: true, impl }`, or `{ available: false, reason }`
   * when no enabled module provides it or its provider is unavailable. Call it when needed, not once in `register`.
   */
  use<K extends CapabilityKey>(name: K): CapabilityUse<K>;
  /** This module's current status (engines, reason, fix). */
  status(): ModuleStatusView;
}

/**
 * A module. `T` are its own tables: inferred from `migrations` built with `defineMigrations<T>`,
 * or given explicitly as `defineModule<SitesTables, typeof SitesConfig>({...})` (TypeScript infers
 * all type arguments or none, so the config's type is then named too).
 */
// `any` by default: a list of modules (each with its own tables) is a `ModuleDefinition[]`.
export interface ModuleDefinition<C extends z.ZodType = z.ZodType, T extends ModuleTables = any> {
  id: string;
  title: string;
  /** Its own SLIPWAY_<ID>_* keys; field `fooBar` is read from SLIPWAY_<ID>_FOO_BAR. */
  config?: C;
  permissions: Record<string, Permission>;
  /** The permission that makes the module visible in the console's navigation. */
  navPermission?: Permission;
  /** Named `<id>_NNNN_…`, kept in `<id>.migrations.ts` with the table types. */
  migrations?: ModuleMigrations<T>;
  /** What the module needs from the machine; probed at start and in the background until it answers. */
  engines?: EngineProbe<z.output<C>>[];
  register(ctx: ModuleContext<z.output<C>, T>): void | Promise<void>;
}

export function defineModule<T extends ModuleTables = {}, C extends z.ZodType = z.ZodType>(m: ModuleDefinition<C, T>): ModuleDefinition<C, T> {
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
