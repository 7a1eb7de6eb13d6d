import type { OwnedResourceFixture } from '../../../../server/src/testing/owned-resource.js';
import { ServicesRepo } from '../containers.repo.js';
import { CreateService } from '../containers.schema.js';

/** A sleeping service owned by `owner`, written through the repo (no container is created). */
export const ownedResource: OwnedResourceFixture = async (t, owner) => {
  const repo = new ServicesRepo(t.services.database.db as never);
  const name = `owned-${owner.user.id.slice(-8).toLowerCase()}`;
  const { name: _n, hostId, ...rest } = CreateService.parse({ name, hostId: 'local', hostnames: [`${name}.localhost`], containers: [{ name: 'web', image: 'busybox:1.36' }], http: { port: 80 } });
  const record = await repo.insert({ name, hostId, ownerId: owner.user.id, spec: { ...rest, http: { container: 'web', port: rest.http.port } }, state: 'sleeping' });
  return {
    urlPrefix: '/api/v1/containers/:id',
    params: { id: record.id },
    bodies: {
      'DELETE /api/v1/containers/:id': { confirm: name },
      'PATCH /api/v1/containers/:id': { hostnames: [`${name}-taken.localhost`] },
    },
    snapshot: async () => repo.find(record.id),
  };
};
