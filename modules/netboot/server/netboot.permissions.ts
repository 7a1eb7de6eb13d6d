import { definePermissions } from '../../../server/src/sdk.js';
/**
 * Netboot is staff-only: a LAN's boot server, its images and the machines that boot from it are
 * the site's own infrastructure, not a tenant resource, so the `user` role gets none of these.
 */
export const netbootPermissions = definePermissions('netboot', {
  read: { description: 'List machines (live status, boot history), images and versions, sessions and the boot server settings (tokens redacted)', roles: ['operator', 'support', 'viewer'] },
  operate: { description: "Start and stop machines' boot sessions; commit or discard their writebacks", roles: ['operator'] },
  manage: { description: 'Upload and delete images and versions; register, change, import and delete machines (sees their boot tokens); change the boot server settings', roles: ['operator'] },
});
