import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../db/database.js';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db.js';
import { EventBus } from '../events/event-bus.js';
import { resourceTargets } from '../jobs/job.service.js';
import type { Actor } from '../rbac/permissions.js';
import { AuditLog } from './audit.service.js';

const admin: Actor = { kind: 'user', userId: 'u-admin', username: 'admin', role: 'admin' };

/** Issue 18 item 9: audit targets are listed with a name, not a truncated id. */
describe('audit target names', () => {
  let tdb: TestDatabase;
  let audit: AuditLog;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    await migrate(tdb.database.db);
    audit = new AuditLog(tdb.database.db, tdb.database.dialect, new EventBus());
    const at = Date.now();
    await tdb.database.db.insertInto('users').values({
      id: 'u-carol', username: 'carol', email: 'carol@example.test', password_hash: 'x', role: 'user', status: 'active', must_change_password: 0,
      totp_secret: null, totp_enabled: 0, totp_last_step: null, password_changed_at: at, last_login_at: null, created_at: at, updated_at: at,
    }).execute();
  });
  afterAll(async () => tdb?.cleanup());

  it('a user target (auth.login, 2fa, password change) is listed with the username', async () => {
    await audit.record({ actor: admin, action: 'auth.login', target: { type: 'user', id: 'u-carol' }, outcome: 'failure', details: { reason: 'invalid_credentials' } });
    const [e] = (await audit.list({ limit: 1, action: 'auth.login' })).items;
    expect(e!.target).toEqual({ type: 'user', id: 'u-carol', name: 'carol' });
  });

  it('a target named once is named in every later entry (vps.shutdown after vps.create), newest name first', async () => {
    await audit.record({ actor: admin, action: 'vps.create', target: { type: 'vps', id: 'v1' }, details: { hostname: 'web-1', job: 'j1' } });
    await audit.record({ actor: admin, action: 'vps.shutdown', target: { type: 'vps', id: 'v1' }, details: { job: 'j2' } });
    await audit.record({ actor: admin, action: 'netboot.version.delete', target: { type: 'netboot-image', id: 'i1' }, details: { versionId: 'x', number: 2 } });
    const items = (await audit.list({ limit: 10, targetType: 'vps' })).items;
    expect(items.map((i) => i.target?.name)).toEqual(['web-1', 'web-1']);
    // nobody ever named image i1: it keeps its id (the console shortens it), nothing is made up
    const [img] = (await audit.list({ limit: 1, targetType: 'netboot-image' })).items;
    expect(img!.target).toEqual({ type: 'netboot-image', id: 'i1' });
  });

  it('maps job lock keys to audit targets', () => {
    expect(resourceTargets('container:abc')).toEqual([{ type: 'container', id: 'abc' }]);
    expect(resourceTargets('netboot:machine:m1')).toEqual([{ type: 'netboot-machine', id: 'm1' }, { type: 'netboot', id: 'machine:m1' }]);
    expect(resourceTargets('site:local:shop.example.com')).toContainEqual({ type: 'site', id: 'local:shop.example.com' });
    expect(resourceTargets(null)).toEqual([]);
  });
});
