import path from 'node:path';
import { accessSync, constants } from 'node:fs';
import { defineEngine, defineModule, findExecutable, listScope, probeBinary, type Resolver } from '../../../server/src/sdk.js';
import { AppsConfig, type AppsConfigT } from './apps.config.js';
import { defineAppJobs } from './apps.jobs.js';
import { appsMigrations } from './apps.migrations.js';
import { appsPermissions } from './apps.permissions.js';
import { registerAppsRoutes } from './apps.routes.js';
import { AppsService, DEPLOY_JOB_TYPES } from './apps.service.js';

function localDokku(bin: string): string | null {
  if (!path.isAbsolute(bin)) return findExecutable(bin);
  try {
    accessSync(bin, constants.X_OK);
    return bin;
  } catch {
    return null;
  }
}

/**
 * Dokku on the panel's own machine (`dokku version`). Optional: apps on remote Dokku hosts work
 * without it, and the console says "Dokku is not installed here" instead of an empty list.
 */
export const dokkuEngine = defineEngine<AppsConfigT>({
  id: 'dokku',
  title: 'Dokku',
  optional: true,
  probe: async ({ config, runner, timeoutMs }) => {
    if (!config.hosts.split(',').map((h) => h.trim()).includes('local')) return { ok: true, version: 'not used on this host' };
    const found = localDokku(config.dokkuBin);
    const fix = 'install Dokku 0.38 on this machine (https://dokku.com/docs/getting-started/installation/), or add a Dokku host under Server → Hosts and list it in SLIPWAY_APPS_HOSTS';
    if (!found) return { ok: false, reason: `Dokku is not installed on this host (\`${config.dokkuBin}\` not found)`, fix };
    // The runner takes program names only (no absolute path, process-runner.ts assertArgv): run the found file through env.
    return probeBinary(runner, 'env', {
      args: ['--', found, 'version'], what: 'Dokku', fix, timeoutMs,
      version: (out) => /dokku version (\S+)/.exec(out)?.[1] ?? out.trim().split('\n')[0]?.slice(0, 60),
    });
  },
});

export interface AppsModuleOptions {
  /** Resolver for git remotes' network-target check (tests put a table in front of DNS). */
  resolve?: Resolver;
}

/** Dokku apps: deploys you can watch, queue, cancel and roll back; config, domains, TLS, checks, ports. */
export function createAppsModule(opts: AppsModuleOptions = {}) {
  return defineModule({
    id: 'apps',
    title: 'Apps',
    config: AppsConfig,
    permissions: appsPermissions,
    navPermission: appsPermissions.read,
    migrations: appsMigrations,
    engines: [dokkuEngine],
    register(ctx) {
      const { db } = ctx;
      const apps = new AppsService({
        db, jobs: ctx.jobs, audit: ctx.audit, events: ctx.events, hosts: ctx.hosts, log: ctx.log, config: ctx.config, core: ctx.core, hostnames: ctx.hostnames,
        secrets: ctx.secretBox('apps env v1'),
        ...(opts.resolve ? { resolve: opts.resolve } : {}),
      });
      defineAppJobs(ctx.jobs, apps);
      registerAppsRoutes(ctx.http, apps);
      // Each app's live output (`dokku logs <app> -t`) in the server module's log viewer.
      ctx.logSources.add((hostId) => apps.logSources(hostId));
      ctx.overview.count({
        id: 'apps', title: 'Apps', permission: appsPermissions.read,
        count: async (actor) => {
          const owner = listScope(actor, appsPermissions.read);
          let q = db.selectFrom('apps_inventory').select((eb) => eb.fn.countAll<number>().as('n'));
          if (owner !== undefined) q = q.where('owner_id', '=', owner);
          return Number((await q.executeTakeFirst())?.n ?? 0);
        },
      });
      // The inventory (and deploys a crash left without an outcome) are refreshed in the background;
      // every change refreshes its app at once, so GET /apps never calls dokku.
      ctx.schedule('inventory', ctx.config.refreshIntervalSeconds * 1000, () => apps.refreshAll());
      // The certificate watch (as the sites module's): letsencrypt:report of every app, alerts
      // raised/resolved (GET /apps/-/alerts) and `apps.certificate_expiring|expired` events.
      ctx.schedule('certificates', ctx.config.certCheckIntervalHours * 3_600_000, () => apps.checkCertificates().then(() => undefined));
      ctx.onReady(() => {
        void apps.refreshAll()
          .then(() => (ctx.config.certCheckIntervalHours > 0 ? apps.checkCertificates() : undefined))
          .catch((e: unknown) => ctx.log.warn({ err: e }, 'apps: first refresh failed'));
      });
      // A deploy cancelled while queued (or settled by crash recovery) finishes without running a
      // step: its outcome is settled from the job and Dokku's builds:list right after.
      let settleTimer: NodeJS.Timeout | null = null;
      const unsubscribe = ctx.events.subscribe((e) => {
        const job = e.type === 'job.updated' ? (e.data?.job as { type?: string; state?: string } | undefined) : undefined;
        if (!job?.type || !DEPLOY_JOB_TYPES.includes(job.type) || !['cancelled', 'interrupted', 'failed'].includes(job.state ?? '')) return;
        settleTimer ??= setTimeout(() => {
          settleTimer = null;
          void apps.reconcileDeploys().catch((err: unknown) => ctx.log.warn({ err }, 'apps: deploy reconciliation failed'));
        }, 300);
        settleTimer.unref();
      });
      ctx.onClose(() => {
        unsubscribe();
        if (settleTimer) clearTimeout(settleTimer);
        apps.close();
      });
    },
  });
}

export const appsModule = createAppsModule();
export { AppsService } from './apps.service.js';
