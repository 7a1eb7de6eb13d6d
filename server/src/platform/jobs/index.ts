import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { Dialect } from '../../db/database.js';
import type { CoreTables } from '../../db/schema.js';
import type { Metrics } from '../../http/metrics.js';
import type { AuditLog } from '../audit/audit.service.js';
import type { EventBus } from '../events/event-bus.js';
import type { HostRegistry } from '../hosts/host-registry.js';
import type { Cluster } from '../cluster/cluster.js';
import type { HttpApp } from '../module.js';
import { DurableJobRunner, type JobRunnerTimings } from './job.service.js';
import type { JobService } from './types.js';

export interface JobRunnerDeps {
  db: Kysely<CoreTables>;
  dialect: Dialect;
  events: EventBus;
  audit: AuditLog;
  hosts: HostRegistry;
  log: FastifyBaseLogger;
  workers: number;
  metrics: Metrics;
  /** The panel's data directory (the self-test checks it is writable). */
  dataDir?: string;
  /** Replicas: the lease owner id is the replica's, and live logs cross replicas through it. */
  cluster?: Cluster;
}

export interface JobRunner extends JobService {
  /** Reconciles jobs left running by a crash, then starts the workers. */
  start(): Promise<void>;
  stop(): Promise<void>;
  isRunning(): boolean;
  registerRoutes(app: HttpApp): void;
}

export function createJobService(deps: JobRunnerDeps, timings?: Partial<JobRunnerTimings>): JobRunner {
  return new DurableJobRunner(deps, timings);
}

export { DurableJobRunner, type JobRunnerTimings } from './job.service.js';
export { SELFTEST_JOB } from './selftest.job.js';
