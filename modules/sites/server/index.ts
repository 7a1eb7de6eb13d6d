import { defineEngine, defineModule, findExecutable, listScope } from '../../../server/src/sdk.js';
import { defineWpPasswordJob, registerWpPasswordRoutes, WpPasswords } from './sites.admin-password.js';
import { defineSiteJobs } from './sites.jobs.js';
import { sitesPermissions } from './sites.permissions.js';
import { SitesConfig, type SitesConfigT } from './sites.config.js';
import { sitesMigrations } from './sites.migrations.js';
import { registerSitesRoutes } from './sites.routes.js';
import { SitesService } from './sites.service.js';

/**
 * WordOps on the panel's own machine. Optional: without it the module is `degraded` (sites on
 * remote WordOps hosts still work) and the console says so instead of "no sites yet".
 * Looked up as a file (never run: `wo` has no cheap side-effect-free command).
 */
export const wordopsEngine = defineEngine<SitesConfigT>({
  id: 'wordops',
  title: 'WordOps',
  optional: true,
  probe: async ({ config }) => {
    if (!config.hosts.split(',').map((h) => h.trim()).includes('local')) return { ok: true, version: 'not used on this host' };
    const found = findExecutable(config.woBin, [config.woDir]);
    if (found) return { ok: true };
    return {
      ok: false,
      reason: `WordOps is not installed on this host (\`${config.woBin}\` not found in ${config.woDir} or on PATH)`,
      fix: 'install WordOps on this machine (https://docs.wordops.net/getting-started/installation-guide/), or add a host that runs it under Server → Hosts and list it in SLIPWAY_SITES_HOSTS',
    };
  },
});

/** WordPress, PHP, HTML and proxy sites on WordOps hosts, with a certificate watch; `ctx.db` has the sites tables (sites.migrations.ts). */
export const sitesModule = defineModule({
  id: 'sites',
  title: 'Sites',
  config: SitesConfig,
  permissions: sitesPermissions,
  navPermission: sitesPermissions.read,
  migrations: sitesMigrations,
  engines: [wordopsEngine],
  register(ctx) {
    const { db } = ctx;
    const sites = new SitesService({
      db,
      jobs: ctx.jobs,
      audit: ctx.audit,
      events: ctx.events,
      hosts: ctx.hosts,
      claims: ctx.hostnames,
      log: ctx.log,
      config: ctx.config,
      core: ctx.core,
    });
    const passwords = new WpPasswords(db, ctx.secretBox('sites wp-admin v1'), sites, ctx.jobs);
    defineSiteJobs(ctx.jobs, sites, passwords);
    defineWpPasswordJob(ctx.jobs, sites, passwords);
    registerSitesRoutes(ctx.http, sites);
    registerWpPasswordRoutes(ctx.http, passwords);
    // Site logs appear in the log viewer next to the host's own logs.
    ctx.logSources.add((hostId) => sites.logSources(hostId));
    ctx.overview.count({
      id: 'sites', title: 'Sites', permission: sitesPermissions.read,
      count: async (actor) => {
        const owner = listScope(actor, sitesPermissions.read);
        let q = db.selectFrom('sites_inventory').select((eb) => eb.fn.countAll<number>().as('n'));
        if (owner !== undefined) q = q.where('owner_id', '=', owner);
        return Number((await q.executeTakeFirst())?.n ?? 0);
      },
    });

    ctx.schedule('inventory', ctx.config.refreshIntervalSeconds * 1000, () => sites.refreshAll(false));
    ctx.schedule('certificates', ctx.config.certCheckIntervalHours * 3_600_000, () => sites.refreshAll(true));
    ctx.onReady(() => {
      // First a fast refresh so the list is filled, then the deep (certificates, disk) one.
      void sites.refreshAll(false).then(() => sites.refreshAll(true)).catch((e: unknown) => ctx.log.warn({ err: e }, 'sites: first refresh failed'));
    });
  },
});

export { SitesService } from './sites.service.js';
