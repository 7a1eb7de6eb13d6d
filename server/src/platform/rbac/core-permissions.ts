import { definePermissions } from './permissions.js';
import { READERS } from './roles.js';

/** Permissions of the platform core (users, audit, jobs, hosts, settings). */
export const corePermissions = definePermissions('core', {
  'users.read': { description: 'List and view users', roles: ['billing'] },
  'users.manage': { description: 'Create, edit, suspend users and reset their password or 2FA', roles: ['billing'] },
  'users.delete': { description: 'Delete users', roles: [] },
  'audit.read': { description: 'Read the audit log', roles: ['operator', 'support'] },
  'jobs.read': { description: 'See jobs, their state and steps (the user role: its own)', roles: READERS, ownedOnly: true },
  'jobs.logs': { description: 'Read a job\'s log (the user role: its own jobs; another user\'s or the system\'s needs core.jobs.logs.others)', roles: READERS, ownedOnly: true, othersNeed: 'core.jobs.logs.others' },
  'jobs.logs.others': { description: 'Read the logs of jobs started by someone else or by the system (everyone reads their own jobs\' logs)', roles: ['operator'] },
  'jobs.cancel': { description: 'Cancel jobs (the user role: its own)', roles: ['operator', 'user'], ownedOnly: true },
  'jobs.selftest': { description: 'Run the system self-test job', roles: [] },
  'hosts.read': { description: 'List hosts and their capabilities', roles: READERS },
  'hosts.manage': { description: 'Add, change and remove hosts', roles: [] },
  'settings.manage': { description: 'Change panel-wide settings such as the 2FA requirement', roles: [] },
  'events.read': { description: 'Receive live resource events', roles: READERS },
  'cluster.read': { description: 'See the panel replicas: addresses, versions, heartbeats, leases (GET /api/v1/cluster)', roles: [] },
});
