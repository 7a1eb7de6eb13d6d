import { definePermissions, READERS } from '../../../server/src/sdk.js';

export const vpsPermissions = definePermissions('vps', {
  read: { description: 'List VPSes, their state, address, snapshots and expiry; plans and images (the user role: its own VPSes, public plans and images)', roles: READERS, ownedOnly: true },
  create: { description: 'Create VPSes from plans and images (the user role: for itself, within quota)', roles: ['operator', 'user'] },
  operate: { description: 'Power actions, serial and VNC consoles, snapshots (the user role: its own)', roles: ['operator', 'user'], ownedOnly: true },
  delete: { description: 'Delete VPSes with their disks, seed and address (the user role: its own)', roles: ['operator', 'user'], ownedOnly: true },
  'plans.manage': { description: 'Create and change VPS plans', roles: ['billing'] },
  'quotas.manage': { description: "Set users' VPS quotas", roles: ['billing'] },
  'expiry.manage': { description: 'Set, renew and clear VPS expiry', roles: ['billing'] },
  'images.manage': { description: 'Upload and remove VPS images', roles: ['operator'] },
  'hosts.read': { description: 'Host capacity and the domains on a host Slipway does not manage (read-only)', roles: [] },
});
