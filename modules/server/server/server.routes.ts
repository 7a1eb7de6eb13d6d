import { z } from 'zod';
import {
  assertStreamCapacity, type HostRegistry, type HttpApp, lastEventId, type LiveLogSource, openSse,
  serveLiveLog,
} from '../../../server/src/sdk.js';
import type { LogsService } from './logs/logs.service.js';
import type { MetricsService } from './metrics/metrics.service.js';
import type { NetdataService } from './metrics/netdata.service.js';
import type { MetricSample } from './metrics/proc-parser.js';
import type { OverviewService } from './overview.service.js';
import { serverPermissions } from './server.permissions.js';
import { HostQuery, LogLineSchema, LogQuery, MetricsQuery, NetdataQuery, ServiceAction, UnitName, UnitStatus } from './server.schema.js';
import type { ServicesService } from './services/services.service.js';

const Point = z.object({
  at: z.number(), cpuPercent: z.number(), load1: z.number(), memUsedPercent: z.number(), swapUsedPercent: z.number(),
  netRxBytesPerSec: z.number(), netTxBytesPerSec: z.number(), diskReadBytesPerSec: z.number(), diskWriteBytesPerSec: z.number(), diskMaxUsedPercent: z.number(),
});
const Sample = z.object({
  at: z.number(),
  intervalMs: z.number(),
  cpu: z.object({ percent: z.number(), user: z.number(), system: z.number(), iowait: z.number(), steal: z.number(), perCore: z.array(z.number()), cores: z.number() }),
  load: z.object({ load1: z.number(), load5: z.number(), load15: z.number() }),
  memory: z.object({ totalBytes: z.number(), usedBytes: z.number(), availableBytes: z.number(), usedPercent: z.number(), swapTotalBytes: z.number(), swapUsedBytes: z.number(), swapUsedPercent: z.number() }),
  disks: z.array(z.object({ mount: z.string(), device: z.string(), fstype: z.string(), totalBytes: z.number(), usedBytes: z.number(), availableBytes: z.number(), usedPercent: z.number() })),
  diskIo: z.array(z.object({ device: z.string(), readBytesPerSec: z.number(), writeBytesPerSec: z.number(), readsPerSec: z.number(), writesPerSec: z.number() })),
  network: z.array(z.object({ iface: z.string(), rxBytesPerSec: z.number(), txBytesPerSec: z.number(), rxPacketsPerSec: z.number(), txPacketsPerSec: z.number() })),
  uptimeSeconds: z.number(),
});
const AlertSchema = z.object({ id: z.string(), hostId: z.string(), kind: z.enum(['disk', 'memory', 'load']), subject: z.string(), message: z.string(), value: z.number(), threshold: z.number(), since: z.number() });
const SamplerStatus = z.object({ state: z.string(), error: z.string().nullable(), lastSampleAt: z.number().nullable() });

const WS_HIGH_WATER = 1024 * 1024;

export interface ServerRouteDeps {
  metrics: MetricsService;
  netdata: NetdataService;
  overview: OverviewService;
  services: ServicesService;
  logs: LogsService;
  hosts: HostRegistry;
  maxQueuedLines: number;
}

