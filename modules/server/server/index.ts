import { createSshRunnerFactory } from '../../../server/src/infra/ssh.js';
import { LOCAL_HOST_ID } from '../../../server/src/platform/hosts/host-registry.js';
import { defineModule } from '../../../server/src/platform/module.js';
import { registerHostRoutes } from './hosts/hosts.routes.js';
import { HostsService } from './hosts/hosts.service.js';
import { LogsService } from './logs/logs.service.js';
import { MetricsService } from './metrics/metrics.service.js';
import { NetdataService } from './metrics/netdata.service.js';
import { OverviewService } from './overview.service.js';
import { fileLogSources, ServerConfig } from './server.config.js';
import { serverPermissions } from './server.permissions.js';
import { registerServerRoutes } from './server.routes.js';
import { serverMigrations } from './server.tables.js';
import { ServicesService } from './services/services.service.js';

export { registerOverviewCount } from './overview.service.js';
export { registerLogSources, type FileLogSource } from './logs/logs.service.js';
export { serverPermissions } from './server.permissions.js';

/**
 * The server module: hosts over SSH, live metrics (own /proc sampler, Netdata when present),
 * allow-listed systemd services and allow-listed logs, for every host the panel manages.
 */
export const serverModule = defineModule({
  id: 'server',
  title: 'Server',
  config: ServerConfig,
  permissions: serverPermissions,
  navPermission: serverPermissions['metrics.read'],
  migrations: serverMigrations,
  register(ctx) {
    const { config, hosts, db, events, audit } = ctx;
    // Remote hosts are reached with the panel's own key from the data dir.
    const ssh = createSshRunnerFactory({ dataDir: ctx.core.dataDir });
    hosts.setRemoteRunnerFactory(ssh);

    const metrics = new MetricsService(db, hosts, events, {
      intervalMs: config.sampleIntervalMs,
      retentionDays: config.retentionDays,
      thresholds: { diskPercent: config.alertDiskPercent, memoryPercent: config.alertMemoryPercent, loadMinutes: config.alertLoadMinutes },
    }, ctx.log);
    const netdata = new NetdataService(hosts, config.netdataUrl);
    const hostsService = new HostsService({
      db, hosts, audit, events, dataDir: ctx.core.dataDir,
      onHostsChanged: async (hostId) => {
        netdata.forget(hostId);
        await metrics.restartHost(hostId);
      },
    });
    const services = new ServicesService(hosts, audit, events, (hostName) => config.serviceAllowlistByHost?.[hostName] ?? config.serviceAllowlist);
    const logs = new LogsService(hosts, services, () => fileLogSources(config), config.logTailMaxLines);
    const overview = new OverviewService(db, hosts, metrics);

    registerHostRoutes(ctx.http, hostsService, () => ssh.publicKey());
    registerServerRoutes(ctx.http, { metrics, netdata, overview, services, logs, hosts, maxQueuedLines: config.logClientQueueLines });

    ctx.onReady(async () => {
      await metrics.start();
      void hostsService.detectAndStore(LOCAL_HOST_ID).catch((e: unknown) => ctx.log.warn({ err: e }, 'capability detection of the local host failed'));
    });
    ctx.onClose(async () => {
      await metrics.stop();
      ssh.close();
    });
  },
});
