import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openDatabase, type Database } from '../../db/database.js';
import { createMetrics } from '../../http/metrics.js';
import { AuditLog } from '../audit/audit.service.js';
import { EventBus } from '../events/event-bus.js';
import { HostRegistry } from '../hosts/host-registry.js';
import { DurableJobRunner } from './job.service.js';
import { createRunnerKit, defineHoldJob, delay, testActor, until, type RunnerKit } from './job-test-kit.js';

const admin = testActor('admin');

describe('two runners on one database (two panel processes)', () => {
  let kit: RunnerKit;
  let second: DurableJobRunner;
  let secondDb: Database;
  const intervals: Record<string, { start: number; end: number; runner: string }> = {};
  const timings = { leaseMs: 1000, heartbeatMs: 200, pollMs: 100 };

  const defineHold = (runner: DurableJobRunner, label: string) => defineHoldJob(runner, intervals, label);

  beforeAll(async () => {
    kit = await createRunnerKit({ workers: 2, timings, start: false });
    defineHold(kit.jobs, 'A');
    // Its own connection, as another process would have.
    secondDb = openDatabase({ url: kit.testDb.url, dataDir: kit.testDb.dataDir, pgSchema: kit.testDb.pgSchema });
    const events = new EventBus();
    second = new DurableJobRunner({
      db: secondDb.db, dialect: secondDb.dialect, events, audit: new AuditLog(secondDb.db, secondDb.dialect, events), hosts: new HostRegistry(secondDb.db),
      log: pino({ level: 'silent' }) as unknown as FastifyBaseLogger, workers: 2, metrics: createMetrics(), dataDir: kit.testDb.dataDir,
    }, timings);
    defineHold(second, 'B');
    await kit.jobs.start();
    await second.start();
  });
  afterAll(async () => {
    await second?.stop();
    await secondDb?.close();
    await kit?.close();
  });

  it('keeps per-resource order across runners, shares the work, and heartbeats keep long jobs from being taken over', async () => {
    const ids: string[] = [];
    for (const name of ['r-1', 'r-2', 'r-3', 'r-4']) ids.push((await kit.jobs.enqueue('test.hold', { name, ms: 150 }, { actor: admin, resource: 'app:shared' })).id);
    // Longer than the 1 s lease: survives only if its runner keeps extending the lease.
    const long = await second.enqueue('test.hold', { name: 'long', ms: 2500 }, { actor: admin, resource: 'app:long' });
    for (let i = 0; i < 6; i++) ids.push((await second.enqueue('test.hold', { name: `free-${i}`, ms: 150 }, { actor: admin })).id);
    for (const id of ids) expect((await kit.jobs.waitFor(id, 20_000)).state).toBe('succeeded');
    const longDone = await kit.jobs.waitFor(long.id, 20_000);
    expect(longDone.state).toBe('succeeded');
    expect(Number((await kit.jobs.store.find(long.id))!.attempts)).toBe(1);
    for (let i = 2; i <= 4; i++) expect(intervals[`r-${i}`]!.start).toBeGreaterThanOrEqual(intervals[`r-${i - 1}`]!.end);
    const runners = new Set(Object.values(intervals).map((v) => v.runner));
    expect([...runners].sort()).toEqual(['A', 'B']);
  });

  it('a job whose lease expired (its panel hung or vanished) is taken over by the other runner', async () => {
    // Enqueued by a panel with a module these two runners lack, so neither claims it itself.
    const third = new DurableJobRunner(kit.deps);
    third.define({ type: 'test.elsewhere', input: z.object({}), title: () => 'elsewhere', steps: [{ name: 'remote work', run: async () => {} }] });
    const job = await third.enqueue('test.elsewhere', {}, { actor: admin, resource: 'app:orphan' });
    // Claimed by a panel on another machine that then stopped renewing its lease.
    await kit.deps.db.updateTable('jobs').set({
      state: 'running', lease_owner: 'other-host/4242/abcd', lease_expires_at: Date.now() + 800, attempts: 1,
      steps: JSON.stringify([{ name: 'remote work', state: 'running', progress: 0, startedAt: Date.now(), finishedAt: null }]),
    }).where('id', '=', job.id).execute();
    await delay(400);
    expect((await kit.jobs.store.find(job.id))!.state).toBe('running'); // lease still valid: left alone
    const done = await kit.jobs.waitFor(job.id, 10_000);
    // Nobody here knows whether its step is safe to repeat: interrupted, never left running.
    expect(done.state).toBe('interrupted');
    expect(done.error).toBe('Interrupted during step "remote work" because its lease expired');
    expect(done.steps[0]!.state).toBe('failed');
  });
});

describe('graceful stop', () => {
  it('hands running jobs back: an idempotent step resumes on the next start, an unsafe one is interrupted', async () => {
    const kit = await createRunnerKit({ workers: 2, timings: { shutdownGraceMs: 300 }, start: false });
    try {
      const ran: string[] = [];
      // The first run outlasts the shutdown grace by far (so a loaded machine cannot let it finish
      // in time); the resumed one is quick.
      const slowStep = (idempotent: boolean) => ({
        name: 'slow',
        idempotent,
        run: (ctx: { signal: AbortSignal; input: { tag: string } }) => new Promise<void>((resolve, reject) => {
          ran.push(ctx.input.tag);
          const tm = setTimeout(resolve, ran.filter((t) => t === ctx.input.tag).length > 1 ? 50 : 15_000);
          ctx.signal.addEventListener('abort', () => { clearTimeout(tm); reject(new Error('stopped')); });
        }),
      });
      kit.jobs.define({ type: 'test.safe', input: z.object({ tag: z.string() }), title: () => 'safe', steps: [slowStep(true)] });
      kit.jobs.define({ type: 'test.unsafe', input: z.object({ tag: z.string() }), title: () => 'unsafe', steps: [slowStep(false)] });
      await kit.jobs.start();
      const safe = await kit.jobs.enqueue('test.safe', { tag: 'safe' }, { actor: admin });
      const unsafe = await kit.jobs.enqueue('test.unsafe', { tag: 'unsafe' }, { actor: admin });
      // Both steps must be under way when the panel stops (claims take longer on PostgreSQL).
      await until('both jobs running', () => ran.length === 2);
      expect(ran.sort()).toEqual(['safe', 'unsafe']);
      await kit.jobs.stop();
      expect((await kit.jobs.store.find(safe.id))!.state).toBe('queued');
      const stopped = await kit.jobs.get(unsafe.id, admin);
      expect(stopped.state).toBe('interrupted');
      expect(stopped.error).toMatch(/panel shut down/);
      await kit.jobs.start();
      expect((await kit.jobs.waitFor(safe.id, 10_000)).state).toBe('succeeded');
      expect(ran.filter((t) => t === 'safe')).toHaveLength(2);
    } finally {
      await kit.close();
    }
  });
});
