import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createRunnerKit, delay, pidsWithArgv, testActor, until, type RunnerKit, defineHoldJob, type HoldInterval } from './job-test-kit.js';
import type { JobStepView, JobView } from './types.js';

const admin = testActor('admin');
const Empty = z.object({}).strict();

describe('durable job runner', () => {
  let kit: RunnerKit;
  const trace: string[] = [];
  const intervals: Record<string, HoldInterval> = {};

  beforeAll(async () => {
    kit = await createRunnerKit({ workers: 4 });
    kit.jobs.define({
      type: 'test.three',
      input: Empty,
      title: () => 'three steps',
      steps: ['one', 'two', 'three'].map((name) => ({
        name,
        async run(ctx) {
          ctx.log(`${name} starts`);
          ctx.progress(50);
          await delay(300);
          ctx.log(`${name} ends`, 'stdout');
        },
      })),
    });
    kit.jobs.define({
      type: 'test.failing',
      input: Empty,
      title: () => 'fails at the third step',
      steps: [
        { name: 'a', run: async () => void trace.push('run a'), undo: async () => void trace.push('undo a') },
        { name: 'b', run: async () => void trace.push('run b'), undo: async () => void trace.push('undo b') },
        { name: 'c', run: async () => { trace.push('run c'); throw new Error('disk full'); }, undo: async () => void trace.push('undo c') },
        { name: 'd', run: async () => void trace.push('run d') },
      ],
    });
    defineHoldJob(kit.jobs, intervals);
    kit.jobs.define({
      type: 'test.sleeper',
      input: z.object({ seconds: z.string() }),
      title: () => 'runs sleep',
      steps: [
        { name: 'prepare', run: async (ctx) => { ctx.state.prepared = true; }, undo: async (ctx) => { ctx.log(`undo prepare (prepared=${String(ctx.state.prepared)})`); } },
        { name: 'sleep', run: async (ctx) => { await (await ctx.runner()).exec('sleep', [ctx.input.seconds]); } },
      ],
    });
  });
  afterAll(async () => kit?.close());

  it('runs steps in order, reporting per-step progress, and keeps the log', async () => {
    const seen: JobView[] = [];
    const job = await kit.jobs.enqueue('test.three', {}, { actor: admin });
    expect(job.state).toBe('queued');
    const stop = kit.jobs.follow(job.id, (e) => e.kind === 'state' && seen.push(e.job));
    const done = await kit.jobs.waitFor(job.id, 10_000);
    stop();
    expect(done.state).toBe('succeeded');
    expect(done.progress).toBe(100);
    expect(done.steps.map((s) => [s.name, s.state, s.progress])).toEqual([['one', 'succeeded', 100], ['two', 'succeeded', 100], ['three', 'succeeded', 100]]);
    // While step two ran at 50 %, the job stood at (100 + 50) / 3 = 50 %.
    expect(seen.some((v) => v.steps[1]!.state === 'running' && v.steps[1]!.progress === 50 && v.progress === 50)).toBe(true);
    const lines = await kit.jobs.logs(job.id, admin);
    const text = lines.map((l) => l.line);
    expect(text.indexOf('one ends')).toBeLessThan(text.indexOf('two starts'));
    expect(text.indexOf('two ends')).toBeLessThan(text.indexOf('three starts'));
    expect(lines.find((l) => l.line === 'three ends')?.stream).toBe('stdout');
    expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i + 1));
    const finished = await kit.deps.metrics.registry.getSingleMetricAsString('slipway_jobs_finished_total');
    expect(finished).toContain('slipway_jobs_finished_total{type="test.three",state="succeeded"} 1');
  });

  it('ctx.runner() tees a command\'s stdout and stderr lines into the job log', async () => {
    kit.jobs.define({
      type: 'test.commands',
      input: Empty,
      title: () => 'commands',
      steps: [{
        name: 'run',
        async run(ctx) {
          const run = await ctx.runner();
          await run.exec('printf', ['%s\n', 'first line', 'second line']);
          await run.exec('ls', ['--', '/nonexistent-slipway-dir'], { okExitCodes: [2] });
        },
      }],
    });
    const job = await kit.jobs.enqueue('test.commands', {}, { actor: admin });
    expect((await kit.jobs.waitFor(job.id)).state).toBe('succeeded');
    const lines = await kit.jobs.logs(job.id, admin);
    expect(lines.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['first line', 'second line']);
    expect(lines.find((l) => l.stream === 'stderr')?.line).toMatch(/nonexistent-slipway-dir/);
  });

  it('on failure undoes the completed steps in reverse order and skips the rest', async () => {
    trace.length = 0;
    const job = await kit.jobs.enqueue('test.failing', {}, { actor: admin });
    const done = await kit.jobs.waitFor(job.id, 10_000);
    expect(done.state).toBe('failed');
    expect(done.error).toBe('c: disk full');
    expect(trace).toEqual(['run a', 'run b', 'run c', 'undo b', 'undo a']);
    expect(done.steps.map((s: JobStepView) => s.state)).toEqual(['undone', 'undone', 'failed', 'skipped']);
    const text = (await kit.jobs.logs(job.id, admin)).map((l) => l.line);
    expect(text).toContain('✗ c: disk full');
    expect(text.indexOf('↶ undo b')).toBeLessThan(text.indexOf('↶ undo a'));
  });

  it('runs jobs on one resource strictly one after another in enqueue order, other resources in parallel', async () => {
    const ids = [];
    for (const name of ['r1-a', 'r1-b', 'r1-c']) ids.push((await kit.jobs.enqueue('test.hold', { name, ms: 250 }, { actor: admin, resource: 'site:one' })).id);
    ids.push((await kit.jobs.enqueue('test.hold', { name: 'r2', ms: 250 }, { actor: admin, resource: 'site:two' })).id);
    for (const id of ids) expect((await kit.jobs.waitFor(id, 15_000)).state).toBe('succeeded');
    const [a, b, c, other] = [intervals['r1-a']!, intervals['r1-b']!, intervals['r1-c']!, intervals.r2!];
    expect(b.start).toBeGreaterThanOrEqual(a.end);
    expect(c.start).toBeGreaterThanOrEqual(b.end);
    // The other resource did not wait for the first one's queue.
    expect(other.start).toBeLessThan(a.end);
  });

  it('cancels a queued job at once: it never runs', async () => {
    const blocker = await kit.jobs.enqueue('test.hold', { name: 'blocker', ms: 600 }, { actor: admin, resource: 'vm:1' });
    const waiting = await kit.jobs.enqueue('test.hold', { name: 'never', ms: 10 }, { actor: admin, resource: 'vm:1' });
    const cancelled = await kit.jobs.cancel(waiting.id, admin);
    expect(cancelled.state).toBe('cancelled');
    expect(cancelled.steps[0]!.state).toBe('skipped');
    expect((await kit.jobs.waitFor(blocker.id)).state).toBe('succeeded');
    await delay(200);
    expect(intervals.never).toBeUndefined();
    expect((await kit.jobs.logs(waiting.id, admin)).map((l) => l.line)).toEqual(['Cancelled by admin-user before it started']);
    await expect(kit.jobs.cancel(waiting.id, admin)).rejects.toMatchObject({ status: 409 });
  });

  it('cancels a running job: its real `sleep` process is killed and earlier steps are undone', async () => {
    const seconds = `30.${Math.floor(Math.random() * 1e6)}`;
    const job = await kit.jobs.enqueue('test.sleeper', { seconds }, { actor: admin });
    const [pid] = await until('the sleep process', () => { const p = pidsWithArgv(['sleep', seconds]); return p.length ? p : undefined; });
    const requested = await kit.jobs.cancel(job.id, admin);
    expect(requested.cancelRequested).toBe(true);
    const done = await kit.jobs.waitFor(job.id, 10_000);
    expect(done.state).toBe('cancelled');
    expect(done.steps.map((s) => s.state)).toEqual(['undone', 'skipped']);
    expect(pidsWithArgv(['sleep', seconds])).toEqual([]);
    expect(() => process.kill(pid!, 0)).toThrow();
    const text = (await kit.jobs.logs(job.id, admin)).map((l) => l.line);
    expect(text).toContain('undo prepare (prepared=true)');
  });

  it('lets the user role see and cancel only its own jobs', async () => {
    const alice = testActor('user', 'alice');
    const bob = testActor('user', 'bob');
    const job = await kit.jobs.enqueue('test.hold', { name: 'alice', ms: 400 }, { actor: alice, resource: 'x:alice' });
    await expect(kit.jobs.get(job.id, bob)).rejects.toMatchObject({ status: 404 });
    await expect(kit.jobs.cancel(job.id, bob)).rejects.toMatchObject({ status: 404 });
    expect((await kit.jobs.list({ limit: 50 }, bob)).items).toEqual([]);
    expect((await kit.jobs.list({ limit: 50 }, alice)).items.map((j) => j.id)).toEqual([job.id]);
    await expect(kit.jobs.cancel(job.id, testActor('viewer'))).rejects.toMatchObject({ status: 403 });
    await kit.jobs.waitFor(job.id);
  });

  it('lists with filters and keyset pages', async () => {
    const page1 = await kit.jobs.list({ limit: 2, type: 'test.hold', state: ['succeeded'] }, admin);
    expect(page1.items).toHaveLength(2);
    expect(page1.nextBefore).toBe(page1.items[1]!.id);
    const page2 = await kit.jobs.list({ limit: 2, type: 'test.hold', state: ['succeeded'], before: page1.nextBefore! }, admin);
    expect(page2.items[0]!.id < page1.items[1]!.id).toBe(true);
    expect(page2.items.every((j) => j.type === 'test.hold' && j.state === 'succeeded')).toBe(true);
    const byResource = await kit.jobs.list({ limit: 10, resource: 'site:one' }, admin);
    expect(byResource.items.map((j) => j.title)).toEqual(['hold r1-c', 'hold r1-b', 'hold r1-a']);
  });

  it('writes log lines in batches, truncates lines over 8 KB and keeps every line', async () => {
    kit.jobs.define({
      type: 'test.chatty',
      input: Empty,
      title: () => 'chatty',
      steps: [{ name: 'talk', async run(ctx) { for (let i = 1; i <= 1500; i++) ctx.log(`line ${i}`); ctx.log('x'.repeat(20_000)); } }],
    });
    const job = await kit.jobs.enqueue('test.chatty', {}, { actor: admin });
    await kit.jobs.waitFor(job.id);
    const lines = await kit.jobs.logs(job.id, admin, 0, 5000);
    const talk = lines.filter((l) => l.line.startsWith('line '));
    expect(talk.map((l) => l.line)).toEqual(Array.from({ length: 1500 }, (_, i) => `line ${i + 1}`));
    const long = lines.find((l) => l.line.startsWith('xxx'))!;
    expect(Buffer.byteLength(long.line)).toBeLessThanOrEqual(8192);
    expect(long.line.endsWith('[truncated]')).toBe(true);
    expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i + 1));
  });
});

