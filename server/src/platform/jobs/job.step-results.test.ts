import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DurableJobRunner } from './job.service.js';
import { createRunnerKit, testActor, until } from './job-test-kit.js';
import { STEP_RESULTS_KEY, unpackOutput } from './job.execution.js';

const admin = testActor('admin');

describe('step results: what run returns reaches undo', () => {
  it('hands undo the value its run returned when a later step fails', async () => {
    const kit = await createRunnerKit();
    try {
      const undone: unknown[] = [];
      kit.jobs.define({
        type: 'test.results',
        input: z.object({}),
        title: () => 'results',
        steps: [
          { name: 'make', run: async () => ({ volume: 'vol-1' }), undo: async (_ctx, done) => void undone.push(done) },
          { name: 'nothing', run: async () => undefined, undo: async (_ctx, done) => void undone.push(done ?? 'none') },
          { name: 'fail', run: async () => { throw new Error('boom'); } },
        ],
      });
      const job = await kit.jobs.enqueue('test.results', {}, { actor: admin });
      const done = await kit.jobs.waitFor(job.id, 10_000);
      expect(done.state).toBe('failed');
      expect(undone).toEqual(['none', { volume: 'vol-1' }]);
      // Step results never reach API readers: the view has no output, the state keeps its own keys.
      expect(JSON.stringify(await kit.jobs.get(job.id, admin))).not.toContain('vol-1');
    } finally {
      await kit.close();
    }
  });

  it('after a crash following step 1, undo in the resuming process gets the stored value', async () => {
    const kit = await createRunnerKit({ workers: 1, timings: { leaseMs: 60_000, heartbeatMs: 100 } });
    let second: DurableJobRunner | undefined;
    try {
      const made = `vol-${Math.random().toString(36).slice(2, 8)}`;
      const undone: unknown[] = [];
      let failSecond = false;
      const define = (runner: DurableJobRunner) => runner.define({
        type: 'test.crash-results',
        input: z.object({}),
        title: () => 'crash results',
        steps: [
          // The first process's run: its result lives in that process until it is persisted.
          { name: 'make', run: async () => ({ volume: made }), undo: async (_ctx, done: { volume: string } | undefined) => void undone.push(done) },
          {
            name: 'wait', idempotent: true,
            run: (ctx) => new Promise<void>((resolve, reject) => {
              if (failSecond) return reject(new Error('second step failed after the resume'));
              ctx.signal.addEventListener('abort', () => reject(new Error('stopped')));
            }),
          },
        ],
      });
      define(kit.jobs);
      const job = await kit.jobs.enqueue('test.crash-results', {}, { actor: admin });
      // Step 1 done, step 2 under way: the result is already in the database with the step.
      const row = await until('step 2 running', async () => {
        const r = await kit.jobs.store.find(job.id);
        return r && Number(r.current_step) === 1 && JSON.parse(r.steps)[0].state === 'succeeded' ? r : undefined;
      });
      expect(unpackOutput(row.output).results).toEqual({ 0: { volume: made } });
      expect(JSON.parse(row.output!)[STEP_RESULTS_KEY]).toEqual({ 0: { volume: made } });

      // kill -9: the row stays running under a process that no longer exists; the old runner's
      // memory is gone (its heartbeat finds the lease taken and it stops touching the job).
      await kit.deps.db.updateTable('jobs').set({ lease_owner: `${hostname()}/999999999/dead` }).where('id', '=', job.id).execute();
      await until('the old runner to let go', () => !kit.jobs.isExecuting(job.id));
      await kit.jobs.stop();
      expect(undone).toEqual([]);

      // A new process resumes at the idempotent step, which now fails: step 1 is undone with what its run returned.
      failSecond = true;
      second = new DurableJobRunner(kit.deps, { heartbeatMs: 100 });
      define(second);
      await second.start();
      const finished = await second.waitFor(job.id, 10_000);
      expect(finished.state).toBe('failed');
      expect(finished.steps.map((s) => s.state)).toEqual(['undone', 'failed']);
      expect(undone).toEqual([{ volume: made }]);
    } finally {
      await second?.stop();
      await kit.close();
    }
  });
});

describe('launch', () => {
  it('enqueues under the lock key and writes the one audit entry with the job id', async () => {
    const kit = await createRunnerKit({ start: false });
    try {
      kit.jobs.define({ type: 'test.launch', input: z.object({ n: z.number() }), title: (i) => `launch ${i.n}`, steps: [{ name: 'one', run: async () => undefined }] });
      const job = await kit.jobs.launch(admin, { type: 'test.launch', input: { n: 1 }, resource: 'thing:1', audit: { action: 'things.change', target: { type: 'thing', id: '1' }, details: { what: 'x' } } });
      expect(job).toMatchObject({ type: 'test.launch', state: 'queued', resource: 'thing:1', actor: { id: admin.userId } });
      const entries = await kit.deps.db.selectFrom('audit_log').selectAll().where('action', '=', 'things.change').execute();
      expect(entries).toHaveLength(1);
      expect(JSON.parse(String(entries[0]!.details))).toEqual({ what: 'x', jobId: job.id });
      // An unknown type (or bad input) is refused before any audit entry is written.
      await expect(kit.jobs.launch(admin, { type: 'test.nope', input: {}, resource: 'thing:2', audit: { action: 'things.change', target: { type: 'thing', id: '2' } } })).rejects.toThrow(/Unknown job type/);
      await expect(kit.jobs.launch(admin, { type: 'test.launch', input: { n: 'x' }, resource: 'thing:2', audit: { action: 'things.change', target: { type: 'thing', id: '2' } } })).rejects.toThrow();
      expect(await kit.deps.db.selectFrom('audit_log').selectAll().where('action', '=', 'things.change').execute()).toHaveLength(1);
    } finally {
      await kit.close();
    }
  });
});
