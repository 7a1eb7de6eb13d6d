import { definePermissions } from '../../../server/src/sdk.js';

/** Permissions of the server module (admin always has all of them). */
export const serverPermissions = definePermissions('server', {
  'metrics.read': { description: 'See host metrics, alerts and the system overview', roles: ['operator', 'support', 'billing', 'viewer'] },
  'services.read': { description: 'See the allow-listed systemd services of each host', roles: ['operator', 'support', 'viewer'] },
  'services.restart': { description: 'Restart and reload allow-listed services', roles: ['operator', 'support'] },
  'services.manage': { description: 'Start and stop allow-listed services', roles: ['operator'] },
  'logs.read': { description: 'Read and follow the allow-listed server logs', roles: ['operator', 'support'] },
  'netdata.read': { description: 'Read a host\'s Netdata charts through the panel', roles: ['operator', 'support', 'viewer'] },
});