describe('crash recovery on start', () => {
  it('resumes a job stopped in an idempotent step and interrupts one stopped in an unsafe step', async () => {
    const kit = await createRunnerKit({ start: false });
    try {
      const runs: string[] = [];
      kit.jobs.define({
        type: 'test.recover',
        input: z.object({ safe: z.boolean() }),
        title: () => 'recover me',
        steps: [
          { name: 'first', run: async () => void runs.push('first') },
          { name: 'second', idempotent: true, run: async () => void runs.push('second') },
          { name: 'third', run: async (ctx) => void runs.push(`third safe=${String(ctx.input.safe)}`) },
        ],
      });
      const resumable = await kit.jobs.enqueue('test.recover', { safe: true }, { actor: admin });
      const unsafe = await kit.jobs.enqueue('test.recover', { safe: false }, { actor: admin });
      // As a panel killed mid-step leaves them: running, leased by a process that no longer exists.
      const deadOwner = `${hostname()}/999999999/dead`;
      const crashed = (i: number) => JSON.stringify(['first', 'second', 'third'].map((name, n) => ({
        name, state: n < i ? 'succeeded' : n === i ? 'running' : 'pending', progress: n < i ? 100 : 0, startedAt: 1, finishedAt: n < i ? 2 : null,
      })));
      for (const [id, step] of [[resumable.id, 1], [unsafe.id, 2]] as const) {
        await kit.deps.db.updateTable('jobs').set({ state: 'running', lease_owner: deadOwner, lease_expires_at: Date.now() + 60_000, attempts: 1, current_step: step, steps: crashed(step) }).where('id', '=', id).execute();
        await kit.jobs.store.appendLines(id, [{ stream: 'info', line: 'before the crash' }]);
      }
      await kit.jobs.start();
      const resumed = await kit.jobs.waitFor(resumable.id, 10_000);
      expect(resumed.state).toBe('succeeded');
      expect(runs).toEqual(['second', 'third safe=true']);
      const interrupted = await kit.jobs.waitFor(unsafe.id, 10_000);
      expect(interrupted.state).toBe('interrupted');
      expect(interrupted.steps.map((s) => s.state)).toEqual(['succeeded', 'succeeded', 'failed']);
      const resumedLog = (await kit.jobs.logs(resumable.id, admin)).map((l) => l.line);
      expect(resumedLog[0]).toBe('before the crash');
      expect(resumedLog[1]).toMatch(/stopped during step "second" .*safe to repeat/);
      const unsafeLog = (await kit.jobs.logs(unsafe.id, admin)).map((l) => l.line);
      expect(unsafeLog).toEqual(['before the crash', expect.stringMatching(/interrupted during step "third" .*not safe to repeat/)]);
    } finally {
      await kit.close();
    }
  });
});
