import { corePermissions, defineEngine, defineModule, probeHttp } from '../../../server/src/sdk.js';
import { LogsService } from './logs/logs.service.js';
import { MetricsService } from './metrics/metrics.service.js';
import { NetdataService } from './metrics/netdata.service.js';
import { OverviewService } from './overview.service.js';
import { fileLogSources, ServerConfig } from './server.config.js';
import { serverPermissions } from './server.permissions.js';
import { registerServerRoutes } from './server.routes.js';
import { serverMigrations } from './server.migrations.js';
import { ServicesService } from './services/services.service.js';

export { type FileLogSource } from './logs/logs.service.js';
export { serverPermissions } from './server.permissions.js';

/** The local Netdata agent: optional (metrics come from the module's own /proc sampler without it). */
export const netdataEngine = defineEngine<ServerConfig>({
  id: 'netdata',
  title: 'Netdata',
  optional: true,
  probe: ({ config, timeoutMs }) => probeHttp({ url: `${config.netdataUrl.replace(/\/$/, '')}/api/v1/info` }, {
    what: `Netdata at ${config.netdataUrl.replace(/^https?:\/\//, '').replace(/\/$/, '')} (optional: charts and alarms beyond the built-in metrics)`,
    fix: 'optional: install the `netdata` package and start it, or set SLIPWAY_SERVER_NETDATA_URL',
    timeoutMs,
    version: (body) => (JSON.parse(body) as { version?: string }).version,
  }),
});

/**
 * The server module: live metrics (own /proc sampler, Netdata when present), allow-listed systemd
 * services and allow-listed logs, for every host the panel manages (hosts are the platform's).
 */
export const serverModule = defineModule({
  id: 'server',
  title: 'Server',
  config: ServerConfig,
  permissions: serverPermissions,
  navPermission: serverPermissions['metrics.read'],
  migrations: serverMigrations,
  engines: [netdataEngine],
  register(ctx) {
    const { config, hosts, db, events, audit } = ctx;
    const metrics = new MetricsService(db, hosts, events, {
      intervalMs: config.sampleIntervalMs,
      retentionDays: config.retentionDays,
      thresholds: { diskPercent: config.alertDiskPercent, memoryPercent: config.alertMemoryPercent, loadMinutes: config.alertLoadMinutes },
    }, ctx.log);
    const netdata = new NetdataService(hosts, config.netdataUrl);
    // Samplers and the Netdata cache follow the host list (hosts are added and removed by the platform).
    ctx.onClose(hosts.onChanged(async (hostId) => {
      netdata.forget(hostId);
      await metrics.restartHost(hostId);
    }));
    const services = new ServicesService(hosts, audit, events, (hostName) => config.serviceAllowlistByHost?.[hostName] ?? config.serviceAllowlist);
    const logs = new LogsService(hosts, services, () => fileLogSources(config), config.logTailMaxLines, {
      forHost: (hostId) => ctx.http.slipway.logSources.forHost(hostId),
      // No log source may point into the panel's own files (keys, database).
      deny: [ctx.core.dataDir],
    });
    const overview = new OverviewService(db, hosts, metrics, ctx.http.slipway.overview);
    ctx.overview.count({ id: 'hosts', title: 'Hosts', permission: corePermissions['hosts.read'], count: async () => (await hosts.list()).length });

    registerServerRoutes(ctx.http, { metrics, netdata, overview, services, logs, hosts, maxQueuedLines: config.logClientQueueLines });

    ctx.schedule('metrics-prune', 3_600_000, () => metrics.prune());
    // Machine-local (replicas, issue 15): every panel process samples for its own live charts.
    ctx.localDuty('metrics-sampler', 'Samples each host\'s /proc for the live metrics this replica serves');
    ctx.onReady(async () => {
      await metrics.start();
    });
    ctx.onClose(async () => {
      await metrics.stop();
    });
  },
});
