import { definePermissions, READERS } from '../../../server/src/sdk.js';

/** Who may do what with Dokku apps; the `user` role only acts on apps it created. */
export const appsPermissions = definePermissions('apps', {
  read: { description: 'List apps; see their deploys, releases, config (secrets masked), domains, checks, ports and scale', roles: READERS, ownedOnly: true },
  deploy: { description: 'Create apps, deploy from an image or git, roll back to a release, start/stop/restart/rebuild, scale', roles: ['operator', 'user'], ownedOnly: true },
  configure: { description: 'Change env vars, domains, Let\'s Encrypt, zero-downtime checks and ports', roles: ['operator', 'user'], ownedOnly: true },
  destroy: { description: 'Destroy apps (the name must be typed again)', roles: ['operator', 'user'], ownedOnly: true },
  refresh: { description: 'Read every app and certificate from the Dokku hosts now (the background refresh and certificate watch, at once)', roles: ['operator', 'support'] },
  assign: { description: 'Give an ownerless app (one found on a Dokku host, not created in the panel) its owner', roles: ['operator'] },
});
