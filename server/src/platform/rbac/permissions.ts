import { ForbiddenError } from '../errors.js';
import { EXTRA_ASSIGNABLE_ROLES, ROLES, type Role } from './roles.js';

export type Permission = string & { readonly __permission: unique symbol };

export interface PermissionDef {
  description: string;
  /** Roles granted this permission; admin always has every permission. */
  roles: readonly Role[];
  /**
   * Limits roles to the resources they own for this permission (checked by `authorize`): `true`
   * means the `user` role; a list names the roles (e.g. staff who read only their own job logs).
   */
  ownedOnly?: boolean | readonly Role[];
}

const registry = new Map<string, PermissionDef & { name: Permission; module: string }>();

/**
 * Declares a module's permissions as data and returns their names, e.g.
 * `sitesPermissions.delete === 'sites.delete'`.
 */
export function definePermissions<const T extends Record<string, PermissionDef>>(
  moduleId: string,
  defs: T,
): { readonly [K in keyof T]: Permission } {
  const out: Record<string, Permission> = {};
  for (const [key, def] of Object.entries(defs)) {
    const name = `${moduleId}.${key}` as Permission;
    for (const r of def.roles) if (!ROLES.includes(r)) throw new Error(`unknown role ${r} in ${name}`);
    registry.set(name, { ...def, roles: def.roles.includes('admin') ? def.roles : ['admin', ...def.roles], name, module: moduleId });
    out[key] = name;
  }
  return out as { readonly [K in keyof T]: Permission };
}

export function allPermissions() {
  return [...registry.values()];
}

export function permissionDef(p: string) {
  return registry.get(p);
}

export function roleHas(role: Role, permission: Permission | string): boolean {
  if (role === 'admin') return true;
  const def = registry.get(permission);
  return !!def && def.roles.includes(role);
}

export function permissionsOf(role: Role): Permission[] {
  return allPermissions().filter((p) => p.roles.includes(role)).map((p) => p.name);
}

/** A role may be granted (to a user or an API token) only if every permission it has, the granter has too. */
export function roleWithin(candidate: Role, granter: Role): boolean {
  if (granter === 'admin') return true;
  if (candidate === 'admin') return false;
  return permissionsOf(candidate).every((p) => roleHas(granter, p));
}

/** Whether a user manager with role `granter` may give `candidate` to a user (or manage such a user). */
export function canAssignRole(granter: Role, candidate: Role): boolean {
  return roleWithin(candidate, granter) || (EXTRA_ASSIGNABLE_ROLES[granter] ?? []).includes(candidate);
}

export interface Actor {
  kind: 'user' | 'token' | 'system';
  userId: string | null;
  username: string;
  role: Role;
  sessionId?: string;
  tokenId?: string;
  ip?: string;
  userAgent?: string;
  /** Set after an admin reset: only the password change (and sign-out) is allowed. */
  mustChangePassword?: boolean;
}

export const SYSTEM_ACTOR: Actor = { kind: 'system', userId: null, username: 'system', role: 'admin' };

export function can(actor: Actor, permission: Permission | string): boolean {
  return roleHas(actor.role, permission);
}

export function requirePermission(actor: Actor, permission: Permission | string): void {
  if (!can(actor, permission)) {
    throw new ForbiddenError(`Your role (${actor.role}) lacks the permission ${permission}`, 'forbidden', { permission });
  }
}

/**
 * For resources with an owner: the `user` role sees and acts only on its own. Returns the owner id
 * to filter by, or undefined when the actor may see everything.
 */
export function ownerScope(actor: Actor): string | undefined {
  return actor.role === 'user' ? (actor.userId ?? '\u0000none') : undefined;
}
