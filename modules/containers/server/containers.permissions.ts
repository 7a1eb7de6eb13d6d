import { definePermissions, READERS } from '../../../server/src/sdk.js';

export const containersPermissions = definePermissions('containers', {
  read: { description: 'List services and their state, cold-start history and logs (the user role: its own)', roles: READERS, ownedOnly: true },
  create: { description: 'Create container services', roles: ['operator', 'user'] },
  update: { description: "Change a service's definition: image, command, env, volumes, ports, hostnames, limits (the user role: its own)", roles: ['operator', 'user'], ownedOnly: true },
  power: { description: 'Wake a service or put it to sleep (the user role: its own); no change to its definition', roles: ['operator', 'support', 'user'], ownedOnly: true },
  delete: { description: 'Delete services and their containers (the user role: its own)', roles: ['operator', 'user'], ownedOnly: true },
  'docker.read': { description: 'List every container and image on a host, inspect, logs, stats', roles: ['operator', 'support', 'viewer'] },
  'docker.manage': { description: 'Start, stop and restart any container on a host', roles: ['operator'] },
});
