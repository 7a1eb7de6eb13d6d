import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedIn } from '../../../server/src/testing/harness.js';
import { type JobLogLine } from '../../../server/src/testing/index.js';
import { appsPanel, until, type AppsTestPanel } from './test-fixtures/apps-harness.js';

/** The apps module end to end: real routes, jobs and database, the fake dokku as the engine. */
describe('apps: create, deploy, redeploy, roll back', () => {
  let p: AppsTestPanel;
  let user: SignedIn;

  beforeAll(async () => {
    p = await appsPanel({ deployDelayMs: 0 });
    user = await p.t.signIn('user');
  }, 60_000);
  afterAll(async () => p?.close());

  const logsOf = async (jobId: string) => (await p.t.services.jobs.logs(jobId, { kind: 'system', userId: null, username: 'system', role: 'admin' }, 0, 5000)).map((l) => l.line);

  it('creates an app owned by the caller and lists it from the inventory', async () => {
    const res = await p.inject(user, 'POST', '/apps', { name: 'shop' });
    expect(res.status, res.text).toBe(201);
    expect(res.body.app).toMatchObject({ name: 'shop', host: 'local', ownerId: user.user.id, state: 'ready', status: 'not_deployed' });
    expect(p.fake.state().apps.shop).toBeDefined();
    const calls = p.fake.calls().length;
    const list = await p.inject(user, 'GET', '/apps');
    expect(list.body.items.map((a: { name: string }) => a.name)).toEqual(['shop']);
    expect(p.fake.calls().length).toBe(calls); // GET /apps never calls dokku
  });

  it('deploys from an image with the log arriving while it runs, then redeploys and rolls back to release 1', async () => {
    p.fake.setState({ ...p.fake.state(), deployDelayMs: 60 });
    const res = await p.inject(user, 'POST', '/apps/shop/deploys', { image: 'nginx:1.26' });
    expect(res.status, res.text).toBe(202);
    const jobId = res.body.job.id as string;
    const live: { line: JobLogLine; state: string }[] = [];
    let state = 'queued';
    const off = p.t.services.jobs.follow(jobId, (e) => {
      if (e.kind === 'state') state = e.job.state;
      else live.push({ line: e.line, state });
    });
    const done = await p.waitJob(jobId);
    off();
    expect(done.state, done.error ?? '').toBe('succeeded');
    // Dokku's lines arrived live, while the job was running, cleaned of colours and \r progress.
    const building = live.find((l) => l.line.line === '-----> Building shop from Dockerfile');
    expect(building?.state).toBe('running');
    expect(building!.line.at).toBeLessThan(done.finishedAt! - 300);
    expect(live.every((l) => !/[\x1b\r]/.test(l.line.line))).toBe(true);
    expect(live.map((l) => l.line.line)).toContain('#2 transferring context: 4.20kB done');

    let app = (await p.inject(user, 'GET', '/apps/shop')).body.app;
    expect(app).toMatchObject({ status: 'running', image: 'nginx:1.26', deploySource: 'docker-image', lastDeploy: { jobId, outcome: 'succeeded' } });
    expect(app.url).toBe('http://shop.dokku.example.net');

    p.fake.setState({ ...p.fake.state(), deployDelayMs: 0 });
    const second = await p.inject(user, 'POST', '/apps/shop/deploys', { image: 'nginx:1.27' });
    expect((await p.waitJob(second.body.job.id)).state).toBe('succeeded');
    expect((await p.inject(user, 'GET', '/apps/shop')).body.app.image).toBe('nginx:1.27');

    const rb = await p.inject(user, 'POST', '/apps/shop/releases/1/rollback');
    expect(rb.status, rb.text).toBe(202);
    expect(rb.body.job.type).toBe('apps.rollback');
    expect((await p.waitJob(rb.body.job.id)).state).toBe('succeeded');

    app = (await p.inject(user, 'GET', '/apps/shop')).body.app;
    expect(app.image).toBe('nginx:1.26');
    expect(p.fake.state().apps.shop!.image).toBe('nginx:1.26');
    const releases = (await p.inject(user, 'GET', '/apps/shop/releases')).body.items;
    expect(releases.map((r: { number: number; image: string; rollbackOf: number | null; current: boolean }) => [r.number, r.image, r.rollbackOf, r.current]))
      .toEqual([[3, 'nginx:1.26', 1, true], [2, 'nginx:1.27', null, false], [1, 'nginx:1.26', null, false]]);
    expect(releases[2]).toMatchObject({ source: 'image', actor: { id: user.user.id }, outcome: 'succeeded', jobId });
    expect(releases[2].configDigest).toMatch(/^[0-9a-f]{16}$/);
    expect(releases[2].durationMs).toBeGreaterThan(0);
    expect(releases[2].buildId).toMatch(/^[0-9a-z]{14}$/);
  }, 60_000);

  it('deploys from git and rolls back to exactly that commit', async () => {
    const res = await p.inject(user, 'POST', '/apps/shop/deploys', { repo: 'https://git.example.com/org/site.git', ref: 'release/2' });
    expect(res.status, res.text).toBe(202);
    expect((await p.waitJob(res.body.job.id)).state).toBe('succeeded');
    const app = (await p.inject(user, 'GET', '/apps/shop')).body.app;
    expect(app).toMatchObject({ deploySource: 'git-sync', gitCommit: 'b'.repeat(40), gitRemote: 'https://git.example.com/org/site.git', image: null });
    const [gitRelease] = (await p.inject(user, 'GET', '/apps/shop/releases')).body.items;
    expect(gitRelease).toMatchObject({ number: 4, source: 'git', commit: 'b'.repeat(40), ref: 'release/2', current: true });
    // branch moves on; rolling back to release 4 deploys the recorded commit, not the branch
    p.fake.setState({ ...p.fake.state(), repos: { 'https://git.example.com/org/site.git': { refs: { 'release/2': 'c'.repeat(40) } } } });
    await p.waitJob((await p.inject(user, 'POST', '/apps/shop/deploys', { image: 'nginx:1.28' })).body.job.id);
    const rb = await p.inject(user, 'POST', '/apps/shop/releases/4/rollback');
    expect((await p.waitJob(rb.body.job.id)).state).toBe('succeeded');
    expect(p.fake.calls().some((c) => c.join(' ') === `git:sync --build shop https://git.example.com/org/site.git ${'b'.repeat(40)}`)).toBe(true);
    expect((await p.inject(user, 'GET', '/apps/shop')).body.app.gitCommit).toBe('b'.repeat(40));
  }, 60_000);

  it('two deploys at once queue visibly (position, who, when) and both finish', async () => {
    p.fake.setState({ ...p.fake.state(), deployDelayMs: 40 });
    const a = await p.inject(user, 'POST', '/apps/shop/deploys', { image: 'nginx:1.26' });
    const b = await p.inject(user, 'POST', '/apps/shop/deploys', { image: 'nginx:1.27' });
    expect([a.status, b.status]).toEqual([202, 202]);
    const view = await until('one running, one queued', async () => {
      const items = (await p.inject(user, 'GET', '/apps/shop/deploys')).body.items as { jobId: string; state: string; position: number | null; actor: { name: string }; requestedAt: number }[];
      const q = items.find((d) => d.jobId === b.body.job.id);
      return items.find((d) => d.jobId === a.body.job.id)?.state === 'running' && q?.state === 'queued' ? q : undefined;
    });
    expect(view).toMatchObject({ position: 1, actor: { name: user.user.username } });
    expect(view.requestedAt).toBeGreaterThan(0);
    const [ja, jb] = await Promise.all([p.waitJob(a.body.job.id), p.waitJob(b.body.job.id)]);
    expect([ja.state, jb.state]).toEqual(['succeeded', 'succeeded']);
    // Dokku never saw two deploys at once: no deploy-lock refusal in either log.
    expect([...await logsOf(ja.id), ...await logsOf(jb.id)].some((l) => /deploy lock/.test(l))).toBe(false);
    expect(jb.startedAt!).toBeGreaterThanOrEqual(ja.finishedAt!);
    expect((await p.inject(user, 'GET', '/apps/shop')).body.app.image).toBe('nginx:1.27');
    p.fake.setState({ ...p.fake.state(), deployDelayMs: 0 });
  }, 60_000);

  it('cancels a running deploy with builds:cancel and a queued one before it starts; the previous release keeps running', async () => {
    p.fake.setState({ ...p.fake.state(), deployDelayMs: 300 });
    const fromImage126 = () => p.fake.calls().filter((c) => c.join(' ') === 'git:from-image shop nginx:1.26').length;
    const before126 = fromImage126();
    const running = await p.inject(user, 'POST', '/apps/shop/deploys', { image: 'nginx:1.28' });
    const queued = await p.inject(user, 'POST', '/apps/shop/deploys', { image: 'nginx:1.26' });
    await until('the first deploy building', async () => (await logsOf(running.body.job.id)).some((l) => l.includes('Building shop')));
    const cq = await p.inject(user, 'POST', `/jobs/${queued.body.job.id}/cancel`);
    expect(cq.status, cq.text).toBe(200);
    expect(cq.body.job.state).toBe('cancelled');
    const cr = await p.inject(user, 'POST', `/jobs/${running.body.job.id}/cancel`);
    expect(cr.status, cr.text).toBe(200);
    const done = await p.waitJob(running.body.job.id);
    expect(done.state).toBe('cancelled');
    expect(p.fake.calls().some((c) => c[0] === 'builds:cancel' && c[1] === 'shop')).toBe(true);
    const builds = p.fake.builds('shop');
    expect(builds.at(-1)!.status).toBe('canceled');
    const deploys = await until('both outcomes settled', async () => {
      const items = (await p.inject(user, 'GET', '/apps/shop/deploys')).body.items as { jobId: string; outcome: string | null; build: { status: string | null } }[];
      const r = items.find((d) => d.jobId === running.body.job.id);
      const q = items.find((d) => d.jobId === queued.body.job.id);
      return r?.outcome && q?.outcome ? { r, q } : undefined;
    });
    expect(deploys.r).toMatchObject({ outcome: 'cancelled', build: { status: 'canceled' } });
    expect(deploys.q.outcome).toBe('cancelled');
    expect(fromImage126()).toBe(before126); // the queued deploy never reached dokku
    p.fake.setState({ ...p.fake.state(), deployDelayMs: 0 });
    const app = (await p.inject(user, 'GET', '/apps/shop')).body.app;
    expect(app).toMatchObject({ image: 'nginx:1.27', status: 'running' });
    // the lock is not stuck: the next deploy goes through
    expect((await p.waitJob((await p.inject(user, 'POST', '/apps/shop/deploys', { image: 'nginx:1.28' })).body.job.id)).state).toBe('succeeded');
  }, 60_000);

  it('a deploy whose checks fail is failed with the check lines, and the previous release stays live', async () => {
    p.fake.setState({ ...p.fake.state(), failChecksImages: ['nginx:1.26'] });
    const res = await p.inject(user, 'POST', '/apps/shop/deploys', { image: 'nginx:1.26' });
    const done = await p.waitJob(res.body.job.id);
    expect(done.state).toBe('failed');
    expect(done.error).toMatch(/Could not start due to 1 failed checks/);
    const lines = await logsOf(done.id);
    expect(lines.some((l) => l.includes('Healthcheck failed'))).toBe(true);
    expect((await p.inject(user, 'GET', '/apps/shop')).body.app).toMatchObject({ image: 'nginx:1.28', lastDeploy: { outcome: 'failed' } });
    const releases = (await p.inject(user, 'GET', '/apps/shop/releases')).body.items;
    expect(releases[0].image).toBe('nginx:1.28');
    p.fake.setState({ ...p.fake.state(), failChecksImages: [] });
  }, 60_000);

  it('config: secrets are masked in reads, job logs and the audit log, and sealed at rest', async () => {
    const secret = 'Zq9-very-secret-value-4711';
    const buildSecret = 'bs-0000-echoed-by-build';
    const res = await p.inject(user, 'PATCH', '/apps/shop/config', { set: { STRIPE_LIVE: secret, BUILD_SECRET_ECHO: buildSecret, PLAIN_NAME: 'hello' }, secret: ['STRIPE_LIVE', 'BUILD_SECRET_ECHO'], restart: false });
    expect(res.status, res.text).toBe(202);
    expect(res.text).not.toContain(secret);
    const job = await p.waitJob(res.body.job.id);
    expect(job.state, job.error ?? '').toBe('succeeded');
    expect(p.fake.state().apps.shop!.env.STRIPE_LIVE).toBe(secret);

    const cfg = await p.inject(user, 'GET', '/apps/shop/config');
    expect(cfg.status).toBe(200);
    expect(cfg.text).not.toContain(secret);
    expect(cfg.body.items).toEqual(expect.arrayContaining([
      { key: 'STRIPE_LIVE', value: null, secret: true }, { key: 'PLAIN_NAME', value: 'hello', secret: false },
    ]));
    // the build echoes BUILD_SECRET_ECHO; the deploy log must not show it
    const dep = await p.inject(user, 'POST', '/apps/shop/deploys', { image: 'nginx:1.27' });
    await p.waitJob(dep.body.job.id);
    const all = [...await logsOf(job.id), ...await logsOf(dep.body.job.id)].join('\n');
    expect(all).toContain('STRIPE_LIVE');
    expect(all).not.toContain(secret);
    expect(all).not.toContain(buildSecret);
    expect(all).not.toContain(Buffer.from(secret).toString('base64'));
    const audit = await p.t.services.database.db.selectFrom('audit_log').selectAll().execute();
    expect(JSON.stringify(audit)).not.toContain(secret);
    expect(JSON.stringify(audit)).toContain('STRIPE_LIVE');
    const jobsRows = JSON.stringify(await p.t.services.database.db.selectFrom('jobs').selectAll().execute());
    expect(jobsRows).not.toContain(secret);
    expect(jobsRows).not.toContain(Buffer.from(secret).toString('base64'));
    const sealed = JSON.stringify(await p.t.services.database.db.selectFrom('apps_secrets' as never).selectAll().execute());
    expect(sealed).toContain('v1.');
    expect(sealed).not.toContain(secret);
    // unset drops the secret
    const un = await p.inject(user, 'PATCH', '/apps/shop/config', { unset: ['STRIPE_LIVE'] });
    expect((await p.waitJob(un.body.job.id)).state).toBe('succeeded');
    expect((await p.inject(user, 'GET', '/apps/shop/config')).body.items.some((i: { key: string }) => i.key === 'STRIPE_LIVE')).toBe(false);
  }, 60_000);

  it('domains, checks, ports, scale and ps', async () => {
    const d = await p.inject(user, 'PATCH', '/apps/shop/domains', { add: ['Shop.Example.com', 'bücher.example'] });
    expect(d.status, d.text).toBe(200);
    expect(d.body.domains).toEqual(['shop.example.com', 'xn--bcher-kva.example']);
    expect((await p.inject(user, 'GET', '/apps/shop')).body.app.domains).toEqual(['shop.example.com', 'xn--bcher-kva.example']);
    const c = await p.inject(user, 'PATCH', '/apps/shop/checks', { disable: ['worker'], waitToRetire: 30 });
    expect(c.status, c.text).toBe(200);
    expect(c.body).toMatchObject({ disabled: ['worker'], waitToRetire: 30 });
    const po = await p.inject(user, 'PATCH', '/apps/shop/ports', { set: ['http:80:5000'] });
    expect(po.status, po.text).toBe(200);
    expect(po.body.map).toEqual([{ scheme: 'http', hostPort: 80, containerPort: 5000 }]);
    const sc = await p.inject(user, 'PUT', '/apps/shop/scale', { processes: { web: 2 } });
    expect(sc.status, sc.text).toBe(202);
    expect((await p.waitJob(sc.body.job.id)).state).toBe('succeeded');
    expect((await p.inject(user, 'GET', '/apps/shop/scale')).body.processes).toEqual({ web: 2 });
    const st = await p.inject(user, 'POST', '/apps/shop/ps/stop');
    expect((await p.waitJob(st.body.job.id)).state).toBe('succeeded');
    expect((await p.inject(user, 'GET', '/apps/shop')).body.app.status).toBe('stopped');
  }, 60_000);

  it('destroy needs the name typed again, then runs apps:destroy --force', async () => {
    const wrong = await p.inject(user, 'DELETE', '/apps/shop', { confirm: 'shop2' });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error.code).toBe('confirmation_mismatch');
    expect(p.fake.calls().some((c) => c[0] === 'apps:destroy')).toBe(false);
    const ok = await p.inject(user, 'DELETE', '/apps/shop', { confirm: 'shop' });
    expect(ok.status, ok.text).toBe(202);
    expect((await p.waitJob(ok.body.job.id)).state).toBe('succeeded');
    expect(p.fake.calls().some((c) => c.join(' ') === 'apps:destroy shop --force')).toBe(true);
    expect((await p.inject(user, 'GET', '/apps/shop')).status).toBe(404);
    expect((await p.inject(user, 'GET', '/apps')).body.items).toEqual([]);
  }, 60_000);
});
