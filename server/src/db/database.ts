import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { CompiledQuery, Kysely, Migrator, PostgresAdapter, PostgresDialect, SqliteDialect, SqliteDriver, sql, type DatabaseConnection, type Driver, type Migration, type MigrationProvider, type QueryResult, type SqliteDialectConfig } from 'kysely';
import pg from 'pg';
import { coreMigration } from './migrations/0001_core.js';
import { securityMigration } from './migrations/0002_security.js';
import { hostnameClaimsMigration } from './migrations/0003_hostname_claims.js';
import { lifecycleMigration } from '../platform/lifecycle/lifecycle.migration.js';
import { clusterMigration } from './migrations/0005_cluster.js';
import type { CoreTables } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Database {
  db: Kysely<CoreTables>;
  dialect: Dialect;
  /** Where the SQLite file lives (undefined on PostgreSQL); used by backup. */
  sqlitePath?: string;
  sqlite?: SQLite.Database;
  /** PostgreSQL only: how to open a connection of its own (the cluster bus LISTENs on one). */
  pg?: { url: string; schema?: string };
  close(): Promise<void>;
}

// PostgreSQL returns int8 as string by default; our timestamps are epoch-ms and fit in a double.
pg.types.setTypeParser(20, (v) => Number(v));

export function defaultSqlitePath(dataDir: string): string {
  return path.join(dataDir, 'slipway.db');
}

export function isPostgresUrl(url: string | undefined): boolean {
  return !!url && /^postgres(ql)?:\/\//.test(url);
}

/**
 * Opens the database named by `url` (postgres://… or a SQLite path; default: SQLite file in the
 * data dir). `pgSchema` scopes a PostgreSQL connection to one schema (tests use it for isolation).
 */
export function openDatabase(opts: { url?: string; dataDir: string; pgSchema?: string }): Database {
  if (isPostgresUrl(opts.url)) {
    const pool = new pg.Pool({
      connectionString: opts.url!,
      max: 10,
      ...(opts.pgSchema ? { options: `-c search_path=${opts.pgSchema}` } : {}),
    });
    const db = new Kysely<CoreTables>({ dialect: new PostgresDialect({ pool }) });
    return { db, dialect: 'postgres', pg: { url: opts.url!, schema: opts.pgSchema }, close: () => db.destroy() };
  }
  const file = opts.url ? opts.url.replace(/^(sqlite:|file:)/, '') : defaultSqlitePath(opts.dataDir);
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  // FULL: a commit survives power loss, which auth, audit and jobs rely on.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<CoreTables>({ dialect: new ImmediateSqliteDialect({ database: sqlite }) });
  return { db, dialect: 'sqlite', sqlitePath: file, sqlite, close: () => db.destroy() };
}

/**
 * Transactions take SQLite's write lock when they begin (`begin immediate`). A deferred transaction
 * that reads and then writes (the audit chain: last hash, then insert) fails at once with
 * SQLITE_BUSY when another process (the CLI, a second panel in tests) committed in between;
 * busy_timeout does not cover that upgrade, but it does cover waiting for `begin immediate`.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  readonly #connection: CachedSqliteConnection;
  constructor(config: SqliteDialectConfig & { database: SQLite.Database }) {
    super(config);
    this.#connection = new CachedSqliteConnection(config.database);
  }
  override async acquireConnection(): Promise<DatabaseConnection> {
    await super.acquireConnection(); // the single connection's mutex
    return this.#connection;
  }
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/** Statements kept per SQL text (kysely's SQL is parameterised, so the set is small; bounded anyway). */
const STATEMENT_CACHE_MAX = 1000;
/** Statements that change the schema: cached statements' column lists may no longer hold. */
const SCHEMA_CHANGE = /^\s*(create|alter|drop)\s/i;
type Prepared = { stmt: SQLite.Statement; reader: boolean; width: number; build: (raw: unknown[]) => Record<string, unknown> };

/** A row object from a raw row: one object literal per statement's columns (a stable shape for V8). */
function rowBuilder(columns: string[]): (raw: unknown[]) => Record<string, unknown> {
  // Column names are data: JSON string literals as keys (computed for __proto__, which a literal would treat as the prototype).
  const props = columns.map((c, i) => `${c === '__proto__' ? `[${JSON.stringify(c)}]` : JSON.stringify(c)}: r[${i}]`);
  return new Function('r', `return { ${props.join(', ')} };`) as (raw: unknown[]) => Record<string, unknown>;
}

/**
 * kysely's SQLite connection with two costs removed (issue 16): it prepared every statement again
 * on each query, and let better-sqlite3 build each row as an object, which sets one named property
 * per column from C++ (three times the cost of reading the row as an array; 50 rows of 23 columns:
 * ~0.6 ms against ~0.2 ms). Here statements are prepared once per SQL text and rows are read raw
 * and built by a function compiled for the statement's columns. Same rows, same keys, same values.
 */
class CachedSqliteConnection implements DatabaseConnection {
  readonly #statements = new Map<string, Prepared>();
  constructor(readonly db: SQLite.Database) {}

  #prepare(sqlText: string): Prepared {
    const hit = this.#statements.get(sqlText);
    if (hit) return hit;
    const stmt = this.db.prepare(sqlText);
    const prepared: Prepared = { stmt, reader: stmt.reader, width: 0, build: () => ({}) };
    if (stmt.reader) this.#columns(prepared);
    if (this.#statements.size >= STATEMENT_CACHE_MAX) this.#statements.delete(this.#statements.keys().next().value!);
    this.#statements.set(sqlText, prepared);
    return prepared;
  }

