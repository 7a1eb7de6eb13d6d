import type { OwnedResourceFixture } from '../../../../server/src/testing/owned-resource.js';
import { SitesRepo } from '../sites.repo.js';

/** A ready site on the local host owned by `owner`, written through the repo (no WordOps needed). */
export const ownedResource: OwnedResourceFixture = async (t, owner) => {
  const repo = new SitesRepo(t.services.database.db as never);
  const domain = `owned-${owner.user.id.slice(-8)}.example.com`;
  if (!(await repo.insertPending({ host_id: 'local', domain, site_type: 'wp', php_version: '8.2', cache_type: 'basic', owner_id: owner.user.id }))) throw new Error(`could not insert ${domain}`);
  await repo.markReady((await repo.get('local', domain))!.id);
  return {
    urlPrefix: '/api/v1/sites/:domain',
    params: { domain },
    query: { host: 'local' },
    bodies: { 'DELETE /api/v1/sites/:domain': { host: 'local', confirm: domain }, 'PUT /api/v1/sites/:domain': { host: 'local', php: '8.3' } },
    snapshot: async () => repo.get('local', domain),
  };
};
