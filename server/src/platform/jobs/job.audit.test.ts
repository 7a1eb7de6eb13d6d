import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createRunnerKit, testActor, until, type RunnerKit } from './job-test-kit.js';

const admin = testActor('admin');

/** Issue 18, item 2: an operation that runs as a job records its real outcome in the audit log. */
describe('audit entries of changes that run as jobs', () => {
  let kit: RunnerKit;
  beforeAll(async () => {
    kit = await createRunnerKit({ workers: 2 });
    kit.jobs.define({ type: 'test.ok', input: z.object({}), title: () => 'works', steps: [{ name: 'a', run: async () => undefined }] });
    kit.jobs.define({ type: 'test.broken', input: z.object({}), title: () => 'breaks', steps: [{ name: 'a', run: async () => { throw new Error('wo: command not found'); } }] });
  });
  afterAll(async () => kit?.close());

  const entriesFor = async (jobId: string) =>
    (await kit.deps.audit.list({ limit: 50 })).items.filter((e) => e.details?.jobId === jobId).sort((a, b) => a.seq - b.seq);

  it('a failed job is never recorded as a success: started, then failure with the reason', async () => {
    const job = await kit.jobs.launch(admin, { type: 'test.broken', input: {}, resource: 'site:a', audit: { action: 'sites.create', target: { type: 'site', id: 'local:a.test' } } });
    await kit.jobs.waitFor(job.id, 10_000);
    const entries = await until('outcome entry', async () => { const e = await entriesFor(job.id); return e.length === 2 && e; });
    expect(entries.map((e) => `${e.action}:${e.outcome}`)).toEqual(['sites.create:started', 'sites.create:failure']);
    expect(entries[1]).toMatchObject({ target: { type: 'site', id: 'local:a.test' }, actor: { name: admin.username }, details: { jobState: 'failed', error: 'a: wo: command not found' } });
    expect(entries.some((e) => e.outcome === 'success')).toBe(false);
  });

  it('the type filter matches a prefix: `test.` and `test` list every test job, `test.o` none', async () => {
    await kit.jobs.enqueue('test.ok', {}, { actor: admin });
    const types = async (type: string) => new Set((await kit.jobs.list({ type, limit: 200 }, admin)).items.map((j) => j.type));
    expect(await types('test.')).toEqual(new Set(['test.ok', 'test.broken']));
    expect(await types('test')).toEqual(new Set(['test.ok', 'test.broken']));
    expect(await types('test.ok')).toEqual(new Set(['test.ok']));
    expect((await types('test.o')).size).toBe(0);
    expect((await types('tes_')).size).toBe(0);
  });

  it('entries name their target (issue 18, item 9): the outcome entry too', async () => {
    const job = await kit.jobs.launch(admin, { type: 'test.ok', input: {}, resource: 'container:x', audit: { action: 'containers.create', target: { type: 'container', id: '0190-x' }, details: { name: 'shop' } } });
    const entries = await until('named outcome', async () => { const e = await entriesFor(job.id); return e.length === 2 && e; });
    expect(entries.map((e) => e.target)).toEqual([{ type: 'container', id: '0190-x', name: 'shop' }, { type: 'container', id: '0190-x', name: 'shop' }]);
    const named = await kit.deps.audit.record({ actor: admin, action: 'user.create', target: { type: 'user', id: 'u-9', name: 'carol' } });
    expect(named.target).toEqual({ type: 'user', id: 'u-9', name: 'carol' });
  });

  it('a job that succeeds gets a success entry; a cancelled one a failure entry', async () => {
    const ok = await kit.jobs.launch(admin, { type: 'test.ok', input: {}, resource: 'site:b', audit: { action: 'sites.update', target: { type: 'site', id: 'local:b.test' } } });
    const okEntries = await until('ok outcome', async () => { const e = await entriesFor(ok.id); return e.length === 2 && e; });
    expect(okEntries.map((e) => e.outcome)).toEqual(['started', 'success']);

    const blocker = await kit.jobs.enqueue('test.ok', {}, { actor: admin, resource: 'site:c' });
    const queued = await kit.jobs.launch(admin, { type: 'test.ok', input: {}, resource: 'site:c', audit: { action: 'sites.delete', target: { type: 'site', id: 'local:c.test' } } });
    const cancelled = await kit.jobs.cancel(queued.id, admin).catch(() => undefined);
    await kit.jobs.waitFor(blocker.id, 10_000);
    const final = await kit.jobs.waitFor(queued.id, 10_000);
    const entries = await until('cancel outcome', async () => { const e = (await entriesFor(queued.id)).filter((x) => x.action === 'sites.delete'); return e.length === 2 && e; });
    expect(entries[1]!.outcome).toBe(final.state === 'succeeded' ? 'success' : 'failure');
    if (cancelled) expect(entries[1]!.details).toMatchObject({ jobState: 'cancelled' });
  });
});
