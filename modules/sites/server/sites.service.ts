import type { FastifyBaseLogger } from 'fastify';
import {
  type Actor, type AuditLog, authorize, checkNetworkTarget, ConflictError, type CoreConfig, DomainRuleError,
  type EventBus, ExecError, type FollowEvents, type FollowHandle, type HostnameClaims, type HostRegistry,
  type JobService, type JobView, listScope, LOCAL_HOST_ID, NetworkTargetRefusedError, type Permission, type ProcessRunner,
  type Resolver, resource, SYSTEM_ACTOR, systemResolver, UnavailableError,
} from '../../../server/src/sdk.js';
import type { SitesConfigT } from './sites.config.js';
import type { SitesDb, SitesInventoryTable } from './sites.migrations.js';
import { toAlertView, toSiteView, SitesRepo } from './sites.repo.js';
import { sitesPermissions } from './sites.permissions.js';
import {
  type CertAlertT, type CreateSiteInput, type DeleteSiteInput, type Domain, DomainError, type ListSitesFilters, parseDomain,
  type SiteViewT, type UpdateSiteInput, WP_TYPES,
} from './sites.schema.js';
import { SiteFiles, siteLogPath, type SiteLogKind } from './site-files.js';
import { WordOpsCli, WoSiteNotFoundError, type WoSiteInfo } from './wordops.cli.js';

export interface SitesServiceDeps {
  db: SitesDb;
  jobs: JobService;
  audit: AuditLog;
  events: EventBus;
  hosts: HostRegistry;
  /** The platform's hostname claims (`ctx.hostnames`): a domain is claimed before `wo` creates it. */
  claims: HostnameClaims;
  log: FastifyBaseLogger;
  config: SitesConfigT;
  /** The panel's own settings: its listen address (never a proxy target). */
  core?: Pick<CoreConfig, 'listen'>;
  /** Resolves proxy targets (tests put an /etc/hosts-style table in front). */
  resolve?: Resolver;
}

const DAY = 86_400_000;
export const siteResource = (hostId: string, domain: string) => `site:${hostId}:${domain}`;

/** Runs `fn` over `items` with at most `n` at a time. */
async function pool<T>(items: readonly T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}

export interface RefreshReport { host: string; sites: number; removed: number; failed: number; durationMs: number }

/**
 * The rules of the sites module: permissions and ownership, what may change and when, the
 * inventory refresh and the certificate watch. Changes are queued as jobs (sites.jobs.ts).
 */
export class SitesService {
  readonly repo: SitesRepo;
  /** When the inventory was last refreshed (kept in memory: the list answers it on every call). */
  private lastRefreshAt: number | null = null;
  private readonly reportedMissing = new Set<string>();
  private readonly refreshing = new Map<string, { promise: Promise<RefreshReport>; deep: boolean }>();

  readonly claims: HostnameClaims;

  constructor(private readonly deps: SitesServiceDeps) {
    this.repo = new SitesRepo(deps.db);
    this.claims = deps.claims;
  }

  async cli(hostId: string): Promise<WordOpsCli> {
    return this.cliOn(await this.deps.hosts.runner(hostId));
  }

  /** The adapter on a given runner: a job step passes its `ctx.runner(hostId)` (job log, cancel). */
  cliOn(runner: ProcessRunner): WordOpsCli {
    return new WordOpsCli(runner, { bin: this.deps.config.woBin, binDir: this.deps.config.woDir });
  }

  async files(hostId: string): Promise<SiteFiles> {
    return new SiteFiles(await this.deps.hosts.runner(hostId), this.deps.config.certDir, this.deps.config.nginxLogDir);
  }

  /** Hosts that run WordOps: configured ones plus those whose capabilities say so. */
  async wordopsHosts(): Promise<string[]> {
    const configured = this.deps.config.hosts.split(',').map((h) => h.trim()).filter(Boolean);
    const all = await this.deps.hosts.list().catch(() => []);
    const capable = all.filter((h) => h.capabilities.wordops === true).map((h) => h.id);
    return [...new Set([...configured, ...capable])];
  }

