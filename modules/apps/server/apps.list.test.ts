import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openDatabase, type Database } from '../../../server/src/testing/index.js';
import { appsMigrations } from './apps.migrations.js';
import { AppsRepo, type AppsDb } from './apps.repo.js';
import { ListAppsQuery } from './apps.views.js';

// Issue 16: the apps list is filtered, sorted and paged in SQL. The order and filters are the
// contract the console's table relies on: NULLs first ascending and last descending, ties by
// name then host, owner scope and `ownerless` applied before paging, `total` counting the filter.
describe('apps list in SQL', () => {
  let dir: string;
  let database: Database;
  let repo: AppsRepo;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'slipway-apps-list-'));
    database = openDatabase({ dataDir: dir });
    await migrate(database.db, appsMigrations);
    const db = database.db as unknown as AppsDb;
    const rows = [
      ['a1', 'local', 'alpha', 'u1', 'running', 300], ['a2', 'h2', 'alpha', null, 'stopped', null], ['b1', 'local', 'bravo', 'u2', 'running', 100],
      ['c1', 'local', 'charlie', null, 'not_deployed', null], ['d1', 'h2', 'delta', 'u1', 'stopped', 200], ['e1', 'local', 'echo.app', 'u1', 'running', 100],
    ] as const;
    await db.insertInto('apps_inventory').values(rows.map(([id, host, name, owner, status, at], i) => ({
      id, host_id: host, name, owner_id: owner, state: 'ready' as const, status, deploy_source: '', image: null, git_commit: null, git_remote: null, domains: '[]', url: null, scale: '{}',
      processes: 0, last_deploy_job_id: null, last_deploy_outcome: null, last_deploy_at: at, refreshed_at: 1, created_at: 1, updated_at: 10 - i,
    }))).execute();
    repo = new AppsRepo(db);
  });
  afterAll(async () => {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const ids = async (q: Record<string, string>, ownerId?: string) => {
    const r = await repo.list({ ...ListAppsQuery.parse(q), ownerId });
    return { ids: r.items.map((x) => x.id), total: r.total };
  };

  it('sorts by name (then host) both ways, and by a column with NULLs first ascending, last descending', async () => {
    expect(await ids({})).toEqual({ ids: ['a2', 'a1', 'b1', 'c1', 'd1', 'e1'], total: 6 }); // alpha on h2 before alpha on local
    expect((await ids({ order: 'desc' })).ids).toEqual(['e1', 'd1', 'c1', 'b1', 'a1', 'a2']);
    expect((await ids({ sort: 'lastDeployAt' })).ids).toEqual(['a2', 'c1', 'b1', 'e1', 'd1', 'a1']);
    expect((await ids({ sort: 'lastDeployAt', order: 'desc' })).ids).toEqual(['a1', 'd1', 'b1', 'e1', 'a2', 'c1']);
    expect((await ids({ sort: 'status' })).ids).toEqual(['c1', 'a1', 'b1', 'e1', 'a2', 'd1']);
    expect((await ids({ sort: 'updatedAt' })).ids).toEqual(['e1', 'd1', 'c1', 'b1', 'a2', 'a1']);
  });

  it('filters before paging, and the total counts the filter', async () => {
    expect(await ids({ limit: '2', offset: '1' })).toEqual({ ids: ['a1', 'b1'], total: 6 });
    expect(await ids({ host: 'h2' })).toEqual({ ids: ['a2', 'd1'], total: 2 });
    expect(await ids({ status: 'running', limit: '1', offset: '1' })).toEqual({ ids: ['b1'], total: 3 });
    expect(await ids({ search: 'ha' })).toEqual({ ids: ['a2', 'a1', 'c1'], total: 3 });
    expect(await ids({ search: '.' })).toEqual({ ids: ['e1'], total: 1 });
    expect(await ids({ ownerless: 'true' })).toEqual({ ids: ['a2', 'c1'], total: 2 });
    // A `user`'s scope: its own apps only, and never the ownerless ones.
    expect(await ids({}, 'u1')).toEqual({ ids: ['a1', 'd1', 'e1'], total: 3 });
    expect(await ids({ ownerless: 'true' }, 'u1')).toEqual({ ids: [], total: 0 });
  });
});
