import { sql } from 'kysely';
import { newId } from '../../../server/src/sdk.js';
import type { SitesCertAlertsTable, SitesDb, SitesInventoryTable } from './sites.migrations.js';
import type { CertAlertT, ListSitesFilters, SiteViewT } from './sites.schema.js';

export function toSiteView(r: SitesInventoryTable): SiteViewT {
  return {
    id: r.id,
    host: r.host_id,
    domain: r.domain,
    type: r.site_type,
    cache: r.cache_type,
    php: r.php_version,
    enabled: !!r.enabled,
    ssl: {
      enabled: !!r.ssl,
      provider: r.ssl_provider,
      expiresAt: r.ssl_expires_at === null ? null : Number(r.ssl_expires_at),
      daysLeft: r.ssl_days_left,
      checkedAt: r.ssl_checked_at === null ? null : Number(r.ssl_checked_at),
    },
    hsts: r.hsts === null ? null : !!r.hsts,
    webroot: r.webroot,
    databaseName: r.db_name,
    diskBytes: r.disk_bytes === null ? null : Number(r.disk_bytes),
    ownerId: r.owner_id,
    state: r.state ?? 'ready',
    refreshedAt: Number(r.refreshed_at),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export function toAlertView(r: SitesCertAlertsTable): CertAlertT {
  return {
    id: r.id, host: r.host_id, domain: r.domain, kind: r.kind, daysLeft: r.days_left,
    expiresAt: r.expires_at === null ? null : Number(r.expires_at), message: r.message,
    createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
  };
}

const SORT_COLUMNS = {
  domain: 'domain', type: 'site_type', php: 'php_version', sslExpiresAt: 'ssl_expires_at', diskBytes: 'disk_bytes', updatedAt: 'updated_at',
} as const;

/** What a refresh learned about one site (everything but ownership and HSTS, which `wo` does not report). */
export type ObservedSite = Omit<SitesInventoryTable, 'id' | 'owner_id' | 'hsts' | 'state' | 'pending_job_id' | 'created_at' | 'updated_at' | 'refreshed_at'>;

export class SitesRepo {
  constructor(private readonly db: SitesDb) {}

  async list(f: ListSitesFilters & { ownerId?: string }): Promise<{ items: SitesInventoryTable[]; total: number }> {
    let q = this.db.selectFrom('sites_inventory');
    if (f.host) q = q.where('host_id', '=', f.host);
    if (f.type) q = q.where('site_type', '=', f.type);
    if (f.ssl !== undefined) q = q.where('ssl', '=', f.ssl ? 1 : 0);
    if (f.php) q = q.where('php_version', '=', f.php);
    if (f.cache) q = q.where('cache_type', '=', f.cache);
    if (f.enabled !== undefined) q = q.where('enabled', '=', f.enabled ? 1 : 0);
    if (f.ownerId !== undefined) q = q.where('owner_id', '=', f.ownerId);
    if (f.certExpiringWithinDays !== undefined) {
      q = q.where('ssl', '=', 1).where('ssl_expires_at', '<=', Date.now() + f.certExpiringWithinDays * 86_400_000);
    }
    if (f.search) {
      // Domains are lower-case ASCII; escape LIKE wildcards so the text is matched literally.
      const needle = `%${f.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      q = q.where(sql<boolean>`domain like ${needle} escape '\\'`);
    }
    const totalRow = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    // Ties follow the same direction so one index serves the whole ORDER BY.
    let ordered = q.selectAll().orderBy(SORT_COLUMNS[f.sort], f.order);
    if (f.sort !== 'domain') ordered = ordered.orderBy('domain', f.order);
    const items = await ordered
      .orderBy('host_id', f.order)
      .limit(f.limit)
      .offset(f.offset)
      .execute();
    return { items, total: Number(totalRow?.n ?? 0) };
  }

  /** Sites on a host that still have files (a webroot), for the server module's log sources. */
  withWebroot(hostId: string): Promise<Pick<SitesInventoryTable, 'domain' | 'webroot'>[]> {
    return this.db.selectFrom('sites_inventory').select(['domain', 'webroot']).where('host_id', '=', hostId).where('webroot', 'is not', null).orderBy('domain').execute();
  }

  get(hostId: string, domain: string): Promise<SitesInventoryTable | undefined> {
    return this.db.selectFrom('sites_inventory').selectAll().where('host_id', '=', hostId).where('domain', '=', domain).executeTakeFirst();
  }

  async lastRefresh(): Promise<number | null> {
    const r = await this.db.selectFrom('sites_inventory').select((eb) => eb.fn.max('refreshed_at').as('at')).executeTakeFirst();
    return r?.at === null || r?.at === undefined ? null : Number(r.at);
  }

  domainsOf(hostId: string): Promise<SitesInventoryTable[]> {
    return this.db.selectFrom('sites_inventory').selectAll().where('host_id', '=', hostId).execute();
  }

  /**
   * Inserts or updates one observed site. Never changes the owner: a site found on a host is
   * inserted ownerless, and an existing row keeps its owner (set only by `insertPending`, before
   * `wo site create` runs). `readyFor`: the create job whose pending row this confirms.
   */
  async upsert(
    site: ObservedSite, at: number, extra: { hsts?: boolean | null; readyFor?: string } = {},
    known?: SitesInventoryTable | null,
  ): Promise<'inserted' | 'updated' | 'unchanged'> {
    const existing = known === undefined ? await this.get(site.host_id, site.domain) : known;
    if (existing) {
      // (a null job id: the job started before the service recorded its id on the row)
      const confirm = extra.readyFor !== undefined && existing.state === 'pending' && (existing.pending_job_id === extra.readyFor || existing.pending_job_id === null);
      const same = (Object.keys(site) as (keyof ObservedSite)[]).every((k) => String(site[k] ?? '') === String(existing[k] ?? ''))
        && (extra.hsts === undefined || (extra.hsts === null ? null : extra.hsts ? 1 : 0) === existing.hsts)
        && !confirm;
      // Nothing changed: skip the write (a refresh of 2,000 sites would otherwise commit 2,000 times).
      if (same) return 'unchanged';
      await this.db.updateTable('sites_inventory').set({
        ...site,
        ...(extra.hsts !== undefined ? { hsts: extra.hsts === null ? null : extra.hsts ? 1 : 0 } : {}),
        ...(confirm ? { state: 'ready' as const, pending_job_id: null } : {}),
        refreshed_at: at,
        updated_at: at,
      }).where('id', '=', existing.id).execute();
    } else {
      await this.db.insertInto('sites_inventory').values({
        id: newId(), ...site, owner_id: null, state: 'ready', pending_job_id: null,
        hsts: extra.hsts === undefined || extra.hsts === null ? null : extra.hsts ? 1 : 0,
        refreshed_at: at, created_at: at, updated_at: at,
      }).execute();
      return 'inserted';
    }
    return 'updated';
  }

  /**
   * Records a site about to be created, with its intended owner, before `wo` runs. The unique
   * (host, domain) key makes a second create of the same name fail here (returns false).
   */
  async insertPending(p: { host_id: string; domain: string; site_type: string; php_version: string | null; cache_type: string | null; owner_id: string | null }): Promise<boolean> {
    const at = Date.now();
    try {
      await this.db.insertInto('sites_inventory').values({
        id: newId(), ...p, enabled: 1, ssl: 0, ssl_provider: null, ssl_expires_at: null, ssl_days_left: null, ssl_checked_at: null, hsts: null,
        webroot: null, db_name: null, disk_bytes: null, state: 'pending', pending_job_id: null, refreshed_at: at, created_at: at, updated_at: at,
      }).execute();
      return true;
    } catch {
      return false;
    }
  }

  async setPendingJob(hostId: string, domain: string, jobId: string): Promise<void> {
    await this.db.updateTable('sites_inventory').set({ pending_job_id: jobId })
      .where('host_id', '=', hostId).where('domain', '=', domain).where('state', '=', 'pending').execute();
  }

  /** Removes a pending row (a create that failed or never ran); a confirmed site is never touched. */
  async removePending(hostId: string, domain: string, jobId?: string | null): Promise<boolean> {
    let q = this.db.deleteFrom('sites_inventory').where('host_id', '=', hostId).where('domain', '=', domain).where('state', '=', 'pending');
    if (jobId !== undefined) q = jobId === null ? q.where('pending_job_id', 'is', null) : q.where((eb) => eb.or([eb('pending_job_id', '=', jobId), eb('pending_job_id', 'is', null)]));
    const r = await q.executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async markReady(id: string): Promise<void> {
    await this.db.updateTable('sites_inventory').set({ state: 'ready', pending_job_id: null, updated_at: Date.now() }).where('id', '=', id).where('state', '=', 'pending').execute();
  }

  pendingOf(hostId: string): Promise<SitesInventoryTable[]> {
    return this.db.selectFrom('sites_inventory').selectAll().where('host_id', '=', hostId).where('state', '=', 'pending').execute();
  }

  /** Marks sites a refresh found unchanged as seen now, in a few statements. */
  async touch(hostId: string, domains: readonly string[], at: number): Promise<void> {
    for (let i = 0; i < domains.length; i += 500) {
      await this.db.updateTable('sites_inventory').set({ refreshed_at: at })
        .where('host_id', '=', hostId).where('domain', 'in', domains.slice(i, i + 500)).execute();
    }
  }

  async setFields(hostId: string, domain: string, fields: Partial<Omit<SitesInventoryTable, 'id' | 'host_id' | 'domain'>>): Promise<void> {
    await this.db.updateTable('sites_inventory').set({ ...fields, updated_at: Date.now() })
      .where('host_id', '=', hostId).where('domain', '=', domain).execute();
  }

  /** Removes a site WordOps no longer has (a pending row stays: its create may still be running). */
  async remove(hostId: string, domain: string): Promise<boolean> {
    const r = await this.db.deleteFrom('sites_inventory').where('host_id', '=', hostId).where('domain', '=', domain).where('state', '=', 'ready').executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Removes sites of a host that `wo site list` no longer reports (not pending ones); returns their domains. */
  async removeMissing(hostId: string, present: readonly string[]): Promise<string[]> {
    const rows = await this.domainsOf(hostId);
    const keep = new Set(present);
    const gone = rows.filter((r) => !keep.has(r.domain) && r.state !== 'pending');
    for (let i = 0; i < gone.length; i += 500) {
      await this.db.deleteFrom('sites_inventory').where('id', 'in', gone.slice(i, i + 500).map((r) => r.id)).execute();
    }
    return gone.map((r) => r.domain);
  }

  // ---- certificate alerts ----

  activeAlerts(ownerId?: string): Promise<SitesCertAlertsTable[]> {
    let q = this.db.selectFrom('sites_cert_alerts').selectAll('sites_cert_alerts').where('sites_cert_alerts.resolved_at', 'is', null);
    if (ownerId !== undefined) {
      q = q.innerJoin('sites_inventory', (j) => j.onRef('sites_inventory.host_id', '=', 'sites_cert_alerts.host_id').onRef('sites_inventory.domain', '=', 'sites_cert_alerts.domain'))
        .where('sites_inventory.owner_id', '=', ownerId);
    }
    return q.orderBy('sites_cert_alerts.days_left', 'asc').orderBy('sites_cert_alerts.domain', 'asc').execute();
  }

  /** Raises (or refreshes) an alert; returns true when it is new or was resolved before. */
  async raiseAlert(a: Pick<SitesCertAlertsTable, 'host_id' | 'domain' | 'kind' | 'days_left' | 'expires_at' | 'message'>): Promise<boolean> {
    const at = Date.now();
    const existing = await this.db.selectFrom('sites_cert_alerts').selectAll()
      .where('host_id', '=', a.host_id).where('domain', '=', a.domain).where('kind', '=', a.kind).executeTakeFirst();
    if (!existing) {
      await this.db.insertInto('sites_cert_alerts').values({ id: newId(), ...a, created_at: at, updated_at: at, resolved_at: null }).execute();
      return true;
    }
    await this.db.updateTable('sites_cert_alerts').set({ days_left: a.days_left, expires_at: a.expires_at, message: a.message, updated_at: at, resolved_at: null,
      ...(existing.resolved_at !== null ? { created_at: at } : {}) }).where('id', '=', existing.id).execute();
    return existing.resolved_at !== null;
  }

  async resolveAlerts(hostId: string, domain: string, kinds: SitesCertAlertsTable['kind'][]): Promise<void> {
    await this.db.updateTable('sites_cert_alerts').set({ resolved_at: Date.now() })
      .where('host_id', '=', hostId).where('domain', '=', domain).where('kind', 'in', kinds).where('resolved_at', 'is', null).execute();
  }
}
