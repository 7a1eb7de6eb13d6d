import { defineEngine, defineModule, listScope, probeHttp } from '../../../server/src/sdk.js';
import { Activator } from './activator.js';
import { CaddyAdmin } from './caddy.admin.js';
import { ContainersGuard } from './containers.guard.js';
import { ContainersConfig } from './containers.config.js';
import { defineContainerJobs } from './containers.jobs.js';
import { createContainersMetrics } from './containers.metrics.js';
import { containersMigrations } from './containers.migrations.js';
import { containersPermissions } from './containers.permissions.js';
import { ServicesRepo } from './containers.repo.js';
import { registerContainerRoutes } from './containers.routes.js';
import { ContainersService } from './containers.service.js';
import { DockerClient } from './docker.client.js';
import { HostPorts } from './host-ports.js';
import { loopbackConnections } from './tcp-activity.js';
import { WakeController } from './wake.controller.js';
import { StatsHistory } from './stats.history.js';
import { startWebhooks } from './webhooks.js';

export interface ContainersRuntime {
  service: ContainersService;
  controller: WakeController;
  activator: Activator;
  docker: DockerClient;
  caddy: CaddyAdmin;
  config: ContainersConfig;
  hostPorts: HostPorts;
}

/** Caddy's admin API: the module writes its server's routes there (warm → container, asleep → activator). */
export const caddyEngine = defineEngine<ContainersConfig>({
  id: 'caddy',
  title: 'Caddy admin API',
  probe: ({ config, timeoutMs }) => {
    const where = config.caddyAdminUrl.replace(/^http:\/\//, '').replace(/\/$/, '');
    return probeHttp({ url: `${config.caddyAdminUrl.replace(/\/$/, '')}/config/` }, {
      what: `Caddy admin API at ${where}`,
      fix: `install the \`caddy\` package and start it (\`caddy run\`), or point SLIPWAY_CONTAINERS_CADDY_ADMIN_URL at its admin API`,
      timeoutMs,
    });
  },
});

/** The local Docker Engine (its unix socket). */
export const dockerEngine = defineEngine<ContainersConfig>({
  id: 'docker',
  title: 'Docker',
  probe: ({ config, timeoutMs }) => probeHttp({ socketPath: config.dockerSocket, path: '/version' }, {
    what: `Docker at ${config.dockerSocket}`,
    fix: `install the \`docker.io\` package and start dockerd (the panel's user needs access to the socket), or set SLIPWAY_CONTAINERS_DOCKER_SOCKET`,
    timeoutMs,
    version: (body) => {
      const v = JSON.parse(body) as { Version?: string; ApiVersion?: string };
      return v.Version ? `${v.Version} (API ${v.ApiVersion})` : undefined;
    },
  }),
});

/** The containers module; `onRuntime` hands its parts to tests and the benchmark. */
export function createContainersModule(opts: { onRuntime?: (rt: ContainersRuntime) => void } = {}) {
  return defineModule({
    id: 'containers',
    title: 'Containers',
    config: ContainersConfig,
    permissions: containersPermissions,
    navPermission: containersPermissions.read,
    migrations: containersMigrations,
    engines: [caddyEngine, dockerEngine],
    async register(ctx) {
      const config = ctx.config;
      const repo = new ServicesRepo(ctx.db);
      const docker = new DockerClient({ socketPath: config.dockerSocket });
      // Caddy keeps an idle upstream connection a little longer than one idle sweep: an open
      // connection to a service's port is then activity the sweep cannot miss (issue 16).
      const upstreamIdleTimeout = `${Math.max(1000, Math.ceil(config.idleCheckIntervalMs * 1.5) + 500)}ms`;
      const caddy = new CaddyAdmin(config.caddyAdminUrl, config.caddyServer, { upstreamIdleTimeout, ...(config.streamCloseDelay ? { streamCloseDelay: config.streamCloseDelay } : {}) });
      const hostPorts = new HostPorts(docker, config.httpPortRange);
      const metrics = createContainersMetrics(ctx.http.slipway.metrics.registry);
      const guard = new ContainersGuard({ config, dataDir: ctx.core.dataDir, db: ctx.db, namespace: config.caddyServer });
      let activator: Activator | null = null;
      const controller = new WakeController({
        repo, docker, caddy, events: ctx.events, metrics, log: ctx.log, namespace: config.caddyServer,
        listen: config.httpListen, autoHttps: config.autoHttps, legacyAccessLogger: `${config.caddyServer}_access`, failureBackoffMs: config.failureBackoffMs,
        connections: (ports) => loopbackConnections(ports),
        fixedPortOk: (p) => hostPorts.inRange(p),
        activatorDial: () => activator!.dial,
        activatorInFlight: (id) => activator!.inFlight(id),
        guard,
      });
      activator = new Activator(controller, { holdTimeoutMs: config.holdTimeoutMs, log: ctx.log });
      const stats = new StatsHistory(config.statsIntervalMs);
      const service = new ContainersService({ repo, jobs: ctx.jobs, audit: ctx.audit, controller, docker, hosts: ctx.hosts, guard, hostnames: ctx.hostnames, stats });
      defineContainerJobs(ctx.jobs, { repo, docker, controller, namespace: config.caddyServer, guard, hostnames: ctx.hostnames, hostPorts });
      registerContainerRoutes(ctx.http, service);
      // Names of services stored before hostnames were claimed are theirs from the start (no engine needed).
      await service.recordHostnameClaims().catch((e: unknown) => ctx.log.warn({ err: e }, 'containers: recording hostname claims failed'));
      opts.onRuntime?.({ service, controller, activator, docker, caddy, config, hostPorts });

      if (config.webhookUrl && config.webhookSecret) ctx.onClose(startWebhooks(ctx.events, { url: config.webhookUrl, secret: config.webhookSecret, log: ctx.log }));
      ctx.overview.count({
        id: 'services', title: 'Container services', permission: containersPermissions.read,
        count: async (actor) => (await repo.list(listScope(actor, containersPermissions.read))).length,
      });
      // Runs once Caddy and Docker answer (at start or later); tried again after a failure.
      let listening = false;
      ctx.onReady(async () => {
        if (!listening) {
          await activator!.listen(config.activatorPort);
          listening = true;
        }
        try {
          await controller.start();
        } catch (e) {
          await controller.stop().catch(() => {}); // nothing half-started stays behind for the retry
          throw e;
        }
        ctx.log.info({ activator: activator!.dial, listen: config.httpListen }, 'containers: routes reconciled');
      });
      // Idle services go to sleep: one sweep every idleCheckIntervalMs, once the routes are reconciled.
      // Machine-local (replicas, issue 15): each panel process drives its own machine's Docker and Caddy.
      ctx.localDuty('activator', 'Wake-on-request listener and the Caddy routes of this machine');
      ctx.schedule('idle-sweep', config.idleCheckIntervalMs, () => controller.tick(), { local: true });
      // The charts on each service's page: a stats sample of every running service (machine-local, like the sweep).
      ctx.schedule('stats-sample', config.statsIntervalMs, () => service.sampleStats(), { local: true });
      ctx.onClose(async () => {
        await controller.stop();
        await activator!.close();
      });
    },
  });
}

export const containersModule = createContainersModule();
