import { definePermissions, READERS } from '../../../server/src/sdk.js';

/** Who may do what with sites; the `user` role only acts on sites it created. */
export const sitesPermissions = definePermissions('sites', {
  read: { description: 'List sites, see their details and certificate alerts', roles: READERS, ownedOnly: true },
  create: { description: 'Create WordPress, PHP, HTML and proxy sites', roles: ['operator', 'user'], ownedOnly: true },
  update: { description: 'Change a site\'s PHP version, cache, SSL, HSTS; enable or disable it', roles: ['operator', 'user'], ownedOnly: true },
  delete: { description: 'Delete sites (optionally keeping database or files)', roles: ['operator', 'user'], ownedOnly: true },
  logs: { description: 'Read and follow a site\'s access and error logs', roles: ['operator', 'support', 'user'], ownedOnly: true },
  refresh: { description: 'Refresh the site inventory and certificate check now', roles: ['operator'] },
});
