import type { FastifyBaseLogger } from 'fastify';
import { z } from 'zod';
import type { AuditLog } from '../../../server/src/platform/audit/audit.service.js';
import { ConflictError, DomainRuleError, NotFoundError } from '../../../server/src/platform/errors.js';
import type { EventBus } from '../../../server/src/platform/events/event-bus.js';
import { ExecError } from '../../../server/src/infra/exec-error.js';
import type { StreamHandle } from '../../../server/src/infra/process-runner.js';
import type { HostRegistry } from '../../../server/src/platform/hosts/host-registry.js';
import type { JobService, JobView } from '../../../server/src/platform/jobs/types.js';
import { ownerScope, requirePermission, SYSTEM_ACTOR, type Actor } from '../../../server/src/platform/rbac/permissions.js';
import { toAlertView, toSiteView, type SitesDb, SitesRepo, type SitesInventoryTable } from './sites.repo.js';
import { sitesPermissions } from './sites.permissions.js';
import {
  type CertAlertT, type CreateSiteInput, type DeleteSiteInput, type Domain, DomainError, type ListSitesFilters, parseDomain,
  type SiteViewT, type UpdateSiteInput, WP_TYPES,
} from './sites.schema.js';
import { SiteFiles, siteLogPath, type SiteLogKind } from './site-files.js';
import { WordOpsCli, type WoSiteInfo } from './wordops.cli.js';

export const SitesConfig = z.object({
  /** The `wo` program name on each host. */
  woBin: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/).default('wo'),
  /** A directory put first on PATH when running `wo` (WordOps installs it in /usr/local/bin). */
  woDir: z.string().regex(/^\/[A-Za-z0-9_.+/-]*$/).default('/usr/local/bin'),
  /** Where WordOps keeps live certificates (WOVar.wo_ssl_live). */
  certDir: z.string().regex(/^\/[A-Za-z0-9_.+/-]+$/).default('/etc/letsencrypt/live'),
  /** Host ids that run WordOps (comma separated); hosts with the `wordops` capability are added. */
  hosts: z.string().regex(/^[A-Za-z0-9_.,-]*$/).default('local'),
  /** Background inventory refresh (`wo site list` + `wo site info`); 0 turns it off. */
  refreshIntervalSeconds: z.coerce.number().int().min(0).max(86_400).default(300),
  /** Certificate and disk-use check; daily by default. */
  certCheckIntervalHours: z.coerce.number().min(0).max(24 * 7).default(24),
  certWarnDays: z.coerce.number().int().min(1).max(90).default(14),
  refreshConcurrency: z.coerce.number().int().min(1).max(32).default(4),
});
export type SitesConfigT = z.output<typeof SitesConfig>;

export interface SitesServiceDeps {
  db: SitesDb;
  jobs: JobService;
  audit: AuditLog;
  events: EventBus;
  hosts: HostRegistry;
  log: FastifyBaseLogger;
  config: SitesConfigT;
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

  constructor(private readonly deps: SitesServiceDeps) {
    this.repo = new SitesRepo(deps.db);
  }

  async cli(hostId: string): Promise<WordOpsCli> {
    return new WordOpsCli(await this.deps.hosts.runner(hostId), { bin: this.deps.config.woBin, binDir: this.deps.config.woDir });
  }

  async files(hostId: string): Promise<SiteFiles> {
    return new SiteFiles(await this.deps.hosts.runner(hostId), this.deps.config.certDir);
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
    requirePermission(actor, sitesPermissions.read);
    const { items, total } = await this.repo.list({ ...filters, ownerId: ownerScope(actor) });
    this.lastRefreshAt ??= await this.repo.lastRefresh();
    return { items: items.map(toSiteView), total, limit: filters.limit, offset: filters.offset, refreshedAt: this.lastRefreshAt };
  }

  private async visible(actor: Actor, hostId: string, domain: Domain): Promise<SitesInventoryTable> {
    const row = await this.repo.get(hostId, domain);
    const scope = ownerScope(actor);
    if (!row || (scope !== undefined && row.owner_id !== scope)) throw new NotFoundError('Site', domain);
    return row;
  }

