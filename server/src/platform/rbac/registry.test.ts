import { describe, expect, it } from 'vitest';
import { sitesModule } from '../../../../modules/sites/server/index.js';
import { containersPermissions } from '../../../../modules/containers/server/containers.permissions.js';
import { defineModule } from '../module.js';
import { createTestApp } from '../../testing/harness.js';
import { definePermissions } from './permissions.js';
import { buildPermissionRegistry, PermissionRegistry } from './registry.js';

describe('PermissionRegistry', () => {
  const P = definePermissions('regtest', { read: { description: 'read', roles: ['viewer'], ownedOnly: true }, manage: { description: 'manage', roles: [] } });

  it('holds the core and the registered modules only', () => {
    const r = buildPermissionRegistry([{ id: 'regtest', permissions: P }]);
    expect(r.has('core.jobs.read')).toBe(true);
    expect(r.has(P.read)).toBe(true);
    expect(r.has(containersPermissions.read)).toBe(false); // declared (imported) but not registered here
    expect(r.roleHas('viewer', P.read)).toBe(true);
    expect(r.roleHas('viewer', P.manage)).toBe(false);
    expect(r.roleHas('admin', containersPermissions.read)).toBe(false);
    expect(r.permissionsOf('viewer')).toContain(P.read);
    expect(r.permissionsOf('admin')).not.toContain(containersPermissions.read);
  });

  it('refuses a module registering another module\'s permissions or undeclared names', () => {
    expect(() => new PermissionRegistry().register('regtest', containersPermissions)).toThrow(/belongs to module containers/);
    expect(() => new PermissionRegistry().register('regtest', { x: 'regtest.nope' } as never)).toThrow(/not declared/);
  });
});

describe('an app registers its own permissions', () => {
  it('lists only the enabled modules\' permissions in /roles, /permissions and /auth/me', async () => {
    const t = await createTestApp({ modules: [sitesModule], startBackground: false });
    try {
      const admin = await t.signIn('admin');
      const roles = (await t.app.inject({ method: 'GET', url: '/api/v1/roles', headers: admin.headers })).json() as { items: { name: string; permissions: string[] }[] };
      const adminPerms = roles.items.find((r) => r.name === 'admin')!.permissions;
      expect(adminPerms).toContain('sites.read');
      expect(adminPerms).toContain('core.jobs.read');
      expect(adminPerms.filter((p) => p.startsWith('containers.') || p.startsWith('regtest.'))).toEqual([]);
      const perms = (await t.app.inject({ method: 'GET', url: '/api/v1/permissions', headers: admin.headers })).json() as { items: { name: string }[] };
      expect(perms.items.map((p) => p.name).sort()).toEqual([...adminPerms].sort());
      const me = ((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: admin.headers })).json() as { user: { permissions: string[] } }).user;
      expect(me.permissions.sort()).toEqual([...adminPerms].sort());
    } finally {
      await t.close();
    }
  }, 60_000);

  it('refuses to start when a route names a permission this app did not register', async () => {
    const rogue = defineModule({
      id: 'rogue', title: 'Rogue', permissions: {},
      register(ctx) {
        ctx.http.get('/rogue', { config: { permission: containersPermissions.read } }, async () => ({ ok: true }));
      },
    });
    await expect(createTestApp({ modules: [rogue], startBackground: false })).rejects.toThrow(/route GET \/api\/v1\/rogue names the permission containers\.read, which no enabled module registered/);
  }, 60_000);

  it('refuses a navPermission that is not registered', async () => {
    const nav = defineModule({ id: 'navless', title: 'Navless', permissions: {}, navPermission: containersPermissions.read, register() {} });
    await expect(createTestApp({ modules: [nav], startBackground: false })).rejects.toThrow(/module navless \(navPermission\)/);
  }, 60_000);
});
