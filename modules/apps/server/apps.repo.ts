import { sql, type Kysely } from 'kysely';
import { type CoreTables, newId } from '../../../server/src/sdk.js';
import type { AppsCertificatesTable, AppsDeploysTable, AppsInventoryTable, AppsReleasesTable, AppsTables } from './apps.migrations.js';
import type { AppViewT, ListAppsFilters, ReleaseViewT } from './apps.views.js';

export type AppsDb = Kysely<CoreTables & AppsTables>;

const json = <T>(s: string | null | undefined, fallback: T): T => {
  if (!s) return fallback;
  try {
    return JSON.parse(s) as T;
  } catch {
    return fallback;
  }
};
const num = (v: number | string | null | undefined): number | null => (v === null || v === undefined ? null : Number(v));

const views = new WeakMap<AppsInventoryTable, AppViewT>();
/** The API view of a row (made once per row object). */
export function toAppView(r: AppsInventoryTable): AppViewT {
  let v = views.get(r);
  if (!v) views.set(r, (v = makeAppView(r)));
  return v;
}

function makeAppView(r: AppsInventoryTable): AppViewT {
  return {
    id: r.id,
    host: r.host_id,
    name: r.name,
    ownerId: r.owner_id,
    state: r.state,
    status: r.status,
    deploySource: r.deploy_source,
    image: r.image,
    gitCommit: r.git_commit,
    gitRemote: r.git_remote,
    domains: json<string[]>(r.domains, []),
    url: r.url,
    scale: json<Record<string, number>>(r.scale, {}),
    processes: Number(r.processes),
    lastDeploy: r.last_deploy_job_id ? { jobId: r.last_deploy_job_id, outcome: r.last_deploy_outcome, at: num(r.last_deploy_at) } : null,
    refreshedAt: Number(r.refreshed_at),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export function toReleaseView(r: AppsReleasesTable, current: number | null): ReleaseViewT {
  return {
    number: Number(r.number),
    source: r.source_kind,
    image: r.image,
    repo: r.repo,
    ref: r.ref,
    commit: r.git_commit,
    rollbackOf: num(r.rollback_of),
    actor: { id: r.actor_id, name: r.actor_name },
    configDigest: r.config_digest,
    durationMs: num(r.duration_ms),
    outcome: r.outcome,
    jobId: r.job_id,
    buildId: r.build_id,
    createdAt: Number(r.created_at),
    current: current !== null && Number(r.number) === current,
  };
}

const SORT = { name: 'name', status: 'status', lastDeployAt: 'last_deploy_at', updatedAt: 'updated_at' } as const;

/** What a refresh learned about one app (everything but ownership). */
export type ObservedApp = Pick<AppsInventoryTable, 'status' | 'deploy_source' | 'image' | 'git_commit' | 'git_remote' | 'processes'> & {
  domains: string[];
  scale: Record<string, number>;
  url: string | null;
};

export class AppsRepo {
  constructor(private readonly db: AppsDb) {}

  // ---- inventory ----

  /**
   * One page and the total, filtered, sorted and paged in SQL (issue 16; like the sites and VPS
   * lists): only the page's rows are read and serialised, and every process sees the same rows
   * (no snapshot). Ascending sorts put NULLs first and descending last, ties by name then host,
   * on both databases (PostgreSQL's defaults are the opposite, hence the explicit NULLS).
   */
  async list(f: ListAppsFilters & { ownerId?: string }): Promise<{ items: AppsInventoryTable[]; total: number }> {
    let q = this.db.selectFrom('apps_inventory');
    if (f.host) q = q.where('host_id', '=', f.host);
    if (f.status) q = q.where('status', '=', f.status);
    if (f.ownerId !== undefined) q = q.where('owner_id', '=', f.ownerId);
    if (f.ownerless) q = q.where('owner_id', 'is', null);
    // Names are [a-z0-9.-] (and so is the search): escaped anyway, so it is matched literally.
    if (f.search) q = q.where(sql<boolean>`name like ${`%${f.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`} escape '\\'`);
    const col = SORT[f.sort];
    let ordered = q.selectAll();
    if (col === 'name') ordered = ordered.orderBy('name', f.order).orderBy('host_id', f.order);
    else ordered = ordered.orderBy(col, (o) => (f.order === 'asc' ? o.asc().nullsFirst() : o.desc().nullsLast())).orderBy('name').orderBy('host_id');
    const [totalRow, items] = await Promise.all([
      q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
      ordered.limit(f.limit).offset(f.offset).execute(),
    ]);
    return { items, total: Number(totalRow?.n ?? 0) };
  }

  get(hostId: string, name: string): Promise<AppsInventoryTable | undefined> {
    return this.db.selectFrom('apps_inventory').selectAll().where('host_id', '=', hostId).where('name', '=', name).executeTakeFirst();
  }

  /** The app of that name on any host (names are what the API addresses). */
  async byName(name: string, hostId?: string): Promise<AppsInventoryTable | undefined> {
    let q = this.db.selectFrom('apps_inventory').selectAll().where('name', '=', name);
    if (hostId) q = q.where('host_id', '=', hostId);
    return q.orderBy('host_id').executeTakeFirst();
  }

  async namesOnHost(hostId: string): Promise<AppsInventoryTable[]> {
    return this.db.selectFrom('apps_inventory').selectAll().where('host_id', '=', hostId).execute();
  }

  async lastRefresh(): Promise<number | null> {
    const r = await this.db.selectFrom('apps_inventory').select((eb) => eb.fn.max('refreshed_at').as('at')).executeTakeFirst();
    return num(r?.at as number | null | undefined);
  }

  /** Records the intended owner before `apps:create` runs; false when the name is already there. */
  async insertPending(hostId: string, name: string, ownerId: string | null): Promise<AppsInventoryTable | null> {
    const at = Date.now();
    const row: AppsInventoryTable = {
      id: newId(), host_id: hostId, name, owner_id: ownerId, state: 'pending', status: 'not_deployed', deploy_source: '', image: null, git_commit: null,
      git_remote: null, domains: '[]', url: null, scale: '{}', processes: 0, last_deploy_job_id: null, last_deploy_outcome: null, last_deploy_at: null,
      refreshed_at: at, created_at: at, updated_at: at,
    };
    try {
      await this.db.insertInto('apps_inventory').values(row).execute();
      return row;
    } catch {
      // the unique (host_id, name) constraint decides between two concurrent creates
      return null;
    }
  }

  /** A failed create: the pending row goes (only the one this create wrote). */
  async removePending(id: string): Promise<void> {
    await this.db.deleteFrom('apps_inventory').where('id', '=', id).where('state', '=', 'pending').execute();
  }

  /** Upserts what Dokku reports. A new row is ownerless; an existing row keeps its owner; pending becomes ready. */
  async upsertObserved(hostId: string, name: string, o: ObservedApp): Promise<AppsInventoryTable> {
    const at = Date.now();
    const fields = {
      status: o.status, deploy_source: o.deploy_source, image: o.image, git_commit: o.git_commit, git_remote: o.git_remote, processes: o.processes,
      domains: JSON.stringify(o.domains), scale: JSON.stringify(o.scale), url: o.url, refreshed_at: at,
    };
    const existing = await this.get(hostId, name);
    if (existing) {
      await this.db.updateTable('apps_inventory').set({ ...fields, state: 'ready', updated_at: at, url: o.url ?? existing.url }).where('id', '=', existing.id).execute();
    } else {
      await this.db.insertInto('apps_inventory').values({
        id: newId(), host_id: hostId, name, owner_id: null, state: 'ready', last_deploy_job_id: null, last_deploy_outcome: null, last_deploy_at: null,
        created_at: at, updated_at: at, ...fields,
      }).execute().catch(() => undefined); // a concurrent refresh inserted it
    }
    return (await this.get(hostId, name))!;
  }

  async setLastDeploy(hostId: string, name: string, d: { jobId: string; outcome: string | null; at: number }): Promise<void> {
    await this.db.updateTable('apps_inventory').set({ last_deploy_job_id: d.jobId, last_deploy_outcome: d.outcome, last_deploy_at: d.at, updated_at: Date.now() })
      .where('host_id', '=', hostId).where('name', '=', name).execute();
  }

  /**
   * Gives an ownerless app (found on the host) its owner; only while it has none, so two
   * assignments racing cannot both win. Returns whether this call assigned it.
   */
  async assignOwner(id: string, ownerId: string): Promise<boolean> {
    const r = await this.db.updateTable('apps_inventory').set({ owner_id: ownerId, updated_at: Date.now() }).where('id', '=', id).where('owner_id', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async setUrl(id: string, url: string): Promise<void> {
    await this.db.updateTable('apps_inventory').set({ url }).where('id', '=', id).execute();
  }

  /** The app is gone from Dokku: its row, history and secrets go with it (a new app of that name starts clean). */
  async forget(hostId: string, name: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('apps_inventory').where('host_id', '=', hostId).where('name', '=', name).execute();
      await tx.deleteFrom('apps_releases').where('host_id', '=', hostId).where('app_name', '=', name).execute();
      await tx.deleteFrom('apps_secrets').where('host_id', '=', hostId).where('app_name', '=', name).execute();
      await tx.deleteFrom('apps_certificates').where('host_id', '=', hostId).where('app_name', '=', name).execute();
      await tx.deleteFrom('apps_deploys').where('host_id', '=', hostId).where('app_name', '=', name).where('outcome', 'is not', null).execute();
    });
  }

  // ---- releases ----

  async releases(hostId: string, name: string, limit = 100): Promise<AppsReleasesTable[]> {
    return this.db.selectFrom('apps_releases').selectAll().where('host_id', '=', hostId).where('app_name', '=', name).orderBy('number', 'desc').limit(limit).execute();
  }

  release(hostId: string, name: string, n: number): Promise<AppsReleasesTable | undefined> {
    return this.db.selectFrom('apps_releases').selectAll().where('host_id', '=', hostId).where('app_name', '=', name).where('number', '=', n).executeTakeFirst();
  }

  releaseOfJob(jobId: string): Promise<AppsReleasesTable | undefined> {
    return this.db.selectFrom('apps_releases').selectAll().where('job_id', '=', jobId).executeTakeFirst();
  }

  /** Numbers the release max+1 for the app; once per job (a repeated step finds its release). */
  async addRelease(r: Omit<AppsReleasesTable, 'id' | 'number' | 'created_at'>): Promise<AppsReleasesTable> {
    for (let attempt = 0; ; attempt++) {
      const existing = await this.releaseOfJob(r.job_id);
      if (existing) return existing;
      const max = await this.db.selectFrom('apps_releases').select((eb) => eb.fn.max('number').as('n'))
        .where('host_id', '=', r.host_id).where('app_name', '=', r.app_name).executeTakeFirst();
      const row: AppsReleasesTable = { ...r, id: newId(), number: Number(max?.n ?? 0) + 1, created_at: Date.now() };
      try {
        await this.db.insertInto('apps_releases').values(row).execute();
        return row;
      } catch (e) {
        if (attempt >= 5) throw e;
      }
    }
  }

  // ---- deploys ----

  async addDeploy(d: AppsDeploysTable): Promise<void> {
    await this.db.insertInto('apps_deploys').values(d).execute();
  }

  deploy(jobId: string): Promise<AppsDeploysTable | undefined> {
    return this.db.selectFrom('apps_deploys').selectAll().where('job_id', '=', jobId).executeTakeFirst();
  }

  async updateDeploy(jobId: string, patch: Partial<Omit<AppsDeploysTable, 'job_id'>>): Promise<void> {
    await this.db.updateTable('apps_deploys').set(patch).where('job_id', '=', jobId).execute();
  }

  async deploys(hostId: string, name: string, limit: number): Promise<AppsDeploysTable[]> {
    return this.db.selectFrom('apps_deploys').selectAll().where('host_id', '=', hostId).where('app_name', '=', name).orderBy('job_id', 'desc').limit(limit).execute();
  }

  /** Deploys without an outcome yet (queued, running, or left behind by a crash). */
  async openDeploys(): Promise<AppsDeploysTable[]> {
    return this.db.selectFrom('apps_deploys').selectAll().where('outcome', 'is', null).orderBy('job_id').limit(500).execute();
  }

  // ---- certificates ----

  certificate(hostId: string, name: string): Promise<AppsCertificatesTable | undefined> {
    return this.db.selectFrom('apps_certificates').selectAll().where('host_id', '=', hostId).where('app_name', '=', name).executeTakeFirst();
  }

  async putCertificate(c: AppsCertificatesTable): Promise<void> {
    const { host_id: _h, app_name: _a, ...rest } = c;
    await this.db.insertInto('apps_certificates').values(c).onConflict((oc) => oc.columns(['host_id', 'app_name']).doUpdateSet(rest)).execute();
  }

  /** Apps with an active alert, soonest first; `ownerId`: only that owner's apps (ownerless ones never). */
  async certificateAlerts(ownerId?: string): Promise<(AppsCertificatesTable & { owner_id: string | null })[]> {
    let q = this.db.selectFrom('apps_certificates')
      .innerJoin('apps_inventory', (j) => j.onRef('apps_inventory.host_id', '=', 'apps_certificates.host_id').onRef('apps_inventory.name', '=', 'apps_certificates.app_name'))
      .selectAll('apps_certificates').select('apps_inventory.owner_id')
      .where('apps_certificates.alert_kind', 'is not', null);
    if (ownerId !== undefined) q = q.where('apps_inventory.owner_id', '=', ownerId);
    return q.orderBy('apps_certificates.days_left', 'asc').orderBy('apps_certificates.app_name', 'asc').execute();
  }

  // ---- secrets ----

  async secrets(hostId: string, name: string): Promise<{ key: string; sealed: string }[]> {
    return this.db.selectFrom('apps_secrets').select(['key', 'sealed']).where('host_id', '=', hostId).where('app_name', '=', name).orderBy('key').execute();
  }

  async putSecret(hostId: string, name: string, key: string, sealed: string): Promise<void> {
    const at = Date.now();
    await this.db.insertInto('apps_secrets').values({ host_id: hostId, app_name: name, key, sealed, updated_at: at })
      .onConflict((oc) => oc.columns(['host_id', 'app_name', 'key']).doUpdateSet({ sealed, updated_at: at })).execute();
  }

  async deleteSecrets(hostId: string, name: string, keys: readonly string[]): Promise<void> {
    if (!keys.length) return;
    await this.db.deleteFrom('apps_secrets').where('host_id', '=', hostId).where('app_name', '=', name).where('key', 'in', [...keys]).execute();
  }
}
