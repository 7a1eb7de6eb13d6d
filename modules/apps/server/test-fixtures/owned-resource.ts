import type { OwnedResourceFixture } from '../../../../server/src/testing/owned-resource.js';
import { AppsRepo } from '../apps.repo.js';

/**
 * A deployed app on the local Dokku host owned by `owner`, written through the repo (no Dokku call:
 * every route loads the app from the inventory and refuses another user before reaching Dokku).
 */
export const ownedResource: OwnedResourceFixture = async (t, owner) => {
  const repo = new AppsRepo(t.services.database.db as never);
  const name = `owned-${owner.user.id.slice(-8).toLowerCase()}`;
  const hostId = 'local';
  if (!(await repo.insertPending(hostId, name, owner.user.id))) throw new Error(`could not insert app ${name}`);
  await repo.upsertObserved(hostId, name, {
    status: 'running', deploy_source: 'docker-image', image: 'nginx:1.27', git_commit: null, git_remote: null, processes: 1,
    domains: [`${name}.example.com`], scale: { web: 1 }, url: `http://${name}.example.com`,
  });
  await repo.addRelease({
    host_id: hostId, app_name: name, source_kind: 'image', image: 'nginx:1.27', repo: null, ref: null, git_commit: null, rollback_of: null,
    actor_id: owner.user.id, actor_name: owner.user.username, config_digest: null, duration_ms: 1000, outcome: 'succeeded', job_id: `fixture-${name}`, build_id: null,
  });
  return {
    urlPrefix: '/api/v1/apps/:name',
    params: { name, number: '1', action: 'restart', buildId: '0000000000aaaa' },
    query: { host: hostId },
    bodies: {
      'DELETE /api/v1/apps/:name': { confirm: name },
      'POST /api/v1/apps/:name/deploys': { image: 'nginx:1.27' },
      'PATCH /api/v1/apps/:name/config': { set: { FOO: 'bar' } },
      'PATCH /api/v1/apps/:name/domains': { add: [`${name}-2.example.com`] },
      'PUT /api/v1/apps/:name/letsencrypt': { enabled: true },
      'PATCH /api/v1/apps/:name/checks': { disable: ['web'] },
      'PATCH /api/v1/apps/:name/ports': { add: ['http:8080:5000'] },
      'PUT /api/v1/apps/:name/scale': { processes: { web: 2 } },
    },
    snapshot: async () => ({ app: await repo.get(hostId, name), releases: await repo.releases(hostId, name), secrets: await repo.secrets(hostId, name) }),
  };
};
