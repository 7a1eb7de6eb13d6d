import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from './database.js';

// Issue 16: SQLite statements are prepared once and rows read raw, then built per statement.
// What kysely hands back must not change: same keys, values, order, and a schema change is seen.
describe('SQLite connection (cached statements, raw rows)', () => {
  let dir: string;
  let database: Database;
  afterEach(async () => {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const open = () => {
    dir = mkdtempSync(path.join(tmpdir(), 'slipway-db-'));
    database = openDatabase({ dataDir: dir });
    return database.db as unknown as import('kysely').Kysely<any>;
  };

  it('returns the rows better-sqlite3 would build, for repeated and different queries', async () => {
    const db = open();
    await sql`create table t (id text primary key, n integer, b blob, "we""ird" text)`.execute(db);
    await db.insertInto('t').values([{ id: 'a', n: 1, b: Buffer.from('x'), 'we"ird': 'w' } as never, { id: 'b', n: null, b: null, 'we"ird': null } as never]).execute();
    const direct = database.sqlite!.prepare('select * from t order by id').all();
    for (let i = 0; i < 3; i++) {
      const rows = await db.selectFrom('t').selectAll().orderBy('id').execute();
      expect(rows).toEqual(direct);
      expect(Object.keys(rows[0]!)).toEqual(['id', 'n', 'b', 'we"ird']);
    }
    // A column named __proto__ is data, never the row's prototype.
    const [proto] = (await sql<Record<string, unknown>>`select 'p' as "__proto__", 1 as n`.execute(db)).rows;
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(proto, '__proto__')?.value).toBe('p');
    expect(await db.selectFrom('t').select(['n as x', 'id as x']).where('id', '=', 'a').execute()).toEqual([{ x: 'a' }]);
    const ins = await db.insertInto('t').values({ id: 'c', n: 3 } as never).executeTakeFirst();
    expect(ins.numInsertedOrUpdatedRows).toBe(1n);
    expect(await db.insertInto('t').values({ id: 'd', n: 4 } as never).returning(['id', 'n']).execute()).toEqual([{ id: 'd', n: 4 }]);
    const upd = await db.updateTable('t').set({ n: 9 } as never).where('n', 'is not', null).executeTakeFirst();
    expect(upd.numUpdatedRows).toBe(3n);
  });

  it('sees columns added after a statement was cached, and runs transactions on the same connection', async () => {
    const db = open();
    await sql`create table t (id text primary key)`.execute(db);
    await db.insertInto('t').values({ id: 'a' } as never).execute();
    expect(await db.selectFrom('t').selectAll().execute()).toEqual([{ id: 'a' }]);
    await sql`alter table t add column extra text default 'e'`.execute(db);
    expect(await db.selectFrom('t').selectAll().execute()).toEqual([{ id: 'a', extra: 'e' }]);
    // Another connection (the CLI, a second process) changes the schema: the width check catches it.
    database.sqlite!.exec(`alter table t add column more integer default 7`);
    expect(await db.selectFrom('t').selectAll().execute()).toEqual([{ id: 'a', extra: 'e', more: 7 }]);
    await expect(db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ id: 'b' } as never).execute();
      throw new Error('roll back');
    })).rejects.toThrow('roll back');
    expect((await db.selectFrom('t').select('id').execute()).map((r) => r.id)).toEqual(['a']);
    const streamed: unknown[] = [];
    for await (const r of db.selectFrom('t').select('id').stream()) streamed.push(r);
    expect(streamed).toEqual([{ id: 'a' }]);
  });
});
