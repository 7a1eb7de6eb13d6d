import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { createTestApp, type SignedIn, type TestApp } from '../../testing/harness.js';
import { sseEvents } from '../../testing/sse-client.js';
import { delay, until } from './job-test-kit.js';
import type { JobLogLine, JobView } from './types.js';

/** A gate a job step waits on, opened by the test. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

describe('job routes', () => {
  let t: TestApp;
  let admin: SignedIn;
  let base: string;
  const gates = new Map<string, ReturnType<typeof gate>>();
  const gateFor = (key: string) => {
    if (!gates.has(key)) gates.set(key, gate());
    return gates.get(key)!;
  };

  beforeAll(async () => {
    t = await createTestApp();
    admin = await t.signIn('admin');
    // Logs `count` lines, waits for gate `<key>:1`, logs `count` more, waits for `<key>:2`, logs `count` more.
    t.services.jobs.define({
      type: 'test.gated',
      input: z.object({ key: z.string(), count: z.number().int() }),
      title: (i) => `gated ${i.key}`,
      steps: [{
        name: 'talk',
        async run(ctx) {
          const { key, count } = ctx.input;
          for (let round = 0; round < 3; round++) {
            if (round > 0) await gateFor(`${key}:${round}`).opened;
            for (let i = 1; i <= count; i++) ctx.log(`${key} round ${round} line ${i}`);
          }
        },
      }],
    });
    t.services.jobs.define({
      type: 'test.flood',
      input: z.object({ lines: z.number().int(), size: z.number().int() }),
      title: () => 'flood',
      steps: [{ name: 'flood', async run(ctx) { for (let i = 1; i <= ctx.input.lines; i++) ctx.log(`${i} ${'y'.repeat(ctx.input.size)}`); } }],
    });
    t.services.jobs.define({
      type: 'test.wait',
      input: z.object({ ms: z.number().int() }),
      title: () => 'waits',
      steps: [{ name: 'wait', run: (ctx) => new Promise<void>((resolve, reject) => { const tm = setTimeout(resolve, ctx.input.ms); ctx.signal.addEventListener('abort', () => { clearTimeout(tm); reject(new Error('aborted')); }); }) }],
    });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const addr = t.app.server.address() as { port: number };
    base = `http://127.0.0.1:${addr.port}/api/v1`;
  });
  afterAll(async () => t?.close());

  const storedLines = async (id: string): Promise<JobLogLine[]> => {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/jobs/${id}/log-lines?after=0&limit=5000`, headers: admin.headers });
    expect(res.statusCode).toBe(200);
    return (res.json() as { items: JobLogLine[] }).items;
  };

  it('POST /jobs/selftest: admin gets 202 and a job that reports every engine; operator gets 403', async () => {
    const operator = await t.signIn('operator');
    const denied = await t.app.inject({ method: 'POST', url: '/api/v1/jobs/selftest', headers: operator.headers });
    expect(denied.statusCode).toBe(403);
    expect(denied.json()).toMatchObject({ error: { code: 'forbidden' } });

    const res = await t.app.inject({ method: 'POST', url: '/api/v1/jobs/selftest', headers: admin.headers });
    expect(res.statusCode).toBe(202);
    const { job } = res.json() as { job: JobView };
    expect(job).toMatchObject({ type: 'system.selftest', title: 'System self-test', state: 'queued', actor: { id: admin.user.id, name: admin.user.username } });
    const done = await t.services.jobs.waitFor(job.id, 20_000);
    expect(done.state).toBe('succeeded');
    const text = (await storedLines(job.id)).map((l) => l.line);
    expect(text).toContainEqual(expect.stringMatching(new RegExp(`^Database \\(${t.services.database.dialect}\\): ok, round trip`)));
    expect(text).toContainEqual(`Data directory ${t.dataDir}: ok, writable`);
    // Provisioned on every test host (scripts/provision-test-host.sh) and so reachable:
    expect(text).toContainEqual(expect.stringMatching(/^Docker \(\/var\/run\/docker.sock\): ok/));
    expect(text).toContainEqual(expect.stringMatching(/^Caddy admin API \(127.0.0.1:2019\): ok/));
    expect(text).toContainEqual(expect.stringMatching(/^Netdata \(127.0.0.1:19999\): ok/));
    expect(text).toContainEqual(expect.stringMatching(/^iSCSI target \(tgtadm\): ok/));
    // Not installable here: reported, not failed.
    expect(text).toContain('WordOps (wo): not available (not on PATH)');
    expect(text).toContain('Dokku (dokku): not available (not on PATH)');
    expect(text).toContainEqual(expect.stringMatching(/^libvirt \(virsh\): (ok|not available)/));
    expect(text).toContainEqual(expect.stringMatching(/^systemd: (ok|not available)/));
    const audit = await t.services.audit.list({ action: 'job.selftest', limit: 10 });
    expect(audit.items.map((e) => e.target?.id)).toEqual([job.id]);
  });

  it('GET /jobs filters by state list and pages with nextBefore; GET /jobs/{id} answers 404 for unknown ids', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await t.services.jobs.enqueue('test.wait', { ms: 1 }, { actor: { kind: 'user', userId: admin.user.id, username: admin.user.username, role: 'admin' }, resource: 'list:test' })).id);
    for (const id of ids) await t.services.jobs.waitFor(id);
    const page = await t.app.inject({ method: 'GET', url: '/api/v1/jobs?state=succeeded,failed&type=test.wait&limit=2', headers: admin.headers });
    expect(page.statusCode).toBe(200);
    const body = page.json() as { items: JobView[]; nextBefore: string };
    expect(body.items.map((j) => j.id)).toEqual([ids[2], ids[1]]);
    const next = await t.app.inject({ method: 'GET', url: `/api/v1/jobs?type=test.wait&limit=2&before=${body.nextBefore}`, headers: admin.headers });
    expect((next.json() as { items: JobView[] }).items.map((j) => j.id)).toEqual([ids[0]]);
    const bad = await t.app.inject({ method: 'GET', url: '/api/v1/jobs?state=bogus', headers: admin.headers });
    expect(bad.statusCode).toBe(400);
    const missing = await t.app.inject({ method: 'GET', url: '/api/v1/jobs/nope', headers: admin.headers });
    expect(missing.statusCode).toBe(404);
  });

  it('POST /jobs/{id}/cancel cancels (audited); a user cannot see or cancel another user\'s job', async () => {
    const alice = await t.signIn('user');
    const bob = await t.signIn('user');
    const job = await t.services.jobs.enqueue('test.wait', { ms: 20_000 }, { actor: { kind: 'user', userId: alice.user.id, username: alice.user.username, role: 'user' } });
    await until('running', async () => (await t.services.jobs.get(job.id, { kind: 'system', userId: null, username: 'system', role: 'admin' })).state === 'running');
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/jobs/${job.id}`, headers: bob.headers })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'POST', url: `/api/v1/jobs/${job.id}/cancel`, headers: bob.headers })).statusCode).toBe(404);
    const viewer = await t.signIn('viewer');
    expect((await t.app.inject({ method: 'POST', url: `/api/v1/jobs/${job.id}/cancel`, headers: viewer.headers })).statusCode).toBe(403);
    const res = await t.app.inject({ method: 'POST', url: `/api/v1/jobs/${job.id}/cancel`, headers: alice.headers });
    expect(res.statusCode).toBe(200);
    expect((res.json() as { job: JobView }).job.cancelRequested).toBe(true);
    expect((await t.services.jobs.waitFor(job.id)).state).toBe('cancelled');
    const again = await t.app.inject({ method: 'POST', url: `/api/v1/jobs/${job.id}/cancel`, headers: alice.headers });
    expect(again.statusCode).toBe(409);
    const audit = await t.services.audit.list({ action: 'job.cancel', targetId: job.id, limit: 10 });
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0]!.actor.id).toBe(alice.user.id);
  });

  it('SSE /jobs/{id}/logs resumes after Last-Event-ID with exactly the missing lines, then live ones, then end', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/jobs/selftest', headers: admin.headers }); // keeps another job busy meanwhile
    expect(res.statusCode).toBe(202);
    const job = await t.services.jobs.enqueue('test.gated', { key: 'sse', count: 10 }, { actor: { kind: 'user', userId: admin.user.id, username: admin.user.username, role: 'admin' } });

    // First connection: read up to seq 4, then drop (lines 5.. may have arrived unread).
    const first = new AbortController();
    const r1 = await fetch(`${base}/jobs/${job.id}/logs`, { headers: admin.headers, signal: first.signal });
    expect(r1.status).toBe(200);
    expect(r1.headers.get('content-type')).toMatch(/^text\/event-stream/);
    let lastId = 0;
    for await (const ev of sseEvents(r1)) {
      if (ev.event !== 'log') continue;
      lastId = Number(ev.id);
      if (lastId === 4) break;
    }
    first.abort();
    expect(lastId).toBe(4);

    gateFor('sse:1').open(); // round 1 is logged while nobody follows
    await until('round 1 stored', async () => (await storedLines(job.id)).length >= 21);

    const r2 = await fetch(`${base}/jobs/${job.id}/logs`, { headers: { ...admin.headers, 'last-event-id': '4' } });
    const received: { seq: number; line: string }[] = [];
    const events: string[] = [];
    let endJob: JobView | undefined;
    for await (const ev of sseEvents(r2)) {
      events.push(ev.event);
      if (ev.event === 'log') {
        const l = JSON.parse(ev.data) as JobLogLine;
        expect(Number(ev.id)).toBe(l.seq);
        received.push({ seq: l.seq, line: l.line });
        if (l.line === 'sse round 1 line 10') gateFor('sse:2').open(); // round 2 arrives live
      }
      if (ev.event === 'end') endJob = (JSON.parse(ev.data) as { job: JobView }).job;
    }
    expect(endJob?.state).toBe('succeeded');
    expect(events.at(-1)).toBe('end');
    expect(events).toContain('state');
    const stored = await storedLines(job.id);
    expect(received).toEqual(stored.filter((l) => l.seq > 4).map((l) => ({ seq: l.seq, line: l.line })));
    expect(received.map((l) => l.line)).toContain('sse round 2 line 10');

    // A finished job's stream replays from ?since= and ends at once.
    const r3 = await fetch(`${base}/jobs/${job.id}/logs?since=${stored.length - 2}`, { headers: admin.headers });
    const tail: string[] = [];
    for await (const ev of sseEvents(r3)) tail.push(ev.event === 'log' ? `log ${ev.id}` : ev.event);
    expect(tail).toEqual([`log ${stored.length - 1}`, `log ${stored.length}`, 'state', 'end']);
  });

  it('WS /jobs/{id}/logs/ws?since= sends the lines after `since`, live lines, state and end as JSON', async () => {
    const job = await t.services.jobs.enqueue('test.gated', { key: 'ws', count: 5 }, { actor: { kind: 'user', userId: admin.user.id, username: admin.user.username, role: 'admin' } });
    await until('round 0 stored', async () => (await storedLines(job.id)).length >= 6);
    const ws = new WebSocket(`${base.replace('http', 'ws')}/jobs/${job.id}/logs/ws?since=3`, ['slipway.v1', `bearer.${admin.token}`]);
    const messages: Record<string, unknown>[] = [];
    const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as Record<string, unknown>;
      messages.push(m);
      if (m.type === 'log' && m.line === 'ws round 0 line 5') gateFor('ws:1').open();
      if (m.type === 'log' && m.line === 'ws round 1 line 5') gateFor('ws:2').open();
    });
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    expect(ws.protocol).toBe('slipway.v1');
    await closed;
    const logs = messages.filter((m) => m.type === 'log') as unknown as JobLogLine[];
    const stored = await storedLines(job.id);
    expect(logs.map((l) => [l.seq, l.line])).toEqual(stored.filter((l) => l.seq > 3).map((l) => [l.seq, l.line]));
    expect(messages.some((m) => m.type === 'state')).toBe(true);
    expect(messages.at(-1)).toMatchObject({ type: 'end', job: { id: job.id, state: 'succeeded' } });
  });

  it('WS refuses a job the caller may not see with 404 before upgrading', async () => {
    const job = await t.services.jobs.enqueue('test.wait', { ms: 1 }, { actor: { kind: 'user', userId: admin.user.id, username: admin.user.username, role: 'admin' } });
    const stranger = await t.signIn('user');
    const ws = new WebSocket(`${base.replace('http', 'ws')}/jobs/${job.id}/logs/ws`, ['slipway.v1', `bearer.${stranger.token}`]);
    const status = await new Promise<number>((resolve) => ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    ws.on('error', () => {}); // the refused upgrade also surfaces as an error event
    ws.terminate();
    expect(status).toBe(404);
  });

  it('a follower that stops reading does not lose lines: after it drains, it catches up from the database', async () => {
    const job = await t.services.jobs.enqueue('test.flood', { lines: 6000, size: 2000 }, { actor: { kind: 'user', userId: admin.user.id, username: admin.user.username, role: 'admin' } });
    const res = await fetch(`${base}/jobs/${job.id}/logs`, { headers: admin.headers });
    const reader = sseEvents(res);
    const first = await reader.next(); // then stall while ~12 MB are logged
    await t.services.jobs.waitFor(job.id, 30_000);
    await delay(300);
    const seqs: number[] = [];
    if (first.value?.event === 'log') seqs.push(Number(first.value.id));
    let ended = false;
    for await (const ev of reader) {
      if (ev.event === 'log') seqs.push(Number(ev.id));
      if (ev.event === 'end') ended = true;
    }
    expect(ended).toBe(true);
    const total = (await t.services.jobs.logs(job.id, { kind: 'system', userId: null, username: 'system', role: 'admin' }, 0, 100_000)).length;
    expect(total).toBeGreaterThan(6000);
    expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  }, 60_000);
});