  #columns(p: Prepared): void {
    p.stmt.raw(true);
    const names = p.stmt.columns().map((c) => c.name);
    p.width = names.length;
    p.build = rowBuilder(names);
  }

  executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const { sql: sqlText, parameters } = compiled;
    const p = this.#prepare(sqlText);
    if (p.reader) {
      const raw = p.stmt.all(parameters as unknown[]) as unknown[][];
      // A schema changed under a cached `select *` (another process migrated): take the columns again.
      if (raw.length && raw[0]!.length !== p.width) this.#columns(p);
      const rows = new Array(raw.length);
      for (let i = 0; i < raw.length; i++) rows[i] = p.build(raw[i]!);
      return Promise.resolve({ rows: rows as R[] });
    }
    const { changes, lastInsertRowid } = p.stmt.run(parameters as unknown[]);
    if (SCHEMA_CHANGE.test(sqlText)) this.#statements.clear();
    return Promise.resolve({
      numAffectedRows: changes !== undefined && changes !== null ? BigInt(changes) : undefined,
      insertId: lastInsertRowid !== undefined && lastInsertRowid !== null ? BigInt(lastInsertRowid) : undefined,
      rows: [],
    });
  }

  async *streamQuery<R>(compiled: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    // Not cached: an iterating statement is busy until the caller finishes.
    const stmt = this.db.prepare(compiled.sql);
    if (!stmt.reader) throw new Error('Sqlite driver only supports streaming of select queries');
    for (const row of stmt.iterate(compiled.parameters as unknown[])) yield { rows: [row as R] };
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig & { database: SQLite.Database };
  constructor(config: SqliteDialectConfig & { database: SQLite.Database }) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}

export type NamedMigrations = Record<string, Migration>;

/** Names in the migration table (empty before the first migration). */
async function executedMigrationNames(db: Kysely<any>, pgSchema: string | undefined): Promise<string[]> {
  try {
    const table = pgSchema ? sql.table(`${pgSchema}.slipway_migrations`) : sql.table('slipway_migrations');
    const rows = await sql<{ name: string }>`select name from ${table}`.execute(db);
    return rows.rows.map((r) => r.name);
  } catch {
    return [];
  }
}

export const coreMigrations: NamedMigrations = {
  '0001_core': coreMigration,
  '0002_security': securityMigration,
  '0003_hostname_claims': hostnameClaimsMigration,
  '0004_lifecycle': lifecycleMigration,
  '0005_cluster': clusterMigration,
};

/**
 * The database was migrated by a newer panel than this one (a rolling upgrade went ahead of this
 * replica, or an older version was started on an upgraded database). Starting anyway could write
 * rows the newer schema does not expect: refuse, with what to do.
 */
export class SchemaNewerError extends Error {
  constructor(readonly unknown: string[]) {
    super(
      `The database schema is newer than this Slipway version: it has migration${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} ` +
        'that this version does not know. A newer version of the panel has upgraded this database; refusing to start. ' +
        'Start the newer version on this machine too (during a rolling upgrade, upgrade this replica), or restore a backup taken before the upgrade.',
    );
    this.name = 'SchemaNewerError';
  }
}

/**
 * Executed migrations this code does not know, among the ones it owns: core ones (`0001_…`) and
 * those of the modules whose migrations it carries (`<module>_…`). A module that is not enabled
 * here (SLIPWAY_MODULES) leaves its migrations alone and is not a reason to refuse.
 */
export function unknownMigrations(executed: string[], known: NamedMigrations): string[] {
  const prefixes = new Set(Object.keys(known).filter((n) => !/^\d/.test(n)).map((n) => n.split('_')[0]!));
  return executed.filter((n) => !(n in known) && (/^\d/.test(n) || prefixes.has(n.split('_')[0]!)));
}

/** Applies core migrations, then every module's (names are prefixed with the module id). */
export async function migrate(db: Kysely<any>, moduleMigrations: NamedMigrations = {}): Promise<string[]> {
  const all: NamedMigrations = { ...coreMigrations, ...moduleMigrations };
  const provider: MigrationProvider = { getMigrations: async () => all };
  // Kysely looks for its migration tables in every schema unless told which: name ours, or a
  // database holding other schemas (parallel test schemas) would be taken as already set up.
  const pgSchema = db.getExecutor().adapter instanceof PostgresAdapter
    ? (await sql<{ name: string }>`select current_schema() as name`.execute(db)).rows[0]?.name
    : undefined;
  const migrator = new Migrator({
    db,
    provider,
    allowUnorderedMigrations: true,
    migrationTableName: 'slipway_migrations',
    migrationLockTableName: 'slipway_migrations_lock',
    ...(pgSchema ? { migrationTableSchema: pgSchema } : {}),
  });
  // Several replicas starting at once: Kysely holds a PostgreSQL advisory lock (pg_advisory_lock)
  // around the whole run and re-reads the executed list under it, so each migration runs once.
  const executed = await executedMigrationNames(db, pgSchema);
  const newer = unknownMigrations(executed, all);
  if (newer.length) throw new SchemaNewerError(newer);
  // Migrations of modules not enabled here are already applied: listed as such (never run), so
  // Kysely does not take their absence for a corrupted history.
  for (const name of executed) if (!(name in all)) all[name] = { up: async () => {} };
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
