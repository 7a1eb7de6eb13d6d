import { corePermissions } from './core-permissions.js';
import { declarationsOf, permissionDef, type Actor, type DeclaredPermission, type Permission } from './permissions.js';
import type { Role } from './roles.js';

/**
 * The permissions one app instance has: the core's and each enabled module's `permissions` field,
 * registered by buildApp (never as an import side effect). The auth hook checks routes against it
 * (a route naming a permission this app did not register is a start-up error), and `/roles`,
 * `/permissions`, `/auth/me` and `/modules` list from it, so a disabled module's permissions are
 * nowhere to be seen. What a permission means (roles, ownedOnly) is its declaration
 * (`definePermissions`), which `authorize` reads.
 */
export class PermissionRegistry {
  private readonly defs = new Map<string, DeclaredPermission>();
  private readonly byRole = new Map<Role, Permission[]>();

  /** Registers the permissions a module declared (the object `definePermissions(moduleId, …)` returned). */
  register(moduleId: string, permissions: Record<string, Permission>): this {
    const declared = declarationsOf(permissions) ?? Object.values(permissions).map((name) => {
      const d = permissionDef(name);
      if (!d) throw new Error(`module ${moduleId}: permission ${name} was not declared with definePermissions`);
      return d;
    });
    for (const d of declared) {
      if (d.module !== moduleId) throw new Error(`module ${moduleId}: permission ${d.name} belongs to module ${d.module}`);
      const had = this.defs.get(d.name);
      if (had && had !== d) throw new Error(`permission ${d.name} is registered twice`);
      this.defs.set(d.name, d);
    }
    this.byRole.clear();
    return this;
  }

  has(permission: string): boolean {
    return this.defs.has(permission);
  }

  get(permission: string): DeclaredPermission | undefined {
    return this.defs.get(permission);
  }

  /** Every registered permission, in registration order (core first). */
  all(): DeclaredPermission[] {
    return [...this.defs.values()];
  }

  /** Whether the role holds this permission in this app (false for one the app did not register). */
  roleHas(role: Role, permission: string): boolean {
    const d = this.defs.get(permission);
    return !!d && (role === 'admin' || d.roles.includes(role));
  }

  can(actor: Actor, permission: string): boolean {
    return this.roleHas(actor.role, permission);
  }

  /** The names of the permissions a role holds here (cached; `/auth/me` asks on every call). */
  permissionsOf(role: Role): Permission[] {
    let names = this.byRole.get(role);
    if (!names) this.byRole.set(role, (names = this.all().filter((d) => this.roleHas(role, d.name)).map((d) => d.name)));
    return names;
  }

  /** Throws when `permission` is not registered in this app (a route or a module naming a foreign one). */
  assertRegistered(permission: string, where: string): void {
    if (!this.defs.has(permission)) {
      throw new Error(`${where} names the permission ${permission}, which no enabled module registered (known: ${this.all().map((d) => d.name).join(', ')})`);
    }
  }
}

/** The registry of an app: the core permissions, then each module's, in the order given. */
export function buildPermissionRegistry(modules: readonly { id: string; permissions: Record<string, Permission> }[]): PermissionRegistry {
  const registry = new PermissionRegistry().register('core', corePermissions);
  for (const m of modules) registry.register(m.id, m.permissions);
  for (const d of registry.all()) if (d.othersNeed) registry.assertRegistered(d.othersNeed, `permission ${d.name} (othersNeed)`);
  return registry;
}
