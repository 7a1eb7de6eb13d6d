import { Cluster, panelVersion } from '../platform/cluster/cluster.js';
import pino from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import { loadConfig, type LoadedConfig } from '../config.js';
import { migrate, openDatabase, type Database, type NamedMigrations } from '../db/database.js';
import type { ModuleDefinition } from '../platform/module.js';
import path from 'node:path';
import { AUDIT_HEAD_FILE, AuditLog } from '../platform/audit/audit.service.js';
import { createAuth, type AuthServices } from '../platform/auth/index.js';
import { EventBus } from '../platform/events/event-bus.js';
import { SYSTEM_ACTOR, type Actor } from '../platform/rbac/permissions.js';
import { buildPermissionRegistry } from '../platform/rbac/registry.js';
import { auditChainKey, loadOrCreateSecrets, type Secrets } from '../platform/secrets.js';

/** Who the audit log names for changes made on the command line. */
export const CLI_ACTOR: Actor = { ...SYSTEM_ACTOR, username: 'cli' };

/** The enabled modules, imported on first use so `--help` does not load every module. */
export async function enabledModules(): Promise<ModuleDefinition[]> {
  return (await import('../modules.js')).modules;
}

export async function moduleMigrations(): Promise<NamedMigrations> {
  return Object.assign({}, ...(await enabledModules()).map((m) => m.migrations ?? {})) as NamedMigrations;
}

export async function cliConfig(env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  return loadConfig(env, (await enabledModules()).map((m) => m.id));
}

/** The audit log as the panel opens it: keyed chain, head published to the data dir's head file. */
export function cliAuditLog(database: Database, secrets: Secrets, dataDir: string, log?: FastifyBaseLogger, events?: EventBus): AuditLog {
  return new AuditLog(database.db, database.dialect, events, { key: auditChainKey(secrets), headFile: path.join(dataDir, AUDIT_HEAD_FILE), log });
}

export interface CliContext {
  config: LoadedConfig;
  database: Database;
  audit: AuditLog;
  auth: AuthServices;
  close(): Promise<void>;
}

/**
 * The same services the panel runs (users, audit), on the configured database, migrated first so
 * the CLI works on a fresh data dir exactly as the panel would.
 */
export async function openCliContext(env: NodeJS.ProcessEnv = process.env): Promise<CliContext> {
  const config = await cliConfig(env);
  const database = openDatabase({ url: config.core.databaseUrl, dataDir: config.core.dataDir });
  try {
    await migrate(database.db, await moduleMigrations());
    const secrets = loadOrCreateSecrets(config.core.dataDir);
    const events = new EventBus();
    const log = pino({ level: 'warn' }, pino.destination(2)) as unknown as FastifyBaseLogger;
    const audit = cliAuditLog(database, secrets, config.core.dataDir, log);
    const permissions = buildPermissionRegistry(await enabledModules());
    // Replicas (PostgreSQL): a revocation made here reaches every running panel's caches at once.
    // The CLI only sends (it neither listens nor beats a replica row).
    const cluster = new Cluster({ database, log, address: 'cli', version: panelVersion() });
    const auth = createAuth({ db: database.db, dialect: database.dialect, audit, events, secrets, config: config.core, log, permissions, cluster });
    return {
      config, database, audit, auth,
      close: async () => {
        await cluster.stop({ quiet: true });
        await database.close();
      },
    };
  } catch (e) {
    await database.close();
    throw e;
  }
}
