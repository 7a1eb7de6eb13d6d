import type { ComponentType } from 'react';
import { icons } from '../components/icons';
import { webModules } from '../modules';
import type { ModuleStatus } from '../platform/module-status';

export interface NavItem {
  to: string;
  label: string;
  icon: ComponentType<{ size?: number }>;
  /** undefined: every signed-in user */
  permission?: string;
  /** A module's entry: its status (a dot when it is not ready). */
  status?: ModuleStatus['status'];
}

export const corePermissions = {
  usersRead: 'core.users.read',
  usersManage: 'core.users.manage',
  usersDelete: 'core.users.delete',
  auditRead: 'core.audit.read',
  jobsRead: 'core.jobs.read',
  jobsCancel: 'core.jobs.cancel',
  jobsSelftest: 'core.jobs.selftest',
  hostsRead: 'core.hosts.read',
  eventsRead: 'core.events.read',
} as const;

/**
 * Sidebar entries: core pages, then one per module the server lists as enabled and visible to this
 * user (GET /api/v1/modules: title, navPermission), in the server's order; the web half only adds
 * the icon. Filtered by the user's permissions.
 */
export function navItems(permissions: readonly string[], modules: readonly ModuleStatus[] = []): NavItem[] {
  const byId = new Map(webModules.map((m) => [m.id, m]));
  const all: NavItem[] = [
    { to: '/', label: 'Dashboard', icon: icons.dashboard },
    ...modules.filter((m) => m.visible && byId.has(m.id)).map((m) => ({ to: `/${m.id}`, label: m.title, icon: byId.get(m.id)!.icon, status: m.status })),
    { to: '/jobs', label: 'Jobs', icon: icons.jobs, permission: corePermissions.jobsRead },
    { to: '/users', label: 'Users & roles', icon: icons.users, permission: corePermissions.usersRead },
    { to: '/audit', label: 'Audit log', icon: icons.audit, permission: corePermissions.auditRead },
    { to: '/modules', label: 'Modules', icon: icons.cpu },
    { to: '/account', label: 'My account', icon: icons.account },
  ];
  return all.filter((i) => !i.permission || permissions.includes(i.permission));
}
