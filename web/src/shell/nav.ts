import type { ComponentType } from 'react';
import { icons } from '../components/icons';
import { webModules } from '../modules';

export interface NavItem {
  to: string;
  label: string;
  icon: ComponentType<{ size?: number }>;
  /** undefined: every signed-in user */
  permission?: string;
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

/** Sidebar entries: core pages, then one per enabled module; filtered by the user's permissions. */
export function navItems(permissions: readonly string[]): NavItem[] {
  const all: NavItem[] = [
    { to: '/', label: 'Dashboard', icon: icons.dashboard },
    ...webModules.map((m) => ({ to: `/${m.id}`, label: m.title, icon: m.icon, permission: m.navPermission })),
    { to: '/jobs', label: 'Jobs', icon: icons.jobs, permission: corePermissions.jobsRead },
    { to: '/users', label: 'Users & roles', icon: icons.users, permission: corePermissions.usersRead },
    { to: '/audit', label: 'Audit log', icon: icons.audit, permission: corePermissions.auditRead },
    { to: '/account', label: 'My account', icon: icons.account },
  ];
  return all.filter((i) => !i.permission || permissions.includes(i.permission));
}
