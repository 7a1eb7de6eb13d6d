import { z } from 'zod';
import {
  assertStreamCapacity, type HttpApp, JobAccepted, JobSummary, liveLogCursor, openSse, serveLiveLog,
} from '../../../server/src/sdk.js';
import { openContainerLog } from './container-log.source.js';
import { containersPermissions as P } from './containers.permissions.js';
import { CreateService, ServiceView, UpdateService, WakeRecord } from './containers.schema.js';
import type { ContainersService } from './containers.service.js';

const Id = z.object({ id: z.string().min(1).max(100) });
const HostParam = z.object({ hostId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) });
const DockerParam = HostParam.extend({ containerId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/) });
const Confirm = z.object({ confirm: z.string().max(200) });
const LogQuery = z.object({
  container: z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/).optional(),
  tail: z.coerce.number().int().min(0).max(5000).default(200),
  follow: z.enum(['true', 'false']).default('true'),
  /** The cursor of the last line received (clients that cannot send Last-Event-ID). */
  since: z.string().max(100).optional(),
});
const ContainerSummary = z.object({
  id: z.string(), name: z.string(), image: z.string(), state: z.string(), status: z.string(), createdAt: z.number(),
  ports: z.array(z.object({ containerPort: z.number(), hostPort: z.number().nullable(), hostIp: z.string().nullable(), protocol: z.string() })),
  labels: z.record(z.string(), z.string()), managed: z.boolean(), serviceId: z.string().nullable(),
});

const StatsPointSchema = z.object({ at: z.number(), cpuPercent: z.number(), memoryBytes: z.number(), memoryLimitBytes: z.number(), rxBytesPerSec: z.number(), txBytesPerSec: z.number() });

