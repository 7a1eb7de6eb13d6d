import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import * as tar from 'tar';
import { coreMigrations, defaultSqlitePath, isPostgresUrl, migrate, openDatabase, type Dialect, type NamedMigrations } from '../../db/database.js';
import { AUDIT_HEAD_FILE } from '../audit/audit.service.js';
import { ConflictError, DomainRuleError, ValidationError } from '../errors.js';
import { SECRETS_FILE } from '../secrets.js';

export const BACKUP_FORMAT = 'slipway-backup';
export const BACKUP_VERSION = 1;
const MANIFEST = 'manifest.json';
const SSH_DIR = 'ssh';
const SQLITE_ENTRY = 'database/slipway.db';
const PG_ENTRY = 'database/postgres.json';
const MIGRATION_TABLES = ['slipway_migrations', 'slipway_migrations_lock'];

export interface BackupFile {
  path: string;
  size: number;
  sha256: string;
  mode: number;
}

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  version: number;
  createdAt: string;
  hostname: string;
  database: { dialect: Dialect; file: string; migrations: string[]; tables: Record<string, number> };
  files: BackupFile[];
  /**
   * The audit chain's head in this snapshot (`seq:hash`): a published copy outside the table, so
   * `slipway audit verify --head <it>` detects entries deleted after the backup was taken.
   */
  auditHead?: string | null;
}

export interface BackupSource {
  dataDir: string;
  databaseUrl?: string;
}

function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function sqlitePathFor(src: BackupSource): string {
  return src.databaseUrl && !isPostgresUrl(src.databaseUrl) ? src.databaseUrl.replace(/^(sqlite:|file:)/, '') : defaultSqlitePath(src.dataDir);
}

