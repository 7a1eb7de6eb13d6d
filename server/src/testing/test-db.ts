import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { isPostgresUrl, openDatabase, type Database } from '../db/database.js';

export interface TestDatabase {
  database: Database;
  dataDir: string;
  /** The URL to pass as SLIPWAY_DATABASE_URL for a panel process using this same database. */
  url: string;
  pgSchema?: string;
  cleanup(): Promise<void>;
}

/**
 * A fresh, isolated database for one test file: SQLite in a temp data dir by default, or a new
 * PostgreSQL schema when SLIPWAY_TEST_DATABASE_URL=postgres://… (CI runs the suite both ways).
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'slipway-test-'));
  const pgUrl = process.env.SLIPWAY_TEST_DATABASE_URL;
  if (isPostgresUrl(pgUrl)) {
    const schema = `t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    const database = openDatabase({ url: pgUrl, dataDir, pgSchema: schema });
    return {
      database,
      dataDir,
      url: pgUrl!,
      pgSchema: schema,
      async cleanup() {
        await database.close().catch(() => {});
        const c = new pg.Client({ connectionString: pgUrl });
        await c.connect();
        await c.query(`drop schema if exists ${schema} cascade`);
        await c.end();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const database = openDatabase({ dataDir });
  return {
    database,
    dataDir,
    url: database.sqlitePath!,
    async cleanup() {
      await database.close().catch(() => {});
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