/** Thin routes: parse, call one service method, present. */
export function registerContainerRoutes(http: HttpApp, svc: ContainersService): void {
  http.get('/containers', { config: { permission: P.read }, schema: { operationId: 'listContainerServices', tags: ['containers'], summary: 'List services', response: { 200: z.object({ items: z.array(ServiceView) }) } } },
    async (req) => ({ items: await svc.list(req.actor) }));

  http.post('/containers', { config: { permission: P.create }, schema: { operationId: 'createContainerService', tags: ['containers'], summary: 'Create a service (job)', body: CreateService, response: { 202: z.object({ service: ServiceView, job: JobSummary }) } } },
    async (req, reply) => reply.code(202).send(await svc.create(req.actor, req.body)));

  http.get('/containers/:id', { config: { permission: P.read }, schema: { operationId: 'getContainerService', summary: 'One service', tags: ['containers'], params: Id, response: { 200: z.object({ service: ServiceView }) } } },
    async (req) => ({ service: await svc.get(req.actor, req.params.id) }));

  http.patch('/containers/:id', { config: { permission: P.update }, schema: { operationId: 'updateContainerService', tags: ['containers'], summary: 'Change a service (job)', params: Id, body: UpdateService, response: { 202: z.object({ service: ServiceView, job: JobSummary }) } } },
    async (req, reply) => reply.code(202).send(await svc.update(req.actor, req.params.id, req.body)));

  http.delete('/containers/:id', { config: { permission: P.delete }, schema: { operationId: 'deleteContainerService', tags: ['containers'], summary: "Delete a service and its containers (job); body { confirm: '<name>' }", params: Id, body: Confirm, response: { 202: JobAccepted } } },
    async (req, reply) => reply.code(202).send({ job: await svc.remove(req.actor, req.params.id, req.body.confirm) }));

  http.post('/containers/:id/wake', { config: { permission: P.power }, schema: { operationId: 'wakeContainerService', tags: ['containers'], summary: 'Wake now (waits until ready)', params: Id, response: { 200: z.object({ service: ServiceView }) } } },
    async (req) => ({ service: await svc.wake(req.actor, req.params.id) }));

  http.post('/containers/:id/sleep', { config: { permission: P.power }, schema: { operationId: 'sleepContainerService', tags: ['containers'], summary: 'Put to sleep now', params: Id, response: { 200: z.object({ service: ServiceView }) } } },
    async (req) => ({ service: await svc.sleep(req.actor, req.params.id) }));

  http.get('/containers/:id/wakes', { config: { permission: P.read }, schema: { operationId: 'listContainerServiceWakes', tags: ['containers'], summary: 'Cold-start history, newest first', params: Id, querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }), response: { 200: z.object({ items: z.array(WakeRecord) }) } } },
    async (req) => ({ items: await svc.wakes(req.actor, req.params.id, req.query.limit) }));

  http.get('/containers/:id/logs', { config: { permission: P.read }, schema: { operationId: 'followContainerServiceLogs', 'x-sse': 'live-log', tags: ['containers'], summary: 'Live logs of a service container (SSE, the live-log wire format: `log` {stream, line, at, cursor} with id = cursor, `end` {reason: stopped | gone | finished}). Resume with Last-Event-ID or ?since=: only newer lines come, never the tail again.', params: Id, querystring: LogQuery } },
    async (req, reply) => {
      assertStreamCapacity(req); // 429 before a follower starts
      const { id } = req.params;
      const { container, follow, tail } = req.query;
      const source = await openContainerLog((o, onLine) => svc.serviceLogs(req.actor, id, container, onLine, o), {
        cursor: liveLogCursor(req), tail, follow: follow === 'true',
        state: () => svc.serviceContainer(req.actor, id, container),
      });
      await serveLiveLog(req, reply, source, { log: req.log });
    });

  http.get('/containers/:id/stats', { config: { permission: P.read }, schema: { operationId: 'streamContainerServiceStats', 'x-sse': { stats: 'one sample of CPU, memory and network of the service container' }, tags: ['containers'], summary: 'Live CPU, memory and network (SSE: event stats)', params: Id, querystring: z.object({ container: LogQuery.shape.container }) } },
    async (req, reply) => {
      assertStreamCapacity(req); // 429 before a follower starts
      let sse: ReturnType<typeof openSse> | null = null;
      const handle = await svc.serviceStats(req.actor, req.params.id, req.query.container, (s) => sse?.send({ event: 'stats', data: s }));
      sse = openSse(req, reply);
      sse.onClose(() => handle.stop());
    });

  http.get('/containers/:id/stats/history', { config: { permission: P.read }, schema: { operationId: 'getContainerServiceStatsHistory', tags: ['containers'], summary: 'The last hour of CPU, memory and network of a service', description: 'Sampled every `intervalMs` while the service runs (kept in memory for an hour; a panel restart starts over). `since`: only points after this time (epoch ms). Network values are bytes per second.', params: Id, querystring: z.object({ since: z.coerce.number().int().min(0).optional() }), response: { 200: z.object({ intervalMs: z.number(), running: z.boolean(), points: z.array(StatsPointSchema) }) } } },
    async (req) => svc.statsHistory(req.actor, req.params.id, req.query.since));

  // ---- every container and image on a host (Slipway's own marked `managed`) ----
  http.get('/containers/hosts/:hostId/docker/containers', { config: { permission: P['docker.read'] }, schema: { operationId: 'listDockerContainers', tags: ['containers'], summary: 'All containers on a host', params: HostParam, response: { 200: z.object({ items: z.array(ContainerSummary) }) } } },
    async (req) => ({ items: await svc.dockerContainers(req.actor, req.params.hostId) }));

  http.get('/containers/hosts/:hostId/docker/images', { config: { permission: P['docker.read'] }, schema: { operationId: 'listDockerImages', tags: ['containers'], summary: 'Images on a host', params: HostParam, response: { 200: z.object({ items: z.array(z.object({ id: z.string(), tags: z.array(z.string()), sizeBytes: z.number(), createdAt: z.number() })) }) } } },
    async (req) => ({ items: await svc.dockerImages(req.actor, req.params.hostId) }));

  http.get('/containers/hosts/:hostId/docker/containers/:containerId', { config: { permission: P['docker.read'] }, schema: { operationId: 'inspectDockerContainer', tags: ['containers'], summary: 'Inspect (environment values masked)', params: DockerParam } },
    async (req) => ({ container: await svc.dockerInspect(req.actor, req.params.hostId, req.params.containerId) }));

  for (const action of ['start', 'stop', 'restart'] as const) {
    http.post(`/containers/hosts/:hostId/docker/containers/:containerId/${action}`, {
      config: { permission: P['docker.manage'] },
      schema: { operationId: `${action}DockerContainer`, tags: ['containers'], summary: `${action} a container${action === 'start' ? '' : "; body { confirm: '<container name>' }"}`, params: DockerParam, body: Confirm.partial().optional(), response: { 200: z.object({ ok: z.literal(true) }) } },
    }, async (req) => {
      await svc.dockerAction(req.actor, req.params.hostId, req.params.containerId, action, req.body?.confirm);
      return { ok: true as const };
    });
  }

  http.get('/containers/hosts/:hostId/docker/containers/:containerId/logs', { config: { permission: P['docker.read'] }, schema: { operationId: 'followDockerContainerLogs', 'x-sse': 'live-log', tags: ['containers'], summary: 'Live logs (SSE, the live-log wire format; resume with Last-Event-ID or ?since=)', params: DockerParam, querystring: LogQuery.omit({ container: true }) } },
    async (req, reply) => {
      assertStreamCapacity(req); // 429 before a follower starts
      const { hostId, containerId } = req.params;
      const source = await openContainerLog((o, onLine) => svc.dockerLogs(req.actor, hostId, containerId, onLine, o), {
        cursor: liveLogCursor(req), tail: req.query.tail, follow: req.query.follow === 'true',
        state: async () => {
          const st = (await svc.dockerInspect(req.actor, hostId, containerId)).State as { Running?: boolean; ExitCode?: number } | undefined;
          return { running: !!st?.Running, exitCode: st?.ExitCode ?? null };
        },
      });
      await serveLiveLog(req, reply, source, { log: req.log });
    });

  http.get('/containers/hosts/:hostId/docker/containers/:containerId/stats', { config: { permission: P['docker.read'] }, schema: { operationId: 'streamDockerContainerStats', 'x-sse': { stats: 'one sample of CPU, memory and network of the container' }, tags: ['containers'], summary: 'Live stats (SSE)', params: DockerParam } },
    async (req, reply) => {
      assertStreamCapacity(req); // 429 before a follower starts
      let sse: ReturnType<typeof openSse> | null = null;
      const handle = await svc.dockerStats(req.actor, req.params.hostId, req.params.containerId, (s) => sse?.send({ event: 'stats', data: s }));
      sse = openSse(req, reply);
      sse.onClose(() => handle.stop());
    });
}
