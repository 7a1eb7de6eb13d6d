import path from 'node:path';
import { defineModule } from '../../../server/src/platform/module.js';
import { AccessLogTail } from './access-log.tail.js';
import { Activator } from './activator.js';
import { CaddyAdmin } from './caddy.admin.js';
import { ContainersConfig } from './containers.config.js';
import { defineContainerJobs } from './containers.jobs.js';
import { createContainersMetrics } from './containers.metrics.js';
import { containersInit } from './containers.migrations.js';
import { containersPermissions } from './containers.permissions.js';
import { ServicesRepo } from './containers.repo.js';
import { registerContainerRoutes } from './containers.routes.js';
import { ContainersService } from './containers.service.js';
import { DockerClient } from './docker.client.js';
import { WakeController } from './wake.controller.js';
import { startWebhooks } from './webhooks.js';

export interface ContainersRuntime {
  service: ContainersService;
  controller: WakeController;
  activator: Activator;
  docker: DockerClient;
  caddy: CaddyAdmin;
  config: ContainersConfig;
  accessLogger: string;
}

/** The containers module; `onRuntime` hands its parts to tests and the benchmark. */
export function createContainersModule(opts: { onRuntime?: (rt: ContainersRuntime) => void } = {}) {
  return defineModule({
    id: 'containers',
    title: 'Containers',
    config: ContainersConfig,
    permissions: containersPermissions,
    navPermission: containersPermissions.read,
    migrations: { containers_0001_init: containersInit },
    register(ctx) {
      const config = ctx.config;
      const repo = new ServicesRepo(ctx.db);
      const docker = new DockerClient({ socketPath: config.dockerSocket });
      const caddy = new CaddyAdmin(config.caddyAdminUrl, config.caddyServer, { ...(config.streamCloseDelay ? { streamCloseDelay: config.streamCloseDelay } : {}) });
      const accessLogger = `${config.caddyServer}_access`;
      const accessLog = new AccessLogTail(path.resolve(config.accessLogFile ?? path.join(ctx.core.dataDir, 'containers-access.log')));
      const metrics = createContainersMetrics(ctx.http.slipway.metrics.registry);
      let activator: Activator | null = null;
      const controller = new WakeController({
        repo, docker, caddy, events: ctx.events, metrics, log: ctx.log, namespace: config.caddyServer,
        listen: config.httpListen, autoHttps: config.autoHttps, accessLogger, accessLog, failureBackoffMs: config.failureBackoffMs,
        activatorDial: () => activator!.dial,
        activatorInFlight: (id) => activator!.inFlight(id),
      });
      activator = new Activator(controller, { holdTimeoutMs: config.holdTimeoutMs, log: ctx.log });
      const service = new ContainersService({ repo, jobs: ctx.jobs, audit: ctx.audit, controller, docker, hosts: ctx.hosts });
      defineContainerJobs(ctx.jobs, { repo, docker, controller, namespace: config.caddyServer });
      registerContainerRoutes(ctx.http, service);
      opts.onRuntime?.({ service, controller, activator, docker, caddy, config, accessLogger });

      if (config.webhookUrl && config.webhookSecret) ctx.onClose(startWebhooks(ctx.events, { url: config.webhookUrl, secret: config.webhookSecret, log: ctx.log }));
      ctx.onReady(async () => {
        await activator!.listen(config.activatorPort);
        await controller.start(config.idleCheckIntervalMs);
        ctx.log.info({ activator: activator!.dial, listen: config.httpListen }, 'containers: routes reconciled');
      });
      ctx.onClose(async () => {
        await controller.stop();
        await activator!.close();
      });
    },
  });
}

export const containersModule = createContainersModule();
