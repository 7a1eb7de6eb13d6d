import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LocalProcessRunner } from '../../infra/process-runner.js';
import { createRunnerKit, delay, testActor, until, type RunnerKit } from './job-test-kit.js';

const admin = testActor('admin');
const Empty = z.object({}).strict();

/** What an adapter tells a job's runner per command (ExecOptions.job), and runners joined with ctx.attach. */
describe('a job runner shaped by its adapter', () => {
  let kit: RunnerKit;
  const timeline: Record<string, number> = {};

  beforeAll(async () => {
    kit = await createRunnerKit({ workers: 2 });
    kit.jobs.define({
      type: 'test.shaped',
      input: Empty,
      title: () => 'shaped output',
      steps: [{
        name: 'run',
        async run(ctx) {
          const run = await ctx.runner();
          await run.exec('printf', ['%s\n', 'keep me', 'PASSWORD-OF-THE-TENANT'], {
            job: { announce: '$ printf [redacted]', logLine: (l) => (l.includes('PASSWORD') ? null : l.toUpperCase()) },
          });
          await run.exec('printf', ['%s\n', 'a quiet read'], { job: { logLine: () => null } });
          await ctx.attach(new LocalProcessRunner()).exec('printf', ['%s\n', 'from an attached runner']);
        },
      }],
    });
    kit.jobs.define({
      type: 'test.own-cancel',
      input: Empty,
      title: () => 'ends its command itself',
      steps: [{
        name: 'long command',
        async run(ctx) {
          const own = new AbortController();
          ctx.signal.addEventListener('abort', () => {
            timeline.cancelled = Date.now();
            // The adapter's own clean-up first (e.g. builds:cancel), the kill later.
            setTimeout(() => own.abort(), 700);
          }, { once: true });
          timeline.started = Date.now();
          await (await ctx.runner()).exec('sleep', ['30'], { signal: own.signal, job: { ownCancel: true } }).finally(() => {
            timeline.ended = Date.now();
          });
        },
      }],
    });
  });
  afterAll(async () => kit?.close());

  it('logs the announced argv and each line as the adapter shows it; left-out lines never reach the log', async () => {
    const job = await kit.jobs.enqueue('test.shaped', {}, { actor: admin });
    expect((await kit.jobs.waitFor(job.id, 15_000)).state).toBe('succeeded');
    const lines = await kit.jobs.logs(job.id, admin);
    const text = lines.map((l) => l.line);
    expect(lines.find((l) => l.line === '$ printf [redacted]')?.stream).toBe('info');
    expect(lines.find((l) => l.line === 'KEEP ME')?.stream).toBe('stdout');
    expect(text.join('\n')).not.toMatch(/PASSWORD|keep me|a quiet read/);
    expect(text).toContain('from an attached runner');
  });

  it('a command with ownCancel outlives the cancel until the adapter ends it', async () => {
    const job = await kit.jobs.enqueue('test.own-cancel', {}, { actor: admin });
    await until('the command started', () => timeline.started !== undefined, 15_000);
    await delay(300);
    await kit.jobs.cancel(job.id, admin);
    expect((await kit.jobs.waitFor(job.id, 20_000)).state).toBe('cancelled');
    expect(timeline.ended! - timeline.cancelled!).toBeGreaterThanOrEqual(600);
    expect(timeline.ended! - timeline.started!).toBeLessThan(20_000);
  });
});