  // ---- reads ----

  async list(actor: Actor, filters: ListSitesFilters) {
    authorize(actor, sitesPermissions.read);
    const { items, total } = await this.repo.list({ ...filters, ownerId: listScope(actor, sitesPermissions.read) });
    this.lastRefreshAt ??= await this.repo.lastRefresh();
    return { items: items.map(toSiteView), total, limit: filters.limit, offset: filters.offset, refreshedAt: this.lastRefreshAt };
  }

  /** The site, authorized for `permission` (a foreign or missing one is 404 for an owned-only role). */
  private async site(actor: Actor, permission: Permission, hostId: string, domain: Domain): Promise<SitesInventoryTable> {
    return authorize(actor, permission, resource('Site', domain, await this.repo.get(hostId, domain), (r) => r.owner_id));
  }

  async get(actor: Actor, hostId: string, domain: Domain): Promise<SiteViewT> {
    return toSiteView(await this.site(actor, sitesPermissions.read, hostId, domain));
  }

  async alerts(actor: Actor): Promise<CertAlertT[]> {
    authorize(actor, sitesPermissions.read);
    return (await this.repo.activeAlerts(listScope(actor, sitesPermissions.read))).map(toAlertView);
  }

  async history(actor: Actor, hostId: string, domain: Domain): Promise<JobView[]> {
    await this.site(actor, sitesPermissions.read, hostId, domain);
    return (await this.deps.jobs.list({ resource: siteResource(hostId, domain), limit: 50 }, actor)).items;
  }

  // ---- changes (each queues one job and writes one audit entry) ----

  private async assertNotBusy(hostId: string, domain: string): Promise<void> {
    const active = await this.deps.jobs.list({ state: ['queued', 'running'], resource: siteResource(hostId, domain), limit: 1 }, SYSTEM_ACTOR);
    if (active.items.length) {
      throw new ConflictError(`Site ${domain} is being changed by job ${active.items[0]!.id}; wait for it to finish`, { jobId: active.items[0]!.id });
    }
  }

  private async assertHost(hostId: string): Promise<void> {
    const hosts = await this.wordopsHosts();
    if (!hosts.includes(hostId)) throw new DomainRuleError(`Host ${hostId} does not run WordOps (configure SLIPWAY_SITES_HOSTS or its wordops capability)`, 'host_without_wordops');
    await this.deps.hosts.get(hostId);
  }

  /**
   * Queues `wo site create`. Before anything runs: the hostname is claimed for the caller (409
   * `hostname_taken` when another owner has it, on any host), a proxy target is checked for
   * non-admins (loopback, private, metadata and the panel itself are refused; the resolved
   * address is what reaches WordOps), the site must not exist on the host (asked to `wo`, not
   * only the inventory), and a pending row records the intended owner, so a create that a crash
   * orphans is owned and pending, never ownerless.
   */
  async create(actor: Actor, input: CreateSiteInput): Promise<JobView> {
    authorize(actor, sitesPermissions.create);
    await this.assertHost(input.host);
    const resource = siteResource(input.host, input.domain);
    if (await this.repo.get(input.host, input.domain)) throw new ConflictError(`Site ${input.domain} already exists on ${input.host}`);
    await this.claims.check(actor, input.domain);
    await this.assertNotBusy(input.host, input.domain);
    const { host, domain, ...options } = input;
    if (options.proxy) options.proxy = await this.checkProxyTarget(actor, host, options.proxy);
    await this.assertAbsentOnHost(host, domain);
    await this.claims.claim(actor, domain, resource);
    if (!await this.repo.insertPending({ host_id: host, domain, site_type: input.type, php_version: input.php ?? null, cache_type: input.cache ?? null, owner_id: actor.userId })) {
      await this.claims.release(domain, resource);
      throw new ConflictError(`Site ${domain} is already being created on ${host}`);
    }
    let job: JobView;
    try {
      job = await this.deps.jobs.launch(actor, {
        type: 'sites.create', input: { hostId: host, domain, options, ownerId: actor.userId }, resource,
        audit: {
          action: 'sites.create', target: { type: 'site', id: `${host}:${domain}` },
          details: { type: input.type, php: input.php ?? null, cache: input.cache ?? null, letsencrypt: input.letsencrypt, hsts: input.hsts, proxy: options.proxy ?? null },
        },
      });
    } catch (e) {
      await this.repo.removePending(host, domain, null);
      await this.claims.release(domain, resource);
      throw e;
    }
    await this.repo.setPendingJob(host, domain, job.id);
    return job;
  }