  async get(actor: Actor, hostId: string, domain: Domain): Promise<SiteViewT> {
    requirePermission(actor, sitesPermissions.read);
    return toSiteView(await this.visible(actor, hostId, domain));
  }

  async alerts(actor: Actor): Promise<CertAlertT[]> {
    requirePermission(actor, sitesPermissions.read);
    return (await this.repo.activeAlerts(ownerScope(actor))).map(toAlertView);
  }

  async history(actor: Actor, hostId: string, domain: Domain): Promise<JobView[]> {
    requirePermission(actor, sitesPermissions.read);
    await this.visible(actor, hostId, domain);
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

  async create(actor: Actor, input: CreateSiteInput): Promise<JobView> {
    requirePermission(actor, sitesPermissions.create);
    await this.assertHost(input.host);
    if (await this.repo.get(input.host, input.domain)) throw new ConflictError(`Site ${input.domain} already exists on ${input.host}`);
    await this.assertNotBusy(input.host, input.domain);
    const { host, domain, ...options } = input;
    const job = await this.deps.jobs.enqueue('sites.create', { hostId: host, domain, options, ownerId: actor.userId }, {
      actor, resource: siteResource(host, domain),
    });
    await this.deps.audit.record({
      actor, action: 'sites.create', target: { type: 'site', id: `${host}:${domain}` }, outcome: 'success',
      details: { jobId: job.id, type: input.type, php: input.php ?? null, cache: input.cache ?? null, letsencrypt: input.letsencrypt, hsts: input.hsts },
    });
    return job;
  }

  async update(actor: Actor, domain: Domain, input: UpdateSiteInput): Promise<JobView> {
    requirePermission(actor, sitesPermissions.update);
    const row = await this.visible(actor, input.host, domain);
    const change = planUpdate(row, input);
    if (!Object.keys(change).length) throw new DomainRuleError(`Nothing to change: ${domain} already has these settings`, 'nothing_to_change');
    await this.assertNotBusy(input.host, domain);
    const job = await this.deps.jobs.enqueue('sites.update', { hostId: input.host, domain, change }, { actor, resource: siteResource(input.host, domain) });
    await this.deps.audit.record({ actor, action: 'sites.update', target: { type: 'site', id: `${input.host}:${domain}` }, outcome: 'success', details: { jobId: job.id, ...change } });
    return job;
  }

  async delete(actor: Actor, domain: Domain, input: DeleteSiteInput): Promise<JobView> {
    requirePermission(actor, sitesPermissions.delete);
    let confirmed: string | null = null;
    try {
      confirmed = parseDomain(input.confirm);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
    }
    if (confirmed !== domain) throw new DomainRuleError(`Type the domain (${domain}) to confirm the deletion`, 'confirmation_mismatch');
    if (input.keepDatabase && input.keepFiles) throw new DomainRuleError('Keeping both the database and the files is not a deletion: disable the site instead', 'keep_both');
    const row = await this.visible(actor, input.host, domain);
    await this.assertNotBusy(input.host, domain);
    const job = await this.deps.jobs.enqueue('sites.delete', { hostId: input.host, domain, keepDatabase: input.keepDatabase, keepFiles: input.keepFiles }, {
      actor, resource: siteResource(input.host, domain),
    });
    await this.deps.audit.record({
      actor, action: 'sites.delete', target: { type: 'site', id: `${input.host}:${domain}` }, outcome: 'success',
      details: { jobId: job.id, type: row.site_type, keepDatabase: input.keepDatabase, keepFiles: input.keepFiles },
    });
    return job;
  }

  // ---- inventory refresh ----

  /** Refreshes every WordOps host; `deep` also reads certificates and disk use and raises alerts. */
  async refreshAll(deep = false): Promise<RefreshReport[]> {
    const out: RefreshReport[] = [];
    for (const host of await this.wordopsHosts()) {
      try {
        out.push(await this.refreshHost(host, deep));
      } catch (e) {
        // A host without WordOps is reported once, not every interval.
        const missing = e instanceof ExecError && (e.reason === 'spawn' || e.exitCode === 127);
        if (!missing || !this.reportedMissing.has(host)) this.deps.log.warn({ err: e, host }, missing ? 'sites: `wo` not found on this host' : 'sites: inventory refresh failed');
        if (missing) this.reportedMissing.add(host);
      }
    }
    return out;
  }

  async refreshNow(actor: Actor): Promise<RefreshReport[]> {
    requirePermission(actor, sitesPermissions.refresh);
    const reports = await this.refreshAll(true);
    await this.deps.audit.record({ actor, action: 'sites.refresh', outcome: 'success', details: { hosts: reports.map((r) => r.host), sites: reports.reduce((n, r) => n + r.sites, 0) } });
    return reports;
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
    const removed = await this.repo.removeMissing(hostId, names);
    if (deep) await this.checkCertificates(hostId);
    const report = { host: hostId, sites: names.length, removed, failed, durationMs: Date.now() - started };
    this.lastRefreshAt = Date.now();
    this.deps.events.publish({ type: 'sites.inventory_refreshed', resource: { type: 'host', id: hostId }, data: { ...report } });
    return report;
  }

  /** Re-reads one site from `wo site info` (and its certificate and disk use when deep). */
  async refreshSite(
    hostId: string, domain: Domain,
    opts: { deep?: boolean; cli?: WordOpsCli; ownerId?: string | null; hsts?: boolean | null; unchanged?: Domain[] } = {},
  ): Promise<SitesInventoryTable | undefined> {
    const cli = opts.cli ?? await this.cli(hostId);
    let info: WoSiteInfo;
    try {
      info = await cli.siteInfo(domain);
    } catch (e) {
      if ((e as Error).name === 'WoSiteNotFoundError') {
        await this.repo.remove(hostId, domain);
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
    }, now, { ...(opts.ownerId !== undefined ? { ownerId: opts.ownerId } : {}), ...(opts.hsts !== undefined ? { hsts: opts.hsts } : {}) }, existing ?? null);
    if (opts.unchanged) {
      // A bulk refresh: unchanged rows are touched together at its end; nobody reads the row.
      if (outcome === 'unchanged') opts.unchanged.push(domain);
      return undefined;
    }
    if (outcome === 'unchanged') await this.repo.touch(hostId, [domain], now);
    return this.repo.get(hostId, domain);
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

  private async logTarget(actor: Actor, hostId: string, domain: Domain): Promise<{ files: SiteFiles; webroot: string }> {
    requirePermission(actor, sitesPermissions.logs);
    const row = await this.visible(actor, hostId, domain);
    if (!row.webroot) throw new DomainRuleError(`${domain} has no webroot (its files were deleted)`, 'no_webroot');
    return { files: await this.files(hostId), webroot: row.webroot };
  }

  /**
   * Each site's access and error log as log sources of the server module's viewer. Paths come from
   * the inventory (`wo site info`), never from a request; a webroot that is not a plain path is skipped.
   */
  async logSources(hostId: string): Promise<{ id: string; title: string; path: string }[]> {
    const out: { id: string; title: string; path: string }[] = [];
    for (const site of await this.repo.withWebroot(hostId)) {
      for (const kind of ['access', 'error'] as const) {
        try {
          out.push({ id: `site-${site.domain}-${kind}`, title: `${site.domain} ${kind} log`, path: siteLogPath(site.webroot!, kind) });
        } catch {
          this.deps.log.warn({ domain: site.domain }, 'sites: webroot is not a plain path; its logs are not offered');
        }
      }
    }
    return out;
  }

  /** The last `lines` lines, then new ones as they are written (`tail -F`, survives log rotation). */
  async followLogs(actor: Actor, hostId: string, domain: Domain, kind: SiteLogKind, lines: number, signal: AbortSignal): Promise<StreamHandle> {
    const { files, webroot } = await this.logTarget(actor, hostId, domain);
    return files.follow(webroot, kind, lines, signal);
  }

  async tailLogs(actor: Actor, hostId: string, domain: Domain, kind: SiteLogKind, lines: number): Promise<string[]> {
    const { files, webroot } = await this.logTarget(actor, hostId, domain);
    return files.tail(webroot, kind, lines);
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
