import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../testing/harness.js';
import { SYSTEM_ACTOR } from '../rbac/permissions.js';
import { DAY_MS, LifecyclePolicies } from './lifecycle.service.js';

/** The generic expiry policy on a simulated clock, with a recording handler (any module's resource). */
describe('lifecycle policies', () => {
  let t: TestApp;
  const clock = { now: 1_800_000_000_000 };
  const calls: string[] = [];
  let fail = false;
  let p: LifecyclePolicies;
  beforeAll(async () => {
    t = await createTestApp();
    p = new LifecyclePolicies({
      db: t.services.database.db, audit: t.services.audit, events: t.services.events, module: 'demo', resourceType: 'demo', clock: () => clock.now,
      handlers: {
        expire: async (id, a) => {
          if (fail) throw new Error('host down');
          calls.push(`expire:${id}:${a}`);
        },
        remove: async (id) => void calls.push(`remove:${id}`),
        restore: async (id, a) => void calls.push(`restore:${id}:${a}`),
      },
    });
  });
  afterAll(async () => t?.close());

  it('notifies N days before, expires with the handler, retries a failed handler, deletes after grace; audited as system', async () => {
    const actor = { ...SYSTEM_ACTOR, username: 'billing-bob', kind: 'user' as const, userId: 'u1', role: 'billing' as const };
    await p.set(actor, 'r1', { expiresAt: clock.now + 5 * DAY_MS, notifyDays: 2, graceDays: 1, onExpiry: 'suspend', ownerId: 'o1' });
    expect(await p.sweep()).toEqual({ notified: [], expired: [], deleted: [] });
    clock.now += 3 * DAY_MS;
    expect((await p.sweep()).notified).toEqual(['r1']);
    expect((await p.sweep()).notified).toEqual([]); // once
    clock.now += 2 * DAY_MS;
    fail = true;
    expect((await p.sweep()).expired).toEqual([]);
    expect((await p.get('r1'))!.lastError).toBe('host down');
    fail = false;
    expect((await p.sweep()).expired).toEqual(['r1']);
    expect(calls).toEqual(['expire:r1:suspend']);
    // renew restores; expiry again; then deletion after the grace period
    await p.renew(actor, 'r1', clock.now + DAY_MS);
    expect(calls.at(-1)).toBe('restore:r1:suspend');
    await expect(p.renew(actor, 'r1', clock.now - 1)).rejects.toThrow(/future/);
    clock.now += DAY_MS;
    expect((await p.sweep()).expired).toEqual(['r1']);
    clock.now += DAY_MS - 1;
    expect((await p.sweep()).deleted).toEqual([]);
    clock.now += 1;
    expect((await p.sweep()).deleted).toEqual(['r1']);
    expect(await p.get('r1')).toBeNull();
    const rows = await t.services.database.db.selectFrom('audit_log').select(['action', 'actor_name', 'outcome']).where('target_id', '=', 'r1').orderBy('seq').execute();
    expect(rows.map((r) => `${r.action}:${r.actor_name}:${r.outcome}`)).toEqual([
      'lifecycle.set:billing-bob:success', 'lifecycle.notify:system:success', 'lifecycle.expire:system:failure', 'lifecycle.expire:system:success',
      'lifecycle.renew:billing-bob:success', 'lifecycle.expire:system:success', 'lifecycle.delete:system:success',
    ]);
  });

  it('refuses bad input', async () => {
    await expect(p.set(SYSTEM_ACTOR, 'r2', { expiresAt: -1 })).rejects.toThrow();
    await expect(p.set(SYSTEM_ACTOR, 'r2', { expiresAt: clock.now + 1, onExpiry: 'explode' as never })).rejects.toThrow();
    await expect(p.set(SYSTEM_ACTOR, 'r2', { expiresAt: clock.now + 1, graceDays: 9999 })).rejects.toThrow();
    expect(await p.get('r2')).toBeNull();
  });
});
