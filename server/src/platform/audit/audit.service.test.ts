import { rmSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../db/database.js';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db.js';
import { EventBus } from '../events/event-bus.js';
import type { Actor } from '../rbac/permissions.js';
import { AUDIT_HEAD_FILE, AuditLog, readAuditHeadFile } from './audit.service.js';

const alice: Actor = { kind: 'user', userId: 'u-alice', username: 'alice', role: 'admin', ip: '10.1.2.3', userAgent: 'vitest' };

describe('audit log (hash chain)', () => {
  let tdb: TestDatabase;
  let audit: AuditLog;
  const events = new EventBus();

  beforeAll(async () => {
    tdb = await createTestDatabase();
    await migrate(tdb.database.db);
    audit = new AuditLog(tdb.database.db, tdb.database.dialect, events);
  });
  afterAll(async () => tdb.cleanup());

  it('records who did what to which target, and never stores secrets', async () => {
    const seen: string[] = [];
    const off = events.subscribe((e) => seen.push(e.type));
    const e = await audit.record({ actor: alice, action: 'users.create', target: { type: 'user', id: 'u-bob' }, details: { username: 'bob', password: 'hunter2hunter2', nested: { apiToken: 'slw_x' } } });
    off();
    expect(e).toMatchObject({ seq: 1, action: 'users.create', outcome: 'success', ip: '10.1.2.3', userAgent: 'vitest', actor: { id: 'u-alice', name: 'alice', kind: 'user' }, target: { type: 'user', id: 'u-bob' } });
    expect(e.details).toEqual({ username: 'bob', password: '[redacted]', nested: { apiToken: '[redacted]' } });
    expect(seen).toEqual(['audit.created']);
  });

  it('keeps one unbroken chain under concurrent appends', async () => {
    await Promise.all(Array.from({ length: 40 }, (_, i) => audit.record({ actor: alice, action: `test.concurrent`, details: { i } })));
    const v = await audit.verify();
    expect(v).toMatchObject({ ok: true, checked: 41 });
  });

  it('filters and pages newest first', async () => {
    await audit.record({ actor: { ...alice, userId: 'u-carol', username: 'carol' }, action: 'auth.login', outcome: 'failure' });
    const failures = await audit.list({ outcome: 'failure', limit: 10 });
    expect(failures.items.map((i) => i.actor.name)).toEqual(['carol']);
    const page1 = await audit.list({ action: 'test.concurrent', limit: 25 });
    expect(page1.items).toHaveLength(25);
    expect(page1.nextBefore).not.toBeNull();
    const page2 = await audit.list({ action: 'test.concurrent', limit: 25, before: page1.nextBefore! });
    expect(page2.items).toHaveLength(15);
    expect(page2.nextBefore).toBeNull();
    const seqs = [...page1.items, ...page2.items].map((i) => i.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    expect((await audit.list({ action: 'test.*', limit: 100 })).items).toHaveLength(40);
    await audit.record({ actor: alice, action: 'ssh_key.create' });
    await audit.record({ actor: alice, action: 'sshXkey.create' });
    // `_` in a prefix is literal, not LIKE's one-character wildcard.
    expect((await audit.list({ action: 'ssh_key.*', limit: 10 })).items.map((i) => i.action)).toEqual(['ssh_key.create']);
  });

  it('detects an altered entry', async () => {
    await sql`update audit_log set details = ${JSON.stringify({ i: 999 })} where seq = 5`.execute(tdb.database.db);
    expect(await audit.verify()).toMatchObject({ ok: false, brokenAt: 5, reason: 'entry 5 was altered' });
  });

  it('detects a deleted entry', async () => {
    const fresh = await createTestDatabase();
    try {
      await migrate(fresh.database.db);
      const log = new AuditLog(fresh.database.db, fresh.database.dialect);
      for (let i = 0; i < 5; i++) await log.record({ actor: alice, action: 'x.y' });
      await sql`delete from audit_log where seq = 3`.execute(fresh.database.db);
      expect(await log.verify()).toMatchObject({ ok: false, brokenAt: 3, reason: 'entry 3 is missing' });
    } finally {
      await fresh.cleanup();
    }
  });
});

describe('keyed audit chain and the published head', () => {
  const key = Buffer.alloc(32, 7);
  let tdb: TestDatabase;
  let headFile: string;
  const open = (k: Buffer | undefined = key) => new AuditLog(tdb.database.db, tdb.database.dialect, undefined, { key: k, headFile });

  beforeAll(async () => {
    tdb = await createTestDatabase();
    await migrate(tdb.database.db);
    headFile = path.join(tdb.dataDir, AUDIT_HEAD_FILE);
  });
  afterAll(async () => tdb.cleanup());

  it('keeps entries written before the migration (chain 1), continues them keyed (chain 2) and verifies both', async () => {
    const legacy = new AuditLog(tdb.database.db, tdb.database.dialect);
    for (let i = 0; i < 3; i++) await legacy.record({ actor: alice, action: 'old.entry', details: { i } });
    const log = open();
    for (let i = 0; i < 3; i++) await log.record({ actor: alice, action: 'new.entry', details: { i } });
    const rows = await tdb.database.db.selectFrom('audit_log').select(['seq', 'chain']).orderBy('seq').execute();
    expect(rows.map((r) => Number(r.chain))).toEqual([1, 1, 1, 2, 2, 2]);
    const head = readAuditHeadFile(headFile, key)!;
    expect(head.seq).toBe(6);
    expect(await log.verify()).toMatchObject({ ok: true, checked: 6, head: { seq: 6 }, publishedHead: { seq: 6 } });
    // A writer without the key may not append after keyed entries (it could only forge chain 1).
    await expect(legacy.record({ actor: alice, action: 'x' })).rejects.toThrow(/keyed/);
  });

  it('detects a deleted tail against the head file, and against a head given from the journal', async () => {
    const log = open();
    await log.record({ actor: alice, action: 'tail.one' });
    await log.record({ actor: alice, action: 'tail.two' });
    const published = (await log.head())!;
    await sql`delete from audit_log where seq >= ${published.seq - 1}`.execute(tdb.database.db);
    const r = await log.verify();
    expect(r).toMatchObject({ ok: false, brokenAt: published.seq - 1 });
    expect(r.reason).toMatch(/were deleted/);
    // The same against a head copied from the log (no head file).
    const noFile = new AuditLog(tdb.database.db, tdb.database.dialect, undefined, { key });
    expect((await noFile.verify()).ok).toBe(true);
    expect(await noFile.verify({ publishedHead: published })).toMatchObject({ ok: false, brokenAt: published.seq - 1 });
  });

  it('detects a tail rewritten with recomputed hashes: without the key they cannot match', async () => {
    const log = open();
    // Deleted rows above restored the chain's end to seq 6; the head file still says 8.
    await tdb.database.db.deleteFrom('audit_log').where('seq', '>', 6).execute();
    rmSync(headFile, { force: true });
    await log.record({ actor: alice, action: 'real' });
    const forged = new AuditLog(tdb.database.db, tdb.database.dialect, undefined, { key: Buffer.alloc(32, 9) });
    await tdb.database.db.deleteFrom('audit_log').where('seq', '=', 7).execute();
    await expect(forged.record({ actor: alice, action: 'forged' })).resolves.toBeTruthy();
    const r = await log.verify();
    expect(r).toMatchObject({ ok: false, brokenAt: 7 });
    expect(r.reason).toMatch(/altered/);
    // A chain-1 row forged after keyed rows is refused as a downgrade.
    await tdb.database.db.updateTable('audit_log').set({ chain: 1 }).where('seq', '=', 7).execute();
    expect((await log.verify()).reason).toMatch(/old unkeyed hash after keyed entries/);
  });
});
