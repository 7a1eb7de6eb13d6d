import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type SignedIn, type TestApp } from '../../../server/src/testing/harness.js';
import { readLiveLog } from '../../../server/src/testing/sse-client.js';
import { createContainersModule } from './index.js';
import { BUSYBOX_IMAGE, ensureBusyboxImage } from './test-fixtures/images.js';
import { cleanupNamespace, testEnv } from './test-fixtures/panel.js';

/**
 * Issue 18, finding 1 ("logs that loop"): on a crashed or sleeping service the log viewer
 * reconnected and appended the same tail again and again. Against the real Docker engine: a
 * container prints N lines and exits; the first follow gets the N lines and `end` {reason:
 * 'stopped'}; a reconnect with the last id gets nothing new and `end` again — never the tail again.
 */
const docker = new Docker({ socketPath: '/var/run/docker.sock' });

describe.sequential('container logs: resume, never re-append (real Docker)', () => {
  let t: TestApp;
  let namespace: string;
  let base: string;
  let owner: SignedIn;
  let admin: SignedIn;
  const extra: string[] = [];
  const uniq = () => Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    await ensureBusyboxImage();
    const e = await testEnv();
    namespace = e.namespace;
    t = await createTestApp({ modules: [createContainersModule()], env: e.env });
    owner = await t.signIn('user');
    admin = await t.signIn('admin');
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}/api/v1`;
  }, 120_000);

  afterAll(async () => {
    await Promise.all(extra.map((n) => docker.getContainer(n).remove({ force: true }).catch(() => {})));
    await t?.close();
    await cleanupNamespace(namespace);
  }, 60_000);

  async function runToExit(name: string): Promise<void> {
    const c = docker.getContainer(name);
    await c.start();
    await c.wait();
  }

  it('a crashed service: N lines and `end` stopped; a reconnect gets 0 lines and `end` again; a restart only the new lines', async () => {
    const name = `crash-${uniq()}`;
    const res = await t.app.inject({
      method: 'POST', url: '/api/v1/containers', headers: owner.headers,
      payload: {
        name, hostnames: [`${name}.localhost`], stopTimeoutSeconds: 1, sleep: { mode: 'stop', idleTimeoutSeconds: 600 },
        containers: [{ name: 'web', image: BUSYBOX_IMAGE, command: ['/bin/sh', '-c', 'echo "to stderr" >&2; sleep 0.2; for i in 1 2 3 4 5 6; do echo "crashing now $i"; done; exit 3'] }],
      },
    });
    expect(res.statusCode, res.body).toBe(202);
    const { service, job } = res.json() as { service: { id: string }; job: { id: string } };
    expect((await t.services.jobs.waitFor(job.id, 60_000)).state).toBe('succeeded');
    const container = `slw-${service.id}-web`;
    await runToExit(container);

    const url = `${base}/containers/${service.id}/logs?tail=500`;
    const first = await readLiveLog(url, { headers: owner.headers, idleMs: 5000 });
    expect(first.status).toBe(200);
    const run = ['to stderr', 'crashing now 1', 'crashing now 2', 'crashing now 3', 'crashing now 4', 'crashing now 5', 'crashing now 6'];
    expect(first.lines.map((l) => l.line.replace(/^\S+ /, ''))).toEqual(run);
    expect(first.lines[0]!.data.stream).toBe('stderr');
    expect(first.lines.every((l) => /^t\d+\.(\d+|\*)$/.test(l.id) && typeof l.data.at === 'number')).toBe(true);
    expect(first.end).toMatchObject({ reason: 'stopped', message: expect.stringMatching(/stopped \(exit code 3\)/) });
    expect(first.closedByServer).toBe(true);

    // What a reconnecting EventSource does: the same URL with Last-Event-ID. Before the fix this
    // appended the 7 lines again on every reconnect.
    for (let i = 0; i < 3; i++) {
      const again = await readLiveLog(url, { headers: owner.headers, lastEventId: first.lastId, idleMs: 5000 });
      expect(again.lines).toEqual([]);
      expect(again.end).toMatchObject({ reason: 'stopped' });
    }
    // ?since= is the same for clients that cannot set headers.
    const bySince = await readLiveLog(`${url}&since=${encodeURIComponent(first.lines[3]!.id)}`, { headers: owner.headers, idleMs: 5000 });
    expect(bySince.lines.map((l) => l.line.replace(/^\S+ /, ''))).toEqual(['crashing now 4', 'crashing now 5', 'crashing now 6']);

    // It crashes again: a follow from the last id gets exactly the new run's lines, once.
    await runToExit(container);
    const second = await readLiveLog(url, { headers: owner.headers, lastEventId: first.lastId, idleMs: 5000 });
    expect(second.lines.map((l) => l.line.replace(/^\S+ /, ''))).toEqual(run);
    expect(second.end).toMatchObject({ reason: 'stopped' });
    const third = await readLiveLog(url, { headers: owner.headers, lastEventId: second.lastId, idleMs: 5000 });
    expect(third.lines).toEqual([]);

    // Another user's service is not found, before any stream opens.
    const stranger = await t.signIn('user');
    expect((await readLiveLog(url, { headers: stranger.headers })).status).toBe(404);
  }, 120_000);

  it('the Docker view of any container resumes the same way, and many lines in one instant are not lost or doubled', async () => {
    const name = `slwtest-logs-${uniq()}`;
    // 300 lines as fast as the shell prints them: several share a timestamp when the clock is coarse.
    const c = await docker.createContainer({ name, Image: BUSYBOX_IMAGE, Cmd: ['/bin/sh', '-c', 'i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo "l$i"; done'] });
    extra.push(name);
    await c.start();
    await c.wait();
    const url = `${base}/containers/hosts/local/docker/containers/${name}/logs?tail=100`;
    const first = await readLiveLog(url, { headers: admin.headers, idleMs: 5000 });
    expect(first.lines.map((l) => l.line.replace(/^\S+ /, ''))).toEqual(Array.from({ length: 100 }, (_, i) => `l${i + 201}`));
    expect(first.end).toMatchObject({ reason: 'stopped' });
    // Resume from the middle of the tail: exactly the lines after it.
    const mid = first.lines[49]!;
    const resumed = await readLiveLog(url, { headers: admin.headers, lastEventId: mid.id, idleMs: 5000 });
    expect(resumed.lines.map((l) => l.line.replace(/^\S+ /, ''))).toEqual(Array.from({ length: 50 }, (_, i) => `l${i + 251}`));
    const none = await readLiveLog(url, { headers: admin.headers, lastEventId: first.lastId, idleMs: 5000 });
    expect(none.lines).toEqual([]);
    expect(none.end).toMatchObject({ reason: 'stopped' });
    // A cursor it does not know shows new lines only (none here), not the tail.
    const foreign = await readLiveLog(url, { headers: admin.headers, lastEventId: '42', idleMs: 5000 });
    expect(foreign.lines).toEqual([]);
  }, 60_000);

  it('a running container streams live, and a reconnect picks up exactly where it left off', async () => {
    const name = `slwtest-live-${uniq()}`;
    const c = await docker.createContainer({ name, Image: BUSYBOX_IMAGE, Cmd: ['/bin/sh', '-c', 'i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo "tick $i"; sleep 0.1; done'] });
    extra.push(name);
    await c.start();
    const url = `${base}/containers/hosts/local/docker/containers/${name}/logs?tail=0`;
    const first = await readLiveLog(url, { headers: admin.headers, idleMs: 3000, stopWhen: (r) => r.lines.length >= 5 });
    expect(first.end).toBeNull();
    await new Promise((r) => setTimeout(r, 600)); // lines are printed while nobody follows
    const rest = await readLiveLog(url, { headers: admin.headers, lastEventId: first.lastId, idleMs: 8000 });
    const all = [...first.lines, ...rest.lines].map((l) => l.line.replace(/^\S+ /, ''));
    const firstTick = Number(/tick (\d+)/.exec(all[0]!)![1]);
    expect(all).toEqual(Array.from({ length: 40 - firstTick + 1 }, (_, i) => `tick ${firstTick + i}`));
    expect(rest.end).toMatchObject({ reason: 'stopped', message: expect.stringMatching(/exit code 0/) });
  }, 60_000);
});
