import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../db/database.js';
import { createMetrics } from '../../http/metrics.js';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db.js';
import { AuditLog } from '../audit/audit.service.js';
import { EventBus } from '../events/event-bus.js';
import { HostRegistry } from '../hosts/host-registry.js';
import { SYSTEM_ACTOR } from '../rbac/permissions.js';
import { DurableJobRunner } from './job.service.js';
import { delay, until } from './job-test-kit.js';
import { SELFTEST_JOB } from './selftest.job.js';
import { freePort, isolatedModuleEnv } from '../../testing/ports.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');


/** A real panel process (`node --import tsx server/src/main.ts start`) on the test database. */
function startPanel(testDb: TestDatabase, port: number, moduleEnv: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const env: NodeJS.ProcessEnv = { ...process.env, SLIPWAY_DATA_DIR: testDb.dataDir, SLIPWAY_LISTEN: `127.0.0.1:${port}`, SLIPWAY_LOG_LEVEL: 'warn', SLIPWAY_JOB_WORKERS: '2', ...moduleEnv };
  delete env.SLIPWAY_TEST_DATABASE_URL;
  if (testDb.pgSchema) env.SLIPWAY_DATABASE_URL = `${testDb.url}${testDb.url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${testDb.pgSchema}`)}`;
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts', 'start'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

describe('crash recovery of a real panel process', () => {
  let testDb: TestDatabase;
  let jobs: DurableJobRunner;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    testDb = await createTestDatabase();
    const { db, dialect } = testDb.database;
    await migrate(db);
    const events = new EventBus();
    // Not started: used to enqueue into, and read from, the database the spawned panel uses.
    jobs = new DurableJobRunner({
      db, dialect, events, audit: new AuditLog(db, dialect, events), hosts: new HostRegistry(db),
      log: pino({ level: 'silent' }) as unknown as FastifyBaseLogger, workers: 1, metrics: createMetrics(), dataDir: testDb.dataDir,
    });
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await testDb?.cleanup();
  });

  it('after kill -9 and a restart, the job is not left running and its log is kept', async () => {
    // A slow self-test (0.4 s between checks, ~4 s in all) queued before the panel starts.
    const job = await jobs.enqueue(SELFTEST_JOB, { pauseMs: 400 }, { actor: SYSTEM_ACTOR });
    const port = await freePort();

    const moduleEnv = await isolatedModuleEnv(`crash_${port}`);
    const first = startPanel(testDb, port, moduleEnv);
    children.push(first.child);
    // Wait until it is mid-job: the database step has logged, a later step is running.
    const beforeKill = await until('the job to be running with log lines', async () => {
      const row = await jobs.store.find(job.id);
      const lines = await jobs.store.readLines(job.id, 0, 100);
      return row?.state === 'running' && Number(row.current_step) >= 1 && lines.some((l) => l.line.startsWith('Database')) ? lines : undefined;
    }, 60_000).catch((e: Error) => { throw new Error(`${e.message}; panel output:\n${first.output()}`); });

    first.child.kill('SIGKILL');
    await first.exited;
    const orphan = (await jobs.store.find(job.id))!;
    expect(orphan.state).toBe('running'); // what a crash leaves behind

    const second = startPanel(testDb, port, moduleEnv);
    children.push(second.child);
    const finished = await jobs.waitFor(job.id, 60_000).catch((e: Error) => { throw new Error(`${e.message}; panel output:\n${second.output()}`); });
    // Every self-test step is idempotent: the job resumes where it stopped and completes.
    expect(finished.state).toBe('succeeded');
    expect(finished.steps.every((s) => s.state === 'succeeded')).toBe(true);

    const after = await jobs.store.readLines(job.id, 0, 1000);
    // The lines written before the crash are still there, unchanged, in order.
    expect(after.slice(0, beforeKill.length)).toEqual(beforeKill);
    const text = after.map((l) => l.line);
    expect(text).toContainEqual(expect.stringMatching(/because the panel process running it stopped; the step is safe to repeat/));
    expect(text).toContainEqual(expect.stringMatching(/^Attempt 2: continuing at step/));
    expect(text.filter((l) => l.startsWith('Database')).length).toBe(1); // completed steps did not run again
    expect(text.at(-1)).toBe('✓ done');
    expect(after.map((l) => l.seq)).toEqual(after.map((_, i) => i + 1));

    second.child.kill('SIGTERM');
    await Promise.race([second.exited, delay(10_000)]);
  }, 180_000);
});
