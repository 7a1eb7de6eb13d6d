import { z } from 'zod';
import type { HttpApp } from '../module.js';
import { corePermissions } from '../rbac/core-permissions.js';
import type { Scheduler } from '../schedule/scheduler.js';
import type { Cluster } from './cluster.js';

const Replica = z.object({
  id: z.string(),
  address: z.string(),
  version: z.string(),
  hostname: z.string(),
  pid: z.number(),
  startedAt: z.number(),
  lastHeartbeatAt: z.number(),
  state: z.enum(['alive', 'lost', 'stopped']),
  current: z.boolean().describe('The replica that answered this request'),
  leases: z.array(z.string()).describe('Exactly-once schedules this replica holds'),
  jobs: z.number().describe('Running jobs leased by this replica'),
  localDuties: z.array(z.string()).describe('Machine-local duties (`<module>.<name>`) this replica runs for its own machine'),
});

const LocalSchedule = z.object({
  name: z.string(),
  scope: z.enum(['cluster', 'replica']),
  held: z.boolean(),
  everyMs: z.number(),
  runs: z.number().describe('Runs on this replica since it started'),
  lastRunAt: z.number().nullable(),
});

export const ClusterResponse = z.object({
  /** true on PostgreSQL: several replicas may share the database. */
  shared: z.boolean(),
  replicaId: z.string(),
  replicas: z.array(Replica),
  /** The platform's own schedules as this replica runs them. */
  schedules: z.array(LocalSchedule),
});

/** `GET /api/v1/cluster` (admin): the panel processes on this database. */
export function registerClusterRoutes(app: HttpApp, cluster: Cluster, scheduler: Scheduler): void {
  app.get('/cluster', {
    config: { permission: corePermissions['cluster.read'] },
    schema: {
      operationId: 'getCluster', summary: 'The panel replicas sharing this database',
      tags: ['platform'],
      description: 'The panel replicas sharing this database: id, address, version, start, last heartbeat, state, the exactly-once schedules and jobs each holds, its machine-local duties.',
      response: { 200: ClusterResponse },
    },
  }, async () => ({
    shared: cluster.shared,
    replicaId: cluster.replicaId,
    replicas: await cluster.replicas(),
    schedules: scheduler.list('platform').map((v) => ({ name: v.name, scope: v.scope, held: v.held, everyMs: v.everyMs, runs: v.runs, lastRunAt: v.lastRunAt })),
  }));
}