/** Every file under `dir` (relative paths), symlinks excluded: a backup never follows them out. */
function listFiles(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    const rel = prefix ? `${prefix}/${name}` : name;
    const st = lstatSync(full);
    if (st.isDirectory()) out.push(...listFiles(full, rel));
    else if (st.isFile()) out.push(rel);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL as JSON rows: one REPEATABLE READ snapshot, so every table is from the same instant.

interface PgDump {
  tables: Record<string, { columns: string[]; rows: unknown[][] }>;
}

async function pgTables(db: Kysely<any>): Promise<string[]> {
  const r = await sql<{ table_name: string }>`select table_name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`.execute(db);
  return r.rows.map((x) => x.table_name);
}

/** Tables ordered so that every table comes after the tables its foreign keys point to. */
async function pgInsertOrder(db: Kysely<any>, tables: string[]): Promise<string[]> {
  const r = await sql<{ child: string; parent: string }>`select tc.table_name as child, ccu.table_name as parent
    from information_schema.table_constraints tc
    join information_schema.constraint_column_usage ccu on ccu.constraint_name = tc.constraint_name and ccu.constraint_schema = tc.constraint_schema
    where tc.constraint_type = 'FOREIGN KEY' and tc.table_schema = current_schema()`.execute(db);
  const parents = new Map<string, Set<string>>(tables.map((t) => [t, new Set<string>()]));
  for (const { child, parent } of r.rows) if (child !== parent) parents.get(child)?.add(parent);
  const ordered: string[] = [];
  const seen = new Set<string>();
  const visit = (t: string, depth: number) => {
    if (seen.has(t) || depth > tables.length) return;
    for (const p of parents.get(t) ?? []) visit(p, depth + 1);
    seen.add(t);
    ordered.push(t);
  };
  for (const t of tables) visit(t, 0);
  return ordered;
}

const ident = (name: string) => sql.id(name);

async function dumpPostgres(url: string, pgSchema?: string): Promise<PgDump> {
  const database = openDatabase({ url, dataDir: '.', pgSchema });
  try {
    return await database.db.transaction().setIsolationLevel('repeatable read').execute(async (trx) => {
      await sql`set transaction read only`.execute(trx);
      const dump: PgDump = { tables: {} };
      for (const t of await pgTables(trx)) {
        if (t === 'slipway_migrations_lock') continue;
        const cols = await sql<{ column_name: string }>`select column_name from information_schema.columns
          where table_schema = current_schema() and table_name = ${t} order by ordinal_position`.execute(trx);
        const columns = cols.rows.map((c) => c.column_name);
        const rows = await sql<Record<string, unknown>>`select * from ${ident(t)}`.execute(trx);
        dump.tables[t] = { columns, rows: rows.rows.map((row) => columns.map((c) => row[c])) };
      }
      return dump;
    });
  } finally {
    await database.close();
  }
}

async function loadPostgres(url: string, dump: PgDump, migrations: NamedMigrations, opts: { force: boolean; pgSchema?: string }): Promise<void> {
  const database = openDatabase({ url, dataDir: '.', pgSchema: opts.pgSchema });
  try {
    const db = database.db as unknown as Kysely<any>;
    const existing = await pgTables(db);
    const hasData = existing.includes('users') && Number((await sql<{ n: number }>`select count(*)::int as n from users`.execute(db)).rows[0]?.n ?? 0) > 0;
    if (hasData && !opts.force) throw new ConflictError('The target PostgreSQL database already holds a panel (users exist). Use --force to replace its contents.');
    await migrate(db, migrations);
    const tables = await pgInsertOrder(db, await pgTables(db));
    await db.transaction().execute(async (trx) => {
      // Children first when emptying, parents first when filling.
      // The migration tables stay as migrate() left them: they describe this code's schema.
      const dataTables = tables.filter((t) => !MIGRATION_TABLES.includes(t));
      for (const t of [...dataTables].reverse()) await sql`delete from ${ident(t)}`.execute(trx);
      for (const t of dataTables) {
        const data = dump.tables[t];
        if (!data?.rows.length) continue;
        for (let i = 0; i < data.rows.length; i += 500) {
          const chunk = data.rows.slice(i, i + 500);
          const values = chunk.map((row) => sql`(${sql.join(row.map((v) => sql`${v}`))})`);
          await sql`insert into ${ident(t)} (${sql.join(data.columns.map(ident))}) values ${sql.join(values)}`.execute(trx);
        }
      }
    });
  } finally {
    await database.close();
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Writes one `.tar.gz` with the database (SQLite through its online backup API, safe while the
 * panel runs; PostgreSQL as a consistent JSON snapshot), `secrets.json`, the panel's `ssh/` keys and
 * a manifest listing every file's SHA-256. The archive holds secrets: it is written mode 0600.
 */
export async function createBackup(src: BackupSource & { out: string; pgSchema?: string }): Promise<{ manifest: BackupManifest; out: string; bytes: number }> {
  const out = path.resolve(src.out);
  if (!existsSync(path.dirname(out))) throw new ValidationError(`The directory of ${out} does not exist`);
  const staging = mkdtempSync(path.join(path.dirname(out), '.slipway-backup-'));
  try {
    const dialect: Dialect = isPostgresUrl(src.databaseUrl) ? 'postgres' : 'sqlite';
    let dbEntry: string;
    let migrations: string[];
    let auditHead: string | null = null;
    const tables: Record<string, number> = {};
    mkdirSync(path.join(staging, 'database'));
    if (dialect === 'sqlite') {
      const file = sqlitePathFor(src);
      if (!existsSync(file)) throw new DomainRuleError(`No panel database at ${file}`, 'no_database');
      dbEntry = SQLITE_ENTRY;
      const live = new SQLite(file, { fileMustExist: true });
      try {
        live.pragma('busy_timeout = 5000');
        await live.backup(path.join(staging, dbEntry));
      } finally {
        live.close();
      }
      // A self-contained file: no -wal/-shm companions in the archive.
      const copy = new SQLite(path.join(staging, dbEntry));
      try {
        copy.pragma('journal_mode = DELETE');
        migrations = (copy.prepare('select name from slipway_migrations order by name').all() as { name: string }[]).map((r) => r.name);
        const names = copy.prepare(`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name`).all() as { name: string }[];
        for (const { name } of names) tables[name] = (copy.prepare(`select count(*) as n from "${name.replace(/"/g, '""')}"`).get() as { n: number }).n;
        if (names.some((n) => n.name === 'audit_log')) {
          const last = copy.prepare('select seq, hash from audit_log order by seq desc limit 1').get() as { seq: number; hash: string } | undefined;
          auditHead = last ? `${last.seq}:${last.hash}` : null;
        }
      } finally {
        copy.close();
      }
    } else {
      dbEntry = PG_ENTRY;
      const dump = await dumpPostgres(src.databaseUrl!, src.pgSchema);
      writeFileSync(path.join(staging, dbEntry), JSON.stringify(dump), { mode: 0o600 });
      const m = dump.tables.slipway_migrations;
      migrations = (m?.rows ?? []).map((r) => String(r[m!.columns.indexOf('name')])).sort();
      for (const [name, t] of Object.entries(dump.tables)) tables[name] = t.rows.length;
      const a = dump.tables.audit_log;
      if (a?.rows.length) {
        const [si, hi] = [a.columns.indexOf('seq'), a.columns.indexOf('hash')];
        const last = a.rows.reduce((m, r) => (Number(r[si]) > Number(m[si]) ? r : m));
        auditHead = `${Number(last[si])}:${String(last[hi])}`;
      }
    }

    const secrets = path.join(src.dataDir, SECRETS_FILE);
    if (existsSync(secrets)) cpSync(secrets, path.join(staging, SECRETS_FILE));
    for (const rel of listFiles(path.join(src.dataDir, SSH_DIR))) {
      mkdirSync(path.dirname(path.join(staging, SSH_DIR, rel)), { recursive: true });
      cpSync(path.join(src.dataDir, SSH_DIR, rel), path.join(staging, SSH_DIR, rel), { preserveTimestamps: true });
    }

    const files: BackupFile[] = listFiles(staging).map((rel) => {
      const st = statSync(path.join(staging, rel));
      return { path: rel, size: st.size, sha256: sha256File(path.join(staging, rel)), mode: st.mode & 0o777 };
    });
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT, version: BACKUP_VERSION, createdAt: new Date().toISOString(), hostname: hostname(),
      database: { dialect, file: dbEntry, migrations, tables }, files, auditHead,
    };
    writeFileSync(path.join(staging, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    const partial = `${out}.partial`;
    await tar.create({ gzip: true, file: partial, cwd: staging, portable: true, mode: 0o600 } as tar.TarOptionsWithAliasesAsyncFile, [MANIFEST, ...files.map((f) => f.path)]);
    chmodSync(partial, 0o600);
    renameSync(partial, out);
    return { manifest, out, bytes: statSync(out).size };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Unpacks into a staging dir and checks the manifest: format, every file present with its hash, nothing extra. */
export async function readBackup(from: string, staging: string): Promise<BackupManifest> {
  if (!existsSync(from)) throw new ValidationError(`No backup file at ${from}`);
  await tar.extract({ file: from, cwd: staging, strict: true, preservePaths: false });
  const manifestPath = path.join(staging, MANIFEST);
  if (!existsSync(manifestPath)) throw new DomainRuleError('Not a Slipway backup: manifest.json is missing', 'bad_backup');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as BackupManifest;
  if (manifest.format !== BACKUP_FORMAT) throw new DomainRuleError('Not a Slipway backup: unknown format', 'bad_backup');
  if (manifest.version > BACKUP_VERSION) throw new DomainRuleError(`Backup format version ${manifest.version} is newer than this Slipway understands (${BACKUP_VERSION})`, 'bad_backup');
  const listed = new Set(manifest.files.map((f) => f.path));
  for (const f of manifest.files) {
    const full = path.join(staging, f.path);
    if (!full.startsWith(staging + path.sep) || !existsSync(full)) throw new DomainRuleError(`Backup is incomplete: ${f.path} is missing`, 'bad_backup');
    if (sha256File(full) !== f.sha256) throw new DomainRuleError(`Backup is corrupt: ${f.path} does not match its checksum`, 'bad_backup');
  }
  for (const rel of listFiles(staging)) {
    if (rel !== MANIFEST && !listed.has(rel)) throw new DomainRuleError(`Backup holds a file the manifest does not list: ${rel}`, 'bad_backup');
  }
  if (!listed.has(manifest.database.file)) throw new DomainRuleError('Backup holds no database', 'bad_backup');
  return manifest;
}

/**
 * Restores a backup into a data dir (and, for PostgreSQL, into the configured database). Refuses a
 * non-empty target unless `force`. Stop the panel that uses the target first.
 */
export async function restoreBackup(opts: BackupSource & { from: string; force?: boolean; migrations: NamedMigrations; pgSchema?: string }): Promise<BackupManifest> {
  const dataDir = path.resolve(opts.dataDir);
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0 && !opts.force) {
    throw new ConflictError(`The data dir ${dataDir} is not empty. Restore into an empty directory, or use --force to overwrite the panel there.`);
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const staging = mkdtempSync(path.join(dataDir, '.restore-'));
  try {
    const manifest = await readBackup(path.resolve(opts.from), staging);
    const targetDialect: Dialect = isPostgresUrl(opts.databaseUrl) ? 'postgres' : 'sqlite';
    if (targetDialect !== manifest.database.dialect) {
      throw new DomainRuleError(`This backup holds a ${manifest.database.dialect} database but the target is configured for ${targetDialect}`, 'dialect_mismatch');
    }
    const unknown = manifest.database.migrations.filter((m) => !(m in coreMigrations) && !(m in opts.migrations));
    if (unknown.length) throw new DomainRuleError(`The backup comes from a newer Slipway (unknown migrations: ${unknown.join(', ')})`, 'newer_backup');

    if (manifest.database.dialect === 'sqlite') {
      const file = sqlitePathFor({ dataDir, databaseUrl: opts.databaseUrl });
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
      mkdirSync(path.dirname(file), { recursive: true });
      cpSync(path.join(staging, manifest.database.file), file);
      chmodSync(file, 0o600);
    } else {
      const dump = JSON.parse(readFileSync(path.join(staging, manifest.database.file), 'utf8')) as PgDump;
      await loadPostgres(opts.databaseUrl!, dump, opts.migrations, { force: !!opts.force, pgSchema: opts.pgSchema });
    }
    for (const f of manifest.files) {
      if (f.path === manifest.database.file) continue;
      if (f.path !== SECRETS_FILE && !f.path.startsWith(`${SSH_DIR}/`)) continue;
      const dest = path.join(dataDir, f.path);
      if (f.path.startsWith(`${SSH_DIR}/`)) mkdirSync(path.dirname(dest), { recursive: true, mode: 0o700 });
      rmSync(dest, { force: true });
      cpSync(path.join(staging, f.path), dest);
      chmodSync(dest, f.mode & 0o755); // as it was, never group/world-writable
    }
    // The restored chain ends where the backup's did: that is the head to verify it against now.
    const headFile = path.join(dataDir, AUDIT_HEAD_FILE);
    rmSync(headFile, { force: true });
    const m = manifest.auditHead ? /^(\d+):([0-9a-f]{64})$/.exec(manifest.auditHead) : null;
    if (m) writeFileSync(headFile, `${JSON.stringify({ seq: Number(m[1]), hash: m[2], at: Date.now(), restoredFrom: manifest.createdAt })}\n`, { mode: 0o600 });
    chmodSync(dataDir, 0o700);
    return manifest;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
