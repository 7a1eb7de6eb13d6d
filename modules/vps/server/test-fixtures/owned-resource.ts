import { newId } from '../../../../server/src/testing/index.js';
import type { OwnedResourceFixture } from '../../../../server/src/testing/owned-resource.js';
import { VpsRepo } from '../vps.repo.js';

/**
 * A shut-off VPS on the local host owned by `owner`, with one snapshot, written through the repo
 * (no libvirt domain is defined: every route loads the VPS and refuses another user first).
 */
export const ownedResource: OwnedResourceFixture = async (t, owner) => {
  const repo = new VpsRepo(t.services.database.db as never);
  const hostname = `owned-${owner.user.id.slice(-8).toLowerCase()}`;
  const id = newId();
  const mac = `52:54:00:${id.slice(-6).toLowerCase().replace(/[^0-9a-f]/g, '0').match(/../g)!.join(':')}`;
  const v = await repo.insert({
    id, ownerId: owner.user.id, hostId: 'local', planId: null, imageId: newId(), hostname, dnsName: null, domainName: `slipway-${id}`,
    vcpus: 1, memoryMb: 512, diskGb: 5, network: 'public', networkName: null, mac, address: null, state: 'shut off', lastError: null,
    spec: { sshKeys: [], userData: null, start: false },
  });
  const snapshotId = newId();
  await repo.insertSnapshot({ id: snapshotId, vpsId: v.id, name: 'before-upgrade', comment: 'fixture' });
  return {
    urlPrefix: '/api/v1/vps/:id',
    params: { id: v.id, snapshotId },
    bodies: {
      'DELETE /api/v1/vps/:id': { confirm: hostname },
      'POST /api/v1/vps/:id/snapshots': { comment: 'by another user' },
      'POST /api/v1/vps/:id/resize': { vcpus: 2 },
      'POST /api/v1/vps/:id/rename': { hostname: 'taken-over' },
      'POST /api/v1/vps/:id/reinstall': { imageId: v.imageId, confirm: hostname },
    },
    shared: { 'GET /api/v1/vps/images/:id': 'the image catalogue has no owner: a user sees the public, ready images (vps.read is owned-only for VPSes)' },
    snapshot: async () => ({ vps: await repo.find(v.id), snapshots: await repo.snapshots(v.id), address: await repo.addressOf(v.id) }),
  };
};
