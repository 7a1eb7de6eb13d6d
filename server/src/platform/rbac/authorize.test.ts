import { describe, expect, it } from 'vitest';
import { NotFoundError, ForbiddenError } from '../errors.js';
import { authorize, listScope, resource } from './authorize.js';
import { definePermissions, type Actor } from './permissions.js';

const P = definePermissions('authztest', {
  read: { description: 'read', roles: ['operator', 'support', 'user'], ownedOnly: true },
  logs: { description: 'logs', roles: ['operator', 'support', 'user'], ownedOnly: ['user', 'support'] },
  manage: { description: 'manage', roles: ['operator'] },
});
const actor = (role: Actor['role'], userId = `u-${role}`): Actor => ({ kind: 'user', userId, username: role, role });
const row = (ownerId: string | null) => resource('Thing', 't1', { ownerId }, (r) => r.ownerId);

describe('authorize', () => {
  it('refuses a role without the permission with 403, whatever the resource', () => {
    expect(() => authorize(actor('viewer'), P.read)).toThrow(ForbiddenError);
    expect(() => authorize(actor('user'), P.manage, row('u-user'))).toThrow(ForbiddenError);
  });

  it('gives the owner their resource and answers 404 for a foreign or missing one', () => {
    expect(authorize(actor('user'), P.read, row('u-user'))).toEqual({ ownerId: 'u-user' });
    expect(() => authorize(actor('user'), P.read, row('someone-else'))).toThrow(NotFoundError);
    expect(() => authorize(actor('user'), P.read, row(null))).toThrow(NotFoundError);
    expect(() => authorize(actor('user'), P.read, resource('Thing', 't2', undefined, () => null))).toThrow("Thing 't2' not found");
  });

  it('lets staff see every owner unless the permission names their role', () => {
    expect(authorize(actor('support'), P.read, row('someone-else'))).toBeTruthy();
    expect(() => authorize(actor('support'), P.logs, row('someone-else'))).toThrow(NotFoundError);
    expect(authorize(actor('operator'), P.logs, row('someone-else'))).toBeTruthy();
    expect(authorize(actor('admin'), P.logs, row('someone-else'))).toBeTruthy();
  });

  it('scopes lists the same way', () => {
    expect(listScope(actor('user'), P.read)).toBe('u-user');
    expect(listScope(actor('support'), P.read)).toBeUndefined();
    expect(listScope(actor('support'), P.logs)).toBe('u-support');
    expect(listScope({ ...actor('user'), userId: null }, P.read)).toBe('\u0000none');
  });
});

describe('authorize with othersNeed', () => {
  const L = definePermissions('authzlogs', {
    others: { description: 'others', roles: ['operator'] },
    logs: { description: 'logs', roles: ['operator', 'billing', 'user'], ownedOnly: true, othersNeed: 'authzlogs.others' },
  });
  it('lets the owner in, refuses a staff role without the other permission with 403 and a user with 404', () => {
    expect(authorize(actor('billing'), L.logs, row('u-billing'))).toBeTruthy();
    expect(() => authorize(actor('billing'), L.logs, row('someone-else'))).toThrow(ForbiddenError);
    expect(() => authorize(actor('billing'), L.logs, row(null))).toThrow(ForbiddenError); // the system's
    expect(authorize(actor('operator'), L.logs, row('someone-else'))).toBeTruthy();
    expect(() => authorize(actor('user'), L.logs, row('someone-else'))).toThrow(NotFoundError);
    expect(authorize(actor('user'), L.logs, row('u-user'))).toBeTruthy();
  });
});
