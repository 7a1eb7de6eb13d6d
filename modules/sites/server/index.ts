import { defineModule } from '../../../server/src/platform/module.js';
import { registerLogSources } from '../../server/server/index.js';
import { defineSiteJobs } from './sites.jobs.js';
import { sitesPermissions } from './sites.permissions.js';
import { sitesMigrations, type SitesDb } from './sites.repo.js';
import { registerSitesRoutes } from './sites.routes.js';
import { SitesConfig, SitesService } from './sites.service.js';

/** WordPress, PHP, HTML and proxy sites on WordOps hosts, with a certificate watch. */
export const sitesModule = defineModule({
  id: 'sites',
  title: 'Sites',
  config: SitesConfig,
  permissions: sitesPermissions,
  navPermission: sitesPermissions.read,
  migrations: sitesMigrations,
  register(ctx) {
    const sites = new SitesService({
      db: ctx.db as unknown as SitesDb,
      jobs: ctx.jobs,
      audit: ctx.audit,
      events: ctx.events,
      hosts: ctx.hosts,
      log: ctx.log,
      config: ctx.config,
    });
    defineSiteJobs(ctx.jobs, sites);
    registerSitesRoutes(ctx.http, sites);
    // Site logs appear in the server module's log viewer next to the host's own logs.
    ctx.onClose(registerLogSources((hostId) => sites.logSources(hostId)));

    const timers: NodeJS.Timeout[] = [];
    const every = (ms: number, fn: () => Promise<unknown>) => {
      if (ms <= 0) return;
      const t = setInterval(() => void fn().catch((e: unknown) => ctx.log.warn({ err: e }, 'sites: background task failed')), ms);
      t.unref();
      timers.push(t);
    };
    ctx.onReady(() => {
      // First a fast refresh so the list is filled, then the deep (certificates, disk) one.
      void sites.refreshAll(false).then(() => sites.refreshAll(true)).catch((e: unknown) => ctx.log.warn({ err: e }, 'sites: first refresh failed'));
      every(ctx.config.refreshIntervalSeconds * 1000, () => sites.refreshAll(false));
      every(ctx.config.certCheckIntervalHours * 3_600_000, () => sites.refreshAll(true));
    });
    ctx.onClose(() => {
      for (const t of timers) clearInterval(t);
    });
  },
});

export { SitesService } from './sites.service.js';
