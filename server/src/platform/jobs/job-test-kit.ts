import { readdirSync, readFileSync } from 'node:fs';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { z } from 'zod';
import { migrate } from '../../db/database.js';
import { createMetrics } from '../../http/metrics.js';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db.js';
import type { OwnedResourceFixture } from '../../testing/owned-resource.js';
import { AuditLog } from '../audit/audit.service.js';
import { EventBus } from '../events/event-bus.js';
import { HostRegistry } from '../hosts/host-registry.js';
import type { Actor } from '../rbac/permissions.js';
import type { JobRunnerDeps } from './index.js';
import { DurableJobRunner, type JobRunnerTimings } from './job.service.js';

/** Test support only: a runner on a fresh test database (SQLite, or PostgreSQL via SLIPWAY_TEST_DATABASE_URL). */
export interface RunnerKit {
  testDb: TestDatabase;
  deps: JobRunnerDeps;
  jobs: DurableJobRunner;
  close(): Promise<void>;
}

export async function createRunnerKit(opts: { workers?: number; timings?: Partial<JobRunnerTimings>; start?: boolean } = {}): Promise<RunnerKit> {
  const testDb = await createTestDatabase();
  const { db, dialect } = testDb.database;
  await migrate(db);
  const events = new EventBus();
  const deps: JobRunnerDeps = {
    db,
    dialect,
    events,
    audit: new AuditLog(db, dialect, events),
    hosts: new HostRegistry(db),
    log: pino({ level: 'silent' }) as unknown as FastifyBaseLogger,
    workers: opts.workers ?? 4,
    metrics: createMetrics(),
    dataDir: testDb.dataDir,
  };
  const jobs = new DurableJobRunner(deps, opts.timings);
  if (opts.start !== false) await jobs.start();
  return {
    testDb,
    deps,
    jobs,
    async close() {
      await jobs.stop();
      await testDb.cleanup();
    },
  };
}

export function testActor(role: Actor['role'] = 'admin', userId = `u-${role}`): Actor {
  return { kind: 'user', userId, username: `${role}-user`, role };
}

/** Pids of processes whose argv is exactly `argv` (reads /proc; Linux only). */
export function pidsWithArgv(argv: string[]): number[] {
  const want = `${argv.join('\0')}\0`;
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8') === want) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

export const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function until<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(25);
  }
}

export interface HoldInterval { start: number; end: number; runner: string }

/**
 * Defines `test.hold`: one step that sleeps `ms` and records when it ran (and on which runner) into
 * `intervals[name]`, so tests can check ordering and overlap.
 */
export function defineHoldJob(runner: DurableJobRunner, intervals: Record<string, HoldInterval>, label = 'A'): void {
  runner.define({
    type: 'test.hold',
    input: z.object({ name: z.string(), ms: z.number() }),
    title: (i) => `hold ${i.name}`,
    steps: [{
      name: 'hold',
      async run(ctx) {
        const start = Date.now();
        await delay(ctx.input.ms);
        intervals[ctx.input.name] = { start, end: Date.now(), runner: label };
      },
    }],
  });
}

export const OWNED_JOB_TYPE = 'test.owned';

/**
 * The core's owned-resource fixture for the route-access test: a job started by `owner` (queued,
 * never run when the app's background work is off), with a log line.
 */
export const ownedJob: OwnedResourceFixture = async (t, owner) => {
  const jobs = t.services.jobs as unknown as DurableJobRunner;
  try {
    jobs.define({ type: OWNED_JOB_TYPE, input: z.object({}), title: () => 'owned job', steps: [{ name: 'wait', run: async () => undefined }] });
  } catch {
    // defined by an earlier call
  }
  const job = await jobs.enqueue(OWNED_JOB_TYPE, {}, { actor: { kind: 'user', userId: owner.user.id, username: owner.user.username, role: owner.user.role } });
  await jobs.store.appendLines(job.id, [{ stream: 'info', line: `secret output of ${owner.user.username}` }]);
  return {
    urlPrefix: '/api/v1/jobs/:id',
    params: { id: job.id },
    snapshot: async () => ({ row: await jobs.store.find(job.id), lines: await jobs.store.readLines(job.id, 0, 100) }),
  };
};
