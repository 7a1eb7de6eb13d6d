import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_ACTOR, moduleMigrations, openCliContext } from '../../cli/context.js';
import { isPostgresUrl } from '../../db/database.js';
import { verifyPassword } from '../auth/passwords.js';
import { createBackup, restoreBackup, type BackupManifest } from './backup.service.js';

const PG_URL = process.env.SLIPWAY_TEST_DATABASE_URL;
const PASSWORD = 'Quiet-Harbor-Window-83';

/** A connection URL whose sessions live in one schema (isolation from other tests). */
function schemaUrl(base: string, schema: string): string {
  const u = new URL(base);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

describe('SQLite backup archive', { timeout: 120_000 }, () => {
  let work: string;
  let archive: string;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'slipway-backup-'));
    const env = { SLIPWAY_DATA_DIR: path.join(work, 'src') };
    const ctx = await openCliContext(env);
    try {
      await ctx.auth.users.create(CLI_ACTOR, { username: 'erin', email: 'erin@example.test', role: 'support', password: PASSWORD });
    } finally {
      await ctx.close();
    }
    archive = path.join(work, 'b.tar.gz');
    await createBackup({ dataDir: env.SLIPWAY_DATA_DIR, out: archive });
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('lists every file with its checksum and the database contents in the manifest', async () => {
    const { extract } = await import('tar');
    const dir = mkdtempSync(path.join(work, 'x-'));
    await extract({ file: archive, cwd: dir });
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as BackupManifest;
    expect(manifest.format).toBe('slipway-backup');
    expect(manifest.database).toMatchObject({ dialect: 'sqlite', file: 'database/slipway.db' });
    expect(manifest.database.tables.users).toBe(1);
    // The audit chain's head travels with the backup (a copy outside the table).
    expect(manifest.auditHead).toMatch(/^\d+:[0-9a-f]{64}$/);
    expect(manifest.files.map((f) => f.path).sort()).toEqual(['database/slipway.db', 'secrets.json']);
    const secrets = manifest.files.find((f) => f.path === 'secrets.json')!;
    expect(secrets.mode).toBe(0o600);
    expect(secrets.sha256).toBe(createHash('sha256').update(readFileSync(path.join(work, 'src/secrets.json'))).digest('hex'));
  });

  it('refuses a target configured for another database kind', async () => {
    await expect(restoreBackup({ from: archive, dataDir: path.join(work, 'pg-target'), databaseUrl: 'postgres://nobody@127.0.0.1:1/x', migrations: await moduleMigrations() }))
      .rejects.toThrow(/holds a sqlite database but the target is configured for postgres/);
  });

  it('refuses a backup made by a newer Slipway', async () => {
    const dir = mkdtempSync(path.join(work, 'newer-'));
    const { extract, create } = await import('tar');
    await extract({ file: archive, cwd: dir });
    const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as BackupManifest;
    m.database.migrations.push('vps_0009_from_the_future');
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
    const newer = path.join(work, 'newer.tar.gz');
    await create({ gzip: true, file: newer, cwd: dir }, ['manifest.json', 'database', 'secrets.json']);
    await expect(restoreBackup({ from: newer, dataDir: path.join(work, 'n-target'), migrations: await moduleMigrations() })).rejects.toThrow(/newer Slipway.*vps_0009_from_the_future/);
  });

  it('refuses files the manifest does not list', async () => {
    const dir = mkdtempSync(path.join(work, 'extra-'));
    const { extract, create } = await import('tar');
    await extract({ file: archive, cwd: dir });
    writeFileSync(path.join(dir, 'authorized_keys'), 'ssh-ed25519 AAAA attacker');
    const extra = path.join(work, 'extra.tar.gz');
    await create({ gzip: true, file: extra, cwd: dir }, ['manifest.json', 'database', 'secrets.json', 'authorized_keys']);
    await expect(restoreBackup({ from: extra, dataDir: path.join(work, 'e-target'), migrations: await moduleMigrations() })).rejects.toThrow(/does not list: authorized_keys/);
  });
});

describe.skipIf(!isPostgresUrl(PG_URL))('PostgreSQL backup and restore', { timeout: 120_000 }, () => {
  const suffix = `${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 7)}`;
  const schemas = { src: `bk_src_${suffix}`, dst: `bk_dst_${suffix}` };
  let work: string;

  async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'slipway-backup-pg-'));
    await admin(async (c) => {
      for (const s of Object.values(schemas)) await c.query(`create schema ${s}`);
    });
  });

  afterAll(async () => {
    await admin(async (c) => {
      for (const s of Object.values(schemas)) await c.query(`drop schema if exists ${s} cascade`);
    });
    rmSync(work, { recursive: true, force: true });
  });

  it('restores users and an intact audit chain into another database', async () => {
    const srcEnv = { SLIPWAY_DATA_DIR: path.join(work, 'src'), SLIPWAY_DATABASE_URL: schemaUrl(PG_URL!, schemas.src) };
    const src = await openCliContext(srcEnv);
    try {
      await src.auth.users.create(CLI_ACTOR, { username: 'carol', email: 'carol@example.test', role: 'operator', password: PASSWORD });
      await src.auth.users.create(CLI_ACTOR, { username: 'dave', email: 'dave@example.test', role: 'viewer' });
    } finally {
      await src.close();
    }
    const out = path.join(work, 'pg.tar.gz');
    const { manifest } = await createBackup({ dataDir: srcEnv.SLIPWAY_DATA_DIR, databaseUrl: srcEnv.SLIPWAY_DATABASE_URL, out });
    expect(manifest.database.dialect).toBe('postgres');
    expect(manifest.database.tables.users).toBe(2);
    expect(manifest.database.migrations).toContain('0001_core');
    expect(manifest.auditHead).toMatch(/^2:[0-9a-f]{64}$/);

    const dstEnv = { SLIPWAY_DATA_DIR: path.join(work, 'dst'), SLIPWAY_DATABASE_URL: schemaUrl(PG_URL!, schemas.dst) };
    await restoreBackup({ from: out, dataDir: dstEnv.SLIPWAY_DATA_DIR, databaseUrl: dstEnv.SLIPWAY_DATABASE_URL, migrations: await moduleMigrations() });
    const dst = await openCliContext(dstEnv);
    try {
      const users = await dst.database.db.selectFrom('users').select(['username', 'role', 'password_hash']).orderBy('username').execute();
      expect(users.map((u) => `${u.username}:${u.role}`)).toEqual(['carol:operator', 'dave:viewer']);
      expect(await verifyPassword(users[0]!.password_hash, PASSWORD)).toBe(true); // carol can sign in as before
      expect(await dst.audit.verify()).toMatchObject({ ok: true, checked: 2, publishedHead: { seq: 2 } }); // the head restored with it
    } finally {
      await dst.close();
    }
    // The target now holds a panel: a second restore needs --force.
    await expect(
      restoreBackup({ from: out, dataDir: path.join(work, 'dst2'), databaseUrl: dstEnv.SLIPWAY_DATABASE_URL, migrations: await moduleMigrations() }),
    ).rejects.toThrow(/already holds a panel/);
    await restoreBackup({ from: out, dataDir: path.join(work, 'dst3'), databaseUrl: dstEnv.SLIPWAY_DATABASE_URL, migrations: await moduleMigrations(), force: true });
    const again = await openCliContext({ ...dstEnv, SLIPWAY_DATA_DIR: path.join(work, 'dst3') });
    try {
      expect(await again.audit.verify()).toMatchObject({ ok: true, checked: 2 });
    } finally {
      await again.close();
    }
  });
});
