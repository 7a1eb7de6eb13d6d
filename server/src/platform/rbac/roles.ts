/** The built-in roles. What each may do is data: see each module's permissions. */
export const ROLES = ['admin', 'operator', 'support', 'billing', 'viewer', 'user'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_DESCRIPTIONS: Record<Role, string> = {
  admin: 'Everything, including users, roles and panel settings.',
  operator: 'Operates every resource (create, change, delete); no user management.',
  support: 'Reads everything; may restart and reboot; no destructive changes.',
  billing: 'Manages users, plans and expiry; read-only on resources.',
  viewer: 'Read-only access to resources.',
  user: 'Only the resources they own, within their quotas.',
};

/** Role groups used when declaring permissions (admin is always included). */
export const ALL_ROLES: readonly Role[] = ROLES;
export const READERS: readonly Role[] = ['operator', 'support', 'billing', 'viewer', 'user'];
export const OPERATORS: readonly Role[] = ['operator', 'user'];
export const RESTARTERS: readonly Role[] = ['operator', 'support', 'user'];

/**
 * Roles a user manager may give (or manage) beyond those within their own permissions: billing
 * creates and looks after customer accounts (`user`) and read-only accounts.
 */
export const EXTRA_ASSIGNABLE_ROLES: Partial<Record<Role, readonly Role[]>> = {
  billing: ['user', 'viewer'],
};