  /** A site WordOps already has (created outside the panel, not refreshed yet) is never "created" again by someone else. */
  private async assertAbsentOnHost(hostId: string, domain: Domain): Promise<void> {
    try {
      await (await this.cli(hostId)).siteInfo(domain);
    } catch (e) {
      if (e instanceof WoSiteNotFoundError) return;
      if (e instanceof ExecError && e.isMissingProgram) throw new DomainRuleError(`WordOps is not installed on ${hostId}`, 'host_without_wordops');
      throw e;
    }
    // It exists: record it (ownerless, for an admin to assign) and refuse.
    await this.refreshSite(hostId, domain).catch(() => undefined);
    throw new ConflictError(`Site ${domain} already exists on ${hostId}`);
  }

  /** Non-admins may only name public backends (or admin-allowed ones); the checked address is pinned. */
  private async checkProxyTarget(actor: Actor, hostId: string, proxy: { host: string; port: number }): Promise<{ host: string; port: number }> {
    const self = hostId === LOCAL_HOST_ID ? undefined : await this.remoteAddresses(hostId);
    const checked = await checkNetworkTarget(actor, proxy.host, proxy.port, {
      allow: this.deps.config.proxyAllow,
      panelListen: this.deps.core?.listen,
      ...(self ? { selfAddresses: self } : {}),
      ...(this.deps.resolve ? { resolve: this.deps.resolve } : {}),
    });
    if (actor.role === 'admin') return proxy;
    // WordOps' --proxy=host:port takes IPv4 (site_create.py splits on ':'); pin the checked address
    // so a later DNS answer cannot move the backend somewhere private.
    const v4 = checked.addresses.find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a));
    if (!v4) throw new NetworkTargetRefusedError(`${proxy.host}:${proxy.port}`, 'WordOps proxies to IPv4 backends only, and the name has no IPv4 address');
    return { host: v4, port: proxy.port };
  }

  /** The remote host's own addresses (its services listen there): its SSH address, resolved. */
  private async remoteAddresses(hostId: string): Promise<string[]> {
    const h = await this.deps.hosts.get(hostId);
    if (!h.address) return [];
    return (this.deps.resolve ?? systemResolver)(h.address).catch(() => [h.address!]);
  }

  async update(actor: Actor, domain: Domain, input: UpdateSiteInput): Promise<JobView> {
    const row = await this.site(actor, sitesPermissions.update, input.host, domain);
    if (row.state === 'pending') throw new ConflictError(`Site ${domain} is still being created`);
    const change = planUpdate(row, input);
    if (!Object.keys(change).length) throw new DomainRuleError(`Nothing to change: ${domain} already has these settings`, 'nothing_to_change');
    await this.assertNotBusy(input.host, domain);
    return this.deps.jobs.launch(actor, {
      type: 'sites.update', input: { hostId: input.host, domain, change }, resource: siteResource(input.host, domain),
      audit: { action: 'sites.update', target: { type: 'site', id: `${input.host}:${domain}` }, details: change },
    });
  }

  async delete(actor: Actor, domain: Domain, input: DeleteSiteInput): Promise<JobView> {
    const row = await this.site(actor, sitesPermissions.delete, input.host, domain);
    let confirmed: string | null = null;
    try {
      confirmed = parseDomain(input.confirm);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
    }
    if (confirmed !== domain) throw new DomainRuleError(`Type the domain (${domain}) to confirm the deletion`, 'confirmation_mismatch');
    if (input.keepDatabase && input.keepFiles) throw new DomainRuleError('Keeping both the database and the files is not a deletion: disable the site instead', 'keep_both');
    if (row.state === 'pending') throw new ConflictError(`Site ${domain} is still being created; a refresh settles an interrupted create`);
    await this.assertNotBusy(input.host, domain);
    return this.deps.jobs.launch(actor, {
      type: 'sites.delete', input: { hostId: input.host, domain, keepDatabase: input.keepDatabase, keepFiles: input.keepFiles }, resource: siteResource(input.host, domain),
      audit: { action: 'sites.delete', target: { type: 'site', id: `${input.host}:${domain}` }, details: { type: row.site_type, keepDatabase: input.keepDatabase, keepFiles: input.keepFiles } },
    });
  }

  // ---- inventory refresh ----

  /** Refreshes every WordOps host; `deep` also reads certificates and disk use and raises alerts. */
  async refreshAll(deep = false, failures: { host: string; reason: string }[] = []): Promise<RefreshReport[]> {
    const out: RefreshReport[] = [];
    for (const host of await this.wordopsHosts()) {
      try {
        out.push(await this.refreshHost(host, deep));
      } catch (e) {
        // A host without WordOps is reported once, not every interval.
        const missing = e instanceof ExecError && e.isMissingProgram;
        failures.push({ host, reason: missing ? `WordOps (wo) is not installed on ${host}` : `the refresh of ${host} failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300) });
        if (!missing || !this.reportedMissing.has(host)) this.deps.log.warn({ err: e, host }, missing ? 'sites: `wo` not found on this host' : 'sites: inventory refresh failed');
        if (missing) this.reportedMissing.add(host);
      }
    }
    return out;
  }

  /** Refreshes now; nothing refreshed is an error (503), a partial refresh names the hosts that failed. */
  async refreshNow(actor: Actor): Promise<{ reports: RefreshReport[]; failures: { host: string; reason: string }[] }> {
    authorize(actor, sitesPermissions.refresh);
    const failures: { host: string; reason: string }[] = [];
    const reports = await this.refreshAll(true, failures);
    await this.deps.audit.record({
      actor, action: 'sites.refresh', outcome: failures.length ? 'failure' : 'success',
      details: { hosts: reports.map((r) => r.host), sites: reports.reduce((n, r) => n + r.sites, 0), ...(failures.length ? { failed: failures } : {}) },
    });
    if (failures.length && !reports.length) throw new UnavailableError(`Nothing was refreshed: ${failures.map((f) => f.reason).join('; ')}`, undefined, { failures });
    return { reports, failures };
  }

  /** One refresh per host at a time: a second caller shares the running one. */
  refreshHost(hostId: string, deep = false): Promise<RefreshReport> {
    const running = this.refreshing.get(hostId);
    if (running && (running.deep || !deep)) return running.promise;
    // A deep refresh asked for during a shallow one runs right after it.
    const promise = (running ? running.promise.catch(() => undefined) : Promise.resolve())
      .then(() => this.doRefreshHost(hostId, deep))
      .finally(() => {
        if (this.refreshing.get(hostId)?.promise === promise) this.refreshing.delete(hostId);
      });
    this.refreshing.set(hostId, { promise, deep });
    return promise;
  }

  private async doRefreshHost(hostId: string, deep: boolean): Promise<RefreshReport> {
    const started = Date.now();
    const cli = await this.cli(hostId);
    const names = await cli.listSites();
    let failed = 0;
    const unchanged: Domain[] = [];
    await pool(names, this.deps.config.refreshConcurrency, async (domain) => {
      try {
        await this.refreshSite(hostId, domain, { deep, cli, unchanged });
      } catch (e) {
        failed++;
        this.deps.log.warn({ err: e, host: hostId, domain }, 'sites: could not refresh a site');
      }
    });
    await this.repo.touch(hostId, unchanged, Date.now());
    const gone = await this.repo.removeMissing(hostId, names);
    for (const d of gone) await this.claims.release(d, siteResource(hostId, d));
    await this.settlePending(hostId, new Set(names));
    if (deep) await this.checkCertificates(hostId);
    const report = { host: hostId, sites: names.length, removed: gone.length, failed, durationMs: Date.now() - started };
    this.lastRefreshAt = Date.now();
    this.deps.events.publish({ type: 'sites.inventory_refreshed', resource: { type: 'host', id: hostId }, data: { ...report } });
    return report;
  }

  /**
   * A pending row whose create job is over (a crash interrupted it, or it failed without cleaning
   * up): WordOps has the site → it is the one that job created for its recorded owner (the create
   * checked it was absent first) → ready; WordOps does not → the row and its claim go.
   */
  private async settlePending(hostId: string, present: Set<string>): Promise<void> {
    for (const row of await this.repo.pendingOf(hostId)) {
      if (row.pending_job_id) {
        const job = await this.deps.jobs.get(row.pending_job_id, SYSTEM_ACTOR).catch(() => null);
        if (job && (job.state === 'queued' || job.state === 'running')) continue;
      } else if (Date.now() - Number(row.created_at) < 60_000) continue; // its job is being queued
      if (present.has(row.domain)) {
        await this.repo.markReady(row.id);
        await this.refreshSite(hostId, row.domain as Domain).catch(() => undefined);
        this.deps.log.warn({ host: hostId, domain: row.domain, job: row.pending_job_id }, 'sites: an interrupted create left the site on the host; it is kept for its owner');
      } else if (await this.repo.removePending(hostId, row.domain, row.pending_job_id)) {
        await this.claims.release(row.domain, siteResource(hostId, row.domain));
      }
    }
  }

  /**
   * Re-reads one site from `wo site info` (and its certificate and disk use when deep). Never sets
   * an owner: a site found on the host is recorded ownerless; `readyFor` confirms the pending row
   * of that create job.
   */
  async refreshSite(
    hostId: string, domain: Domain,
    opts: { deep?: boolean; cli?: WordOpsCli; hsts?: boolean | null; unchanged?: Domain[]; readyFor?: string } = {},
  ): Promise<SitesInventoryTable | undefined> {
    const cli = opts.cli ?? await this.cli(hostId);
    let info: WoSiteInfo;
    try {
      info = await cli.siteInfo(domain);
    } catch (e) {
      if (e instanceof WoSiteNotFoundError) {
        if (await this.repo.remove(hostId, domain)) await this.claims.release(domain, siteResource(hostId, domain));
        await this.repo.resolveAlerts(hostId, domain, ['expiring', 'expired', 'renewal_failed']);
        return undefined;
      }
      throw e;
    }
    const now = Date.now();
    const existing = await this.repo.get(hostId, domain);
    let expiresAt = existing?.ssl_expires_at ?? null;
    let checkedAt = existing?.ssl_checked_at ?? null;
    let daysLeft = info.sslDaysLeft;
    let diskBytes = existing?.disk_bytes ?? null;
    const cert = info.ssl && opts.deep ? await (await this.files(hostId)).certificate(domain).catch(() => null) : null;
    if (!info.ssl) {
      expiresAt = checkedAt = daysLeft = null;
    } else if (cert) {
      expiresAt = cert.validTo;
      daysLeft = Math.floor((cert.validTo - now) / DAY);
      checkedAt = now;
    } else if (daysLeft !== null && (expiresAt === null || Math.abs(Number(expiresAt) - (now + daysLeft * DAY)) > 2 * DAY)) {
      // `wo site info` only gives whole days: an estimate until the certificate itself is read.
      expiresAt = now + daysLeft * DAY;
    }
    if (opts.deep && info.webroot) diskBytes = await (await this.files(hostId)).diskUsage(info.webroot).catch(() => null);
    const outcome = await this.repo.upsert({
      host_id: hostId, domain, site_type: info.type, cache_type: info.cache, php_version: info.php, enabled: info.enabled ? 1 : 0,
      ssl: info.ssl ? 1 : 0, ssl_provider: info.sslProvider, ssl_expires_at: expiresAt, ssl_days_left: daysLeft, ssl_checked_at: checkedAt,
      webroot: info.webroot, db_name: info.dbName, disk_bytes: diskBytes,
    }, now, { ...(opts.hsts !== undefined ? { hsts: opts.hsts } : {}), ...(opts.readyFor !== undefined ? { readyFor: opts.readyFor } : {}) }, existing ?? null);
    // What exists on a host holds its name (ownerless until someone owns it): nobody else claims it.
    await this.claims.record(domain, existing?.owner_id ?? null, siteResource(hostId, domain)).catch(() => undefined);
    if (opts.unchanged) {
      // A bulk refresh: unchanged rows are touched together at its end; nobody reads the row.
      if (outcome === 'unchanged') opts.unchanged.push(domain);
      return undefined;
    }
    if (outcome === 'unchanged') await this.repo.touch(hostId, [domain], now);
    return this.repo.get(hostId, domain);
  }

  /** A create failed: drop its pending row and claim (a site WordOps left half-made shows up ownerless for an admin). */
  async abandonCreate(hostId: string, domain: Domain, jobId: string): Promise<void> {
    if (await this.repo.removePending(hostId, domain, jobId)) await this.claims.release(domain, siteResource(hostId, domain));
  }

  // ---- certificate watch (WordOps itself warns nobody: WordOps issue #698) ----

  /** Raises or resolves expiry alerts from the inventory of one host (or all). */
  async checkCertificates(hostId?: string): Promise<void> {
    const warnDays = this.deps.config.certWarnDays;
    const hosts = hostId ? [hostId] : await this.wordopsHosts();
    for (const h of hosts) {
      for (const site of await this.repo.domainsOf(h)) {
        if (!site.ssl || site.ssl_expires_at === null) {
          await this.repo.resolveAlerts(h, site.domain, ['expiring', 'expired', 'renewal_failed']);
          continue;
        }
        const days = Math.floor((Number(site.ssl_expires_at) - Date.now()) / DAY);
        if (days < 0) {
          await this.repo.resolveAlerts(h, site.domain, ['expiring']);
          await this.alert(site, 'expired', days, `The certificate of ${site.domain} expired on ${new Date(Number(site.ssl_expires_at)).toISOString().slice(0, 10)}`);
        } else if (days <= warnDays) {
          await this.repo.resolveAlerts(h, site.domain, ['expired']);
          await this.alert(site, 'expiring', days, `The certificate of ${site.domain} expires in ${days} day${days === 1 ? '' : 's'} (${new Date(Number(site.ssl_expires_at)).toISOString().slice(0, 10)})`);
        } else {
          await this.repo.resolveAlerts(h, site.domain, ['expiring', 'expired', 'renewal_failed']);
        }
      }
    }
  }

  async alert(site: SitesInventoryTable, kind: 'expiring' | 'expired' | 'renewal_failed', days: number | null, message: string): Promise<void> {
    const fresh = await this.repo.raiseAlert({ host_id: site.host_id, domain: site.domain, kind, days_left: days, expires_at: site.ssl_expires_at, message });
    if (fresh || kind === 'renewal_failed') {
      this.deps.events.publish({
        type: `sites.certificate_${kind}`, resource: { type: 'site', id: `${site.host_id}:${site.domain}` }, ownerId: site.owner_id,
        data: { host: site.host_id, domain: site.domain, daysLeft: days, expiresAt: site.ssl_expires_at, message },
      });
      this.deps.log.warn({ host: site.host_id, domain: site.domain, kind, days }, `sites: ${message}`);
    }
  }

  // ---- logs ----

  private async logTarget(actor: Actor, hostId: string, domain: Domain): Promise<SiteFiles> {
    const row = await this.site(actor, sitesPermissions.logs, hostId, domain);
    if (row.state === 'pending') throw new DomainRuleError(`${domain} is still being created`, 'site_pending');
    return this.files(hostId);
  }

  /**
   * Each site's access and error log as log sources of the server module's viewer: nginx's own
   * files under the configured log dir, built from the domain (never the webroot, which the site's
   * PHP controls). The viewer reads them with no-follow semantics under that root.
   */
  async logSources(hostId: string): Promise<{ id: string; title: string; path: string; root: string }[]> {
    const out: { id: string; title: string; path: string; root: string }[] = [];
    const root = this.deps.config.nginxLogDir.replace(/\/+$/, '');
    for (const site of await this.repo.domainsOf(hostId)) {
      if (site.state === 'pending') continue;
      for (const kind of ['access', 'error'] as const) {
        try {
          out.push({ id: `site-${site.domain}-${kind}`, title: `${site.domain} ${kind} log`, path: siteLogPath(root, site.domain as Domain, kind), root });
        } catch {
          this.deps.log.warn({ domain: site.domain }, 'sites: domain is not a plain name; its logs are not offered');
        }
      }
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The last `lines` lines, then new ones as they are written (survives log rotation, never follows a link). */
  async followLogs(actor: Actor, hostId: string, domain: Domain, kind: SiteLogKind, lines: number, ev: FollowEvents): Promise<FollowHandle> {
    const files = await this.logTarget(actor, hostId, domain);
    return files.follow(domain, kind, lines, ev);
  }

  /** Whether the site's access or error log file exists yet (a follow of a missing one says so). */
  async logExists(actor: Actor, hostId: string, domain: Domain, kind: SiteLogKind): Promise<boolean> {
    const files = await this.logTarget(actor, hostId, domain);
    return files.logExists(domain, kind);
  }

  async tailLogs(actor: Actor, hostId: string, domain: Domain, kind: SiteLogKind, lines: number): Promise<string[]> {
    const files = await this.logTarget(actor, hostId, domain);
    return files.tail(domain, kind, lines);
  }
}

/** Turns a PUT body into the changes that actually differ from the inventory; refuses impossible ones. */
export function planUpdate(row: SitesInventoryTable, input: UpdateSiteInput): Record<string, unknown> {
  const change: Record<string, unknown> = {};
  const wp = (WP_TYPES as readonly string[]).includes(row.site_type);
  if (input.enabled !== undefined && input.enabled !== !!row.enabled) change.enabled = input.enabled;
  if (input.php !== undefined && input.php !== row.php_version) {
    if (row.site_type === 'html' || row.site_type === 'proxy') throw new DomainRuleError(`A ${row.site_type} site has no PHP version`, 'no_php');
    change.php = input.php;
    if (row.php_version && /^\d\.\d$/.test(row.php_version)) change.previousPhp = row.php_version; // for the step's undo
  }
  if (input.cache !== undefined && input.cache !== (row.cache_type ?? 'basic')) {
    if (!wp) throw new DomainRuleError('A page cache is only for WordPress sites', 'cache_needs_wordpress');
    change.cache = input.cache;
    change.siteType = row.site_type;
    change.previousCache = row.cache_type ?? 'basic';
  }
  if (input.ssl !== undefined && input.ssl !== !!row.ssl) {
    change.ssl = input.ssl;
    if (input.ssl) {
      change.letsencrypt = input.letsencrypt ?? 'on';
      if (change.letsencrypt === 'wildcard' && !input.dnsProvider) throw new DomainRuleError('A wildcard certificate needs a DNS API (dnsProvider)', 'wildcard_needs_dns');
      if (input.dnsProvider) change.dnsProvider = input.dnsProvider;
    }
  }
  const sslAfter = input.ssl ?? !!row.ssl;
  if (input.hsts !== undefined && (input.hsts !== (row.hsts === 1) || row.hsts === null)) {
    if (input.hsts && !sslAfter) throw new DomainRuleError('HSTS needs SSL', 'hsts_needs_ssl');
    if (!(input.hsts === false && !sslAfter && change.ssl === false)) change.hsts = input.hsts;
  }
  if (input.renewCertificate) {
    if (!row.ssl) throw new DomainRuleError(`${row.domain} has no certificate to renew`, 'no_certificate');
    change.renew = true;
  }
  return change;
}
