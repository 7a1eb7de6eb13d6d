import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modules } from '../../modules.js';
import { createTestApp, type TestApp } from '../../testing/harness.js';

/** The dashboard's module counts come from every module's `ctx.overview.count`, per actor. */
describe('overview counts', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ modules: modules.filter((m) => m.id === 'sites' || m.id === 'server'), env: { SLIPWAY_SITES_REFRESH_INTERVAL_SECONDS: '0', SLIPWAY_SITES_CERT_CHECK_INTERVAL_HOURS: '0' } });
  });
  afterAll(async () => t?.close());

  it('are real: sites and hosts count what the actor may see', async () => {
    const db = t.services.database.db as unknown as { insertInto(t: string): { values(v: object): { execute(): Promise<unknown> } } };
    const admin = await t.signIn('admin');
    const tenant = await t.signIn('user');
    const other = await t.signIn('user');
    const at = Date.now();
    const row = (domain: string, owner: string) => ({ id: `id-${domain}`, host_id: 'local', domain, site_type: 'html', owner_id: owner, created_at: at, updated_at: at, refreshed_at: at });
    await db.insertInto('sites_inventory').values(row('a.example.com', tenant.user.id)).execute();
    await db.insertInto('sites_inventory').values(row('b.example.com', other.user.id)).execute();
    const counts = async (h: { authorization: string }) => {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/system/overview', headers: h });
      expect(res.statusCode, res.body).toBe(200);
      return Object.fromEntries((res.json().modules as { id: string; count: number | null }[]).map((m) => [m.id, m.count]));
    };
    expect(await counts(admin.headers)).toEqual({ sites: 2, hosts: 1 });
    if ((await t.app.inject({ method: 'GET', url: '/api/v1/system/overview', headers: tenant.headers })).statusCode === 200) {
      expect((await counts(tenant.headers)).sites).toBe(1); // its own only
    }
  });
});
