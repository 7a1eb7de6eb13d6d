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
  /**
   * Acting with this permission on a resource someone else owns also needs this permission (403
   * without it): e.g. reading a job's log is everyone's for their own jobs, `core.jobs.logs.others`
   * for the rest. Checked by `authorize` when it is given the resource.
   */
  othersNeed?: string;
}

export type DeclaredPermission = PermissionDef & { name: Permission; module: string };

/**
 * Every permission declared so far, by name: a catalogue of declarations (what each permission
 * means and who holds it), not the app's registry. Which permissions an app has is decided by
 * `PermissionRegistry` (rbac/registry.ts), built in buildApp from the core and the enabled modules.
 */
const catalogue = new Map<string, DeclaredPermission>();
/** The declarations behind each object `definePermissions` returned (what the registry reads). */
const declarations = new WeakMap<object, DeclaredPermission[]>();

/**
 * Declares a module's permissions as data and returns their names, e.g.
 * `sitesPermissions.delete === 'sites.delete'`. A pure declaration: nothing is granted until an app
 * registers the module's `permissions` in its PermissionRegistry.
 */
export function definePermissions<const T extends Record<string, PermissionDef>>(
  moduleId: string,
  defs: T,
): { readonly [K in keyof T]: Permission } {
  const out: Record<string, Permission> = {};
  const declared: DeclaredPermission[] = [];
  for (const [key, def] of Object.entries(defs)) {
    const name = `${moduleId}.${key}` as Permission;
    for (const r of def.roles) if (!ROLES.includes(r)) throw new Error(`unknown role ${r} in ${name}`);
    if (Array.isArray(def.ownedOnly)) for (const r of def.ownedOnly) if (!ROLES.includes(r)) throw new Error(`unknown role ${r} in ${name}.ownedOnly`);
    const d: DeclaredPermission = { ...def, roles: def.roles.includes('admin') ? def.roles : ['admin', ...def.roles], name, module: moduleId };
    catalogue.set(name, d);
    declared.push(d);
    out[key] = name;
  }
  declarations.set(out, declared);
  return out as { readonly [K in keyof T]: Permission };
}

/** The declarations behind a `definePermissions` result (undefined for a hand-made object). */
export function declarationsOf(permissions: object): readonly DeclaredPermission[] | undefined {
  return declarations.get(permissions);
}

/** Every declared permission (the catalogue; an app lists its own registry instead). */
export function allPermissions(): DeclaredPermission[] {
  return [...catalogue.values()];
}

/** A permission's declaration: its roles, ownedOnly and othersNeed. */
export function permissionDef(p: string): DeclaredPermission | undefined {
  return catalogue.get(p);
}

/** Whether the role holds the permission as declared (admin holds every permission). */
export function roleHas(role: Role, permission: Permission | string): boolean {
  if (role === 'admin') return true;
  const def = catalogue.get(permission);
  return !!def && def.roles.includes(role);
}

export function permissionsOf(role: Role): Permission[] {
  return allPermissions().filter((p) => p.roles.includes(role)).map((p) => p.name);
}

/**
 * A role may be granted (to a user or an API token) only if every permission it has, the granter has
 * too. Compared over every declared permission (also those of modules this app does not enable): a
 * disabled module can only make the ceiling stricter, never let a role look smaller than it is.
 */
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
 * A tenant (the `user` role): sees only what it owns, and never the machine's internals (engine
 * reasons, addresses, schedules). Ownership of one resource is `authorize`'s business (rbac/authorize.ts).
 */
export function isTenant(actor: Actor): boolean {
  return actor.role === 'user';
}
