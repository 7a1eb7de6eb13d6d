import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedIn } from '../../../server/src/testing/harness.js';
import { appsPanel, until, type AppsTestPanel } from './test-fixtures/apps-harness.js';

/** Past deploy output from Dokku (`builds:list`, `builds:output <app> <id>`), viewable after the job log is gone. */
describe('apps: builds and their output', () => {
  let p: AppsTestPanel;
  let user: SignedIn;

  beforeAll(async () => {
    p = await appsPanel({ deployDelayMs: 0 });
    user = await p.t.signIn('user');
    expect((await p.inject(user, 'POST', '/apps', { name: 'shop' })).status).toBe(201);
  }, 60_000);
  afterAll(async () => p?.close());

  it('lists Dokku\'s builds with the deploy and release each belongs to, and shows a past build\'s output cleaned, secrets redacted', async () => {
    const secret = 'sk_live_5h0uldN3v3rL34k';
    const cfg = await p.inject(user, 'PATCH', '/apps/shop/config', { set: { BUILD_SECRET_ECHO: secret }, secret: ['BUILD_SECRET_ECHO'], restart: false });
    expect(cfg.status, cfg.text).toBe(202);
    expect((await p.waitJob(cfg.body.job.id)).state).toBe('succeeded');
    const dep = await p.inject(user, 'POST', '/apps/shop/deploys', { image: 'nginx:1.26' });
    expect((await p.waitJob(dep.body.job.id)).state).toBe('succeeded');

    const builds = await p.inject(user, 'GET', '/apps/shop/builds');
    expect(builds.status, builds.text).toBe(200);
    expect(builds.body.items).toHaveLength(1);
    const b = builds.body.items[0];
    expect(b).toMatchObject({ status: 'succeeded', jobId: dep.body.job.id, releaseNumber: 1, exitCode: 0 });
    expect(b.id).toMatch(/^[0-9a-z]{14}$/);

    const calls = p.fake.calls().length;
    const out = await p.inject(user, 'GET', `/apps/shop/builds/${b.id}/output`);
    expect(out.status, out.text).toBe(200);
    expect(p.fake.calls().slice(calls).map((c) => c.join(' '))).toEqual(['builds:list shop --format json', `builds:output shop ${b.id}`]);
    expect(out.body.build).toMatchObject({ id: b.id, status: 'succeeded', jobId: dep.body.job.id });
    expect(out.body.truncated).toBe(false);
    const lines = out.body.lines as string[];
    expect(lines).toContain('-----> Building shop from Dockerfile');
    // colours and \r progress are gone: the line as the terminal last showed it
    expect(lines).toContain('#2 transferring context: 4.20kB done');
    expect(lines.every((l) => !/[\x1b\r]/.test(l))).toBe(true);
    // the build echoed the secret: redacted in what the API returns
    const raw = readFileSync(path.join(p.fake.dir, 'data', 'builds', 'shop', `${b.id}.log`), 'utf8');
    expect(raw).toContain(secret); // Dokku's own log has it…
    expect(out.text).not.toContain(secret); // …the API never returns it
    expect(lines).toContain('#4 RUN echo token=[redacted]');
    // a line with the bare value (no credential-looking name around it) is redacted by the app's stored secrets
    appendFileSync(path.join(p.fake.dir, 'data', 'builds', 'shop', `${b.id}.log`), `remote: ${secret} accepted\n`);
    const again = await p.inject(user, 'GET', `/apps/shop/builds/${b.id}/output`);
    expect(again.body.lines).toContain('remote: [redacted] accepted');
    expect(again.text).not.toContain(secret);
  }, 60_000);

  it('a build started outside the panel is listed without a job and its output is readable', async () => {
    // `git:from-image` run by someone on the host (not through the panel)
    const { execFileSync } = await import('node:child_process');
    execFileSync(p.fake.bin, ['git:from-image', 'shop', 'nginx:1.27'], { stdio: 'ignore' });
    const items = (await p.inject(user, 'GET', '/apps/shop/builds')).body.items as { id: string; jobId: string | null; status: string }[];
    expect(items).toHaveLength(2);
    expect(items[0]).toMatchObject({ jobId: null, status: 'succeeded' });
    const out = await p.inject(user, 'GET', `/apps/shop/builds/${items[0]!.id}/output`);
    expect(out.status, out.text).toBe(200);
    expect(out.body.lines).toContain('#3 [1/1] FROM nginx:1.27');
  }, 60_000);

  it('a running build is 409 build_running (its live log is the job\'s); an unknown build is 404', async () => {
    p.fake.setState({ ...p.fake.state(), deployDelayMs: 400 });
    const dep = await p.inject(user, 'POST', '/apps/shop/deploys', { image: 'nginx:1.28' });
    const running = await until('the build running', async () => {
      const items = (await p.inject(user, 'GET', '/apps/shop/builds')).body.items as { id: string; status: string }[];
      return items.find((i) => i.status === 'running');
    });
    const res = await p.inject(user, 'GET', `/apps/shop/builds/${running.id}/output`);
    expect(res.status, res.text).toBe(409);
    expect(res.body.error.code).toBe('build_running');
    expect(p.fake.calls().some((c) => c[0] === 'builds:output' && c[2] === running.id)).toBe(false);
    await p.inject(user, 'POST', `/jobs/${dep.body.job.id}/cancel`);
    await p.waitJob(dep.body.job.id);
    p.fake.setState({ ...p.fake.state(), deployDelayMs: 0 });

    const missing = await p.inject(user, 'GET', '/apps/shop/builds/0000000000zzzz/output');
    expect(missing.status, missing.text).toBe(404);
  }, 60_000);
});
