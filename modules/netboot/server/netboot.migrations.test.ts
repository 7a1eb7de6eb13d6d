import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../../server/src/testing/index.js';
import { createTestDatabase, type TestDatabase } from '../../../server/src/testing/test-db.js';
import { netbootMigrations } from './netboot.migrations.js';

describe('netboot migrations (SQLite, or PostgreSQL with SLIPWAY_TEST_DATABASE_URL)', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
    await migrate(t.database.db, netbootMigrations);
  });
  afterAll(async () => t.cleanup());

  it('keeps one MAC per machine and refuses deleting a version a machine boots', async () => {
    const db = t.database.db as any;
    const now = Date.now();
    await db.insertInto('netboot_images').values({ id: 'i1', name: 'win11', status: 'ready', created_at: now, updated_at: now }).execute();
    await db.insertInto('netboot_image_versions').values({ id: 'v1', image_id: 'i1', number: 1, file: '/x/v1.qcow2', format: 'qcow2', virtual_size: 1, file_size: 1, comment: 'first', created_at: now }).execute();
    const machine = { id: 'm1', name: 'pc1', mac: '52:54:00:00:00:01', state: 'active', image_id: 'i1', version_id: 'v1', boot_mode: 'iscsi', boot_token: 'a'.repeat(43), created_at: now, updated_at: now };
    await db.insertInto('netboot_machines').values(machine).execute();
    await expect(db.insertInto('netboot_machines').values({ ...machine, id: 'm2', name: 'pc2', boot_token: 'b'.repeat(43) }).execute()).rejects.toThrow();
    await expect(db.deleteFrom('netboot_image_versions').where('id', '=', 'v1').execute()).rejects.toThrow();
    expect((await db.selectFrom('netboot_image_versions').selectAll().execute()).length).toBe(1);
  });
});