/** `/api/v1/server/*` and `/api/v1/system/overview`: thin routes over the module's services. */
export function registerServerRoutes(app: HttpApp, d: ServerRouteDeps): void {
  const metricsRead = { permission: serverPermissions['metrics.read'] };
  const logsRead = { permission: serverPermissions['logs.read'] };

  app.get('/system/overview', {
    config: metricsRead,
    schema: {
      operationId: 'getSystemOverview', summary: 'Overview: hosts, resources, modules, jobs and alerts',
      tags: ['server'],
      description: 'Hosts with their latest metrics, resource totals, module counts, job counts and active alerts.',
      response: {
        200: z.object({
          hosts: z.array(z.object({
            id: z.string(), name: z.string(), kind: z.string(), status: z.string(), capabilities: z.record(z.string(), z.boolean()), sampler: SamplerStatus.nullable(),
            metrics: z.object({ cpuPercent: z.number(), cores: z.number(), load1: z.number(), memUsedPercent: z.number(), diskMaxUsedPercent: z.number(), uptimeSeconds: z.number() }).nullable(),
          })),
          totals: z.object({ hosts: z.number(), online: z.number(), cores: z.number(), memoryTotalBytes: z.number(), memoryUsedBytes: z.number(), diskTotalBytes: z.number(), diskUsedBytes: z.number() }),
          modules: z.array(z.object({ id: z.string(), title: z.string(), count: z.number().nullable() })),
          jobs: z.object({ queued: z.number(), running: z.number(), failedLastDay: z.number() }),
          alerts: z.array(AlertSchema),
          at: z.number(),
        }),
      },
    },
  }, async (req) => d.overview.get(req.actor));

  app.get('/server/metrics', {
    config: metricsRead,
    schema: {
      operationId: 'getServerMetrics', summary: 'A host\'s current metrics and their history',
      tags: ['server'],
      description: 'Current values and history. `from`/`to`: epoch ms or negative seconds from now (default: the last 15 minutes); `step`: bucket in ms.',
      querystring: MetricsQuery,
      response: { 200: z.object({ hostId: z.string(), intervalMs: z.number(), sampler: SamplerStatus.nullable(), current: Sample.nullable(), history: z.array(Point), from: z.number(), to: z.number(), step: z.number() }) },
    },
  }, async (req) => {
    await d.hosts.get(req.query.host);
    const to = req.query.to ?? Date.now();
    const from = req.query.from ?? to - 15 * 60_000;
    const step = req.query.step ?? (to - from <= 3_600_000 ? d.metrics.intervalMs : 60_000);
    return {
      hostId: req.query.host,
      intervalMs: d.metrics.intervalMs,
      sampler: d.metrics.status(req.query.host) ?? null,
      current: d.metrics.current(req.query.host) ?? null,
      history: await d.metrics.history(req.query.host, from, to, step),
      from, to, step,
    };
  });

  app.get('/server/metrics/stream', {
    config: metricsRead,
    schema: { operationId: 'streamServerMetrics', summary: 'Live metrics of a host (SSE)', 'x-sse': { sample: 'one sample of the host; the id is its time (resume with Last-Event-ID or ?since=)' }, tags: ['server'], description: 'Server-Sent Events: `sample` with each new sample of the host (id = its time). A reconnect with Last-Event-ID (or ?since=) first gets the samples it missed from the last hour; otherwise the latest one.', querystring: HostQuery.extend({ since: z.string().max(20).optional() }) },
  }, async (req, reply) => {
    await d.hosts.get(req.query.host);
    const since = Number(lastEventId(req));
    const sse = openSse(req, reply);
    const send = (s: MetricSample) => sse.send({ id: s.at, event: 'sample', data: s });
    for (const s of d.metrics.missed(req.query.host, since)) send(s);
    sse.onClose(d.metrics.subscribe(req.query.host, send));
  });

  app.get('/server/metrics/ws', {
    websocket: true,
    config: metricsRead,
    schema: { operationId: 'streamServerMetricsWs', summary: 'Live metrics of a host (WebSocket)', tags: ['server'], description: 'WebSocket: `{type: "sample", sample}` messages; `?since=<sample time>` resumes.', querystring: HostQuery.extend({ since: z.coerce.number().int().min(0).optional() }) },
    preHandler: async (req) => {
      await d.hosts.get((req.query as { host: string }).host);
    },
  }, (socket, req) => {
    const { host, since } = req.query as { host: string; since?: number };
    const send = (s: MetricSample) => {
      // A client that is not reading gets the newest sample later, not a growing backlog.
      if (socket.readyState === socket.OPEN && socket.bufferedAmount < WS_HIGH_WATER) socket.send(JSON.stringify({ type: 'sample', sample: s }));
    };
    for (const s of d.metrics.missed(host, since)) send(s);
    const off = d.metrics.subscribe(host, send);
    socket.on('close', off);
  });

  app.get('/server/netdata', {
    config: { permission: serverPermissions['netdata.read'] },
    schema: {
      operationId: 'getNetdataChart', summary: 'A chart from the host\'s Netdata agent',
      tags: ['server'],
      description: 'A chart from the host\'s Netdata agent (API v1, or v2/v3 when the agent serves them), normalised.',
      querystring: NetdataQuery,
      response: { 200: z.object({ apiVersion: z.number(), chart: z.string(), labels: z.array(z.string()), points: z.array(z.object({ at: z.number(), values: z.array(z.number().nullable()) })) }) },
    },
  }, async (req) => d.netdata.data(req.actor, req.query.host, req.query.chart, req.query.seconds, req.query.points));

  app.get('/server/netdata/info', {
    config: { permission: serverPermissions['netdata.read'] },
    schema: { operationId: 'getNetdataInfo', summary: 'The host\'s Netdata agent: version and charts', tags: ['server'], querystring: HostQuery, response: { 200: z.object({ available: z.boolean(), apiVersion: z.number().nullable(), agentVersion: z.string().nullable(), error: z.string().nullable() }) } },
  }, async (req) => d.netdata.info(req.actor, req.query.host));

  app.get('/server/services', {
    config: { permission: serverPermissions['services.read'] },
    schema: {
      operationId: 'listServerServices', summary: 'Allow-listed systemd units of a host',
      tags: ['server'],
      description: 'Allow-listed systemd units of a host. `systemd.live` is false where systemd is not PID 1 (the list is then empty).',
      querystring: HostQuery,
      response: { 200: z.object({ hostId: z.string(), systemd: z.object({ live: z.boolean(), state: z.string() }), allowlist: z.array(z.string()), items: z.array(UnitStatus) }) },
    },
  }, async (req) => d.services.list(req.actor, req.query.host));

  app.get('/server/services/:name', {
    config: { permission: serverPermissions['services.read'] },
    schema: { operationId: 'getServerService', summary: 'One allow-listed systemd unit', tags: ['server'], params: z.object({ name: UnitName }), querystring: HostQuery, response: { 200: z.object({ service: UnitStatus }) } },
  }, async (req) => ({ service: await d.services.status(req.actor, req.query.host, req.params.name) }));

  app.post('/server/services/:name/:action', {
    // Every action needs at least services.restart (restart/reload); start/stop also services.manage: checked by the service.
    config: { permission: serverPermissions['services.restart'] },
    schema: { operationId: 'controlServerService', summary: 'Start, stop, restart or reload an allow-listed unit', tags: ['server'], description: 'start | stop | restart | reload an allow-listed unit (audited).', params: z.object({ name: UnitName, action: ServiceAction }), querystring: HostQuery, response: { 200: z.object({ service: UnitStatus }) } },
  }, async (req) => ({ service: await d.services.act(req.actor, req.query.host, req.params.name, req.params.action) }));

  app.get('/server/logs', {
    config: logsRead,
    schema: { operationId: 'listLogSources', summary: 'The logs of a host that I may read', tags: ['server'], querystring: HostQuery, response: { 200: z.object({ items: z.array(z.object({ id: z.string(), title: z.string(), kind: z.enum(['file', 'journal', 'command']), path: z.string().optional(), unit: z.string().optional(), command: z.string().optional(), available: z.boolean() })) }) } },
  }, async (req) => ({ items: await d.logs.list(req.actor, req.query.host) }));

  const SourceParam = z.object({ source: z.string().min(1).max(200) });
  const LogStreamQuery = LogQuery.extend({ since: z.string().max(600).optional() });

  app.get('/server/logs/:source', {
    config: logsRead,
    schema: { operationId: 'readServerLog', summary: 'The last lines of a log (filters)', tags: ['server'], description: 'The last `lines` lines (after the `q` / `level` filter).', params: SourceParam, querystring: LogQuery, response: { 200: z.object({ items: z.array(LogLineSchema) }) } },
  }, async (req) => ({ items: await d.logs.tail(req.actor, req.query.host, req.params.source, req.query.lines, req.query) }));

  app.get('/server/logs/:source/download', {
    config: logsRead,
    schema: { operationId: 'downloadServerLog', summary: 'Download the last lines of a log as a text file', 'x-produces': { 'text/plain': 'The log lines' }, tags: ['server'], description: 'The last `lines` lines as a text file.', params: SourceParam, querystring: LogQuery },
  }, async (req, reply) => {
    const lines = await d.logs.tail(req.actor, req.query.host, req.params.source, req.query.lines, req.query);
    reply.header('content-type', 'text/plain; charset=utf-8');
    reply.header('content-disposition', `attachment; filename="${req.params.source.replace(/[^A-Za-z0-9._-]/g, '_')}.log"`);
    return lines.map((l) => l.text).join('\n') + (lines.length ? '\n' : '');
  });

  app.get('/server/logs/:source/stream', {
    config: logsRead,
    schema: {
      operationId: 'followServerLog', summary: 'Follow a log (SSE)', 'x-sse': 'live-log',
      tags: ['server'],
      description: 'SSE (the live-log wire format): `log` {seq, stream, line, level, at?, cursor} with id = cursor, `state` {state, message} (`notice` for rotation and truncation, `skipped` {count} when the client fell behind), `end` {reason, message}. Resume with Last-Event-ID (or ?since=<cursor>): only lines after it are sent.',
      params: SourceParam,
      querystring: LogStreamQuery,
    },
  }, async (req, reply) => {
    assertStreamCapacity(req); // 429 before a follower starts
    const source = await d.logs.source(req.actor, req.query.host, req.params.source, req.query, req.query.lines, { maxQueued: d.maxQueuedLines });
    await serveLiveLog(req, reply, source, { log: req.log });
  });

  const wsSources = new WeakMap<object, LiveLogSource>();
  app.get('/server/logs/:source/ws', {
    websocket: true,
    config: logsRead,
    schema: { operationId: 'followServerLogWs', summary: 'Follow a log (WebSocket)', tags: ['server'], description: 'WebSocket: the live-log wire format as JSON messages `{type: "log" | "state" | "end", …}`; `?since=<cursor>` resumes.', params: SourceParam, querystring: LogStreamQuery },
    // Checked before the upgrade: an unknown source or host is a plain 404.
    preHandler: async (req) => {
      const q = req.query as z.output<typeof LogStreamQuery>;
      wsSources.set(req, await d.logs.source(req.actor, q.host, (req.params as { source: string }).source, q, q.lines, { maxQueued: d.maxQueuedLines }));
    },
  }, (socket, req) => {
    const source = wsSources.get(req);
    wsSources.delete(req);
    if (!source) return socket.close(1011, 'no source');
    void serveLiveLog(req, socket, source, { log: req.log });
  });
}
