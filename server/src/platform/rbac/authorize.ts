import { NotFoundError } from '../errors.js';
import { permissionDef, requirePermission, type Actor, type Permission } from './permissions.js';
import type { Role } from './roles.js';

/**
 * A resource as `authorize` sees it: what it is (for the 404 message), who owns it, and the loaded
 * row (undefined when it does not exist). Build one with `resource(...)`.
 */
export interface ResourceRef<T> {
  kind: string;
  id: string;
  value: T | undefined | null;
  ownerId: string | null;
}

export function resource<T>(kind: string, id: string, value: T | undefined | null, ownerOf: (v: T) => string | null): ResourceRef<T> {
  return { kind, id, value, ownerId: value == null ? null : ownerOf(value) };
}

/** The roles a permission limits to their own resources (`ownedOnly: true` means the `user` role). */
function ownedRoles(permission: Permission | string): readonly Role[] {
  const owned = permissionDef(permission)?.ownedOnly;
  if (!owned) return [];
  return owned === true ? ['user'] : owned;
}

/** Whether the actor is limited to resources it owns for this permission. */
export function ownedOnlyFor(actor: Actor, permission: Permission | string): boolean {
  return actor.role !== 'admin' && ownedRoles(permission).includes(actor.role);
}

/**
 * The owner id a list must be filtered by for this actor and permission, or undefined when the
 * actor sees every owner's resources.
 */
export function listScope(actor: Actor, permission: Permission | string): string | undefined {
  return ownedOnlyFor(actor, permission) ? (actor.userId ?? '\u0000none') : undefined;
}

/** Whether the actor owns the resource (a system actor owns nothing, and sees everything anyway). */
function owns(actor: Actor, res: ResourceRef<unknown>): boolean {
  return actor.userId !== null && res.ownerId === actor.userId;
}

/**
 * The one permission check. Without a resource: the actor's role must have the permission (403).
 * With a resource: it must also exist and, where the permission is owned-only for the actor's role,
 * be the actor's own; a missing or foreign resource answers 404 so its existence is not revealed.
 * A permission with `othersNeed` also needs that permission on a resource someone else owns (403:
 * the actor may know it exists). Returns the loaded resource.
 */
export function authorize(actor: Actor, permission: Permission | string): void;
export function authorize<T>(actor: Actor, permission: Permission | string, res: ResourceRef<T>): T;
export function authorize<T>(actor: Actor, permission: Permission | string, res?: ResourceRef<T>): T | void {
  requirePermission(actor, permission);
  if (!res) return;
  if (res.value == null) throw new NotFoundError(res.kind, res.id);
  if (ownedOnlyFor(actor, permission) && !owns(actor, res)) throw new NotFoundError(res.kind, res.id);
  const others = permissionDef(permission)?.othersNeed;
  if (others && !owns(actor, res)) requirePermission(actor, others);
  return res.value;
}
