import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type HttpApp, loadConfig, loadOrCreateSecrets, SYSTEM_ACTOR } from '../../../server/src/testing/index.js';
import { testPassword } from '../../../server/src/testing/harness.js';
import { freePort } from '../../../server/src/testing/ports.js';
import { createTestDatabase, type TestDatabase } from '../../../server/src/testing/test-db.js';
import type { AppsDb } from './apps.repo.js';
import { createAppsModule } from './index.js';
import { until } from './test-fixtures/apps-harness.js';
import { createFakeDokku, type FakeDokku } from './test-fixtures/fake-dokku.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const panelMain = path.join(repoRoot, 'modules/apps/server/test-fixtures/panel-main.ts');

/**
 * kill -9 of a real panel process in the middle of a deploy: after a restart the job is
 * `interrupted` with its log, the deploy shows what Dokku's builds:list says happened, the app's
 * real state is read again, and nothing is stuck (the next deploy of the app runs).
 */
describe('apps: a panel crash mid-deploy', () => {
  let testDb: TestDatabase;
  let fake: FakeDokku;
  let control: HttpApp;
  let headers: Record<string, string>;
  const children: ChildProcess[] = [];

  function startPanel(port: number) {
    const env: NodeJS.ProcessEnv = {
      ...process.env, SLIPWAY_DATA_DIR: testDb.dataDir, SLIPWAY_LISTEN: `127.0.0.1:${port}`, SLIPWAY_LOG_LEVEL: 'warn', SLIPWAY_JOB_WORKERS: '2',
      SLIPWAY_APPS_DOKKU_BIN: fake.bin, SLIPWAY_APPS_REFRESH_INTERVAL_SECONDS: '1',
    };
    delete env.SLIPWAY_TEST_DATABASE_URL;
    if (testDb.pgSchema) env.SLIPWAY_DATABASE_URL = `${testDb.url}${testDb.url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${testDb.pgSchema}`)}`;
    const child = spawn(process.execPath, ['--import', 'tsx', panelMain], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, output: () => out, exited };
  }

  const api = async (method: 'GET' | 'POST', url: string, payload?: object) => {
    const res = await control.inject({ method, url: `/api/v1${url}`, headers, ...(payload ? { payload } : {}) });
    return { status: res.statusCode, body: res.json() as any, text: res.body };
  };
  const store = () => (control.slipway.jobs as unknown as { store: { find(id: string): Promise<{ state: string } | undefined>; readLines(id: string, a: number, l: number): Promise<{ seq: number; line: string }[]> } }).store;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    fake = createFakeDokku({ images: ['nginx:1.26', 'nginx:1.27'] });
    // In this process: routes and database only (no workers): the spawned panels run the jobs.
    const modules = [createAppsModule()];
    const config = loadConfig({ SLIPWAY_DATA_DIR: testDb.dataDir, SLIPWAY_LOG_LEVEL: 'silent', SLIPWAY_APPS_DOKKU_BIN: fake.bin, SLIPWAY_APPS_REFRESH_INTERVAL_SECONDS: '0' }, ['apps']);
    control = await buildApp({ config, database: testDb.database, secrets: loadOrCreateSecrets(testDb.dataDir), modules, logger: false, startBackground: false });
    await control.ready();
    const password = testPassword();
    await control.slipway.auth.users.create(SYSTEM_ACTOR, { username: 'crash-op', email: 'crash-op@example.test', role: 'operator', password });
    const login = await control.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'crash-op', password } });
    headers = { authorization: `Bearer ${(login.json() as { accessToken: string }).accessToken}` };
  }, 60_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await control?.close();
    await testDb?.cleanup();
    fake?.cleanup();
  });

  it('leaves the job interrupted with its log, shows builds:list\'s verdict, and the next deploy runs', async () => {
    expect((await api('POST', '/apps', { name: 'crashy' })).status).toBe(201);
    const port = await freePort();
    const first = startPanel(port);
    const dep1 = await api('POST', '/apps/crashy/deploys', { image: 'nginx:1.26' });
    expect(dep1.status, dep1.text).toBe(202);
    expect((await control.slipway.jobs.waitFor(dep1.body.job.id, 60_000).catch((e: Error) => { throw new Error(`${e.message}\n${first.output()}`); })).state).toBe('succeeded');

    fake.setState({ ...fake.state(), deployDelayMs: 400 });
    const dep2 = await api('POST', '/apps/crashy/deploys', { image: 'nginx:1.27' });
    expect(dep2.status, dep2.text).toBe(202);
    const jobId = dep2.body.job.id as string;
    const beforeKill = await until('the deploy building', async () => {
      const lines = await store().readLines(jobId, 0, 1000);
      return lines.some((l) => l.line.includes('Building crashy')) ? lines : undefined;
    }, 60_000);
    first.child.kill('SIGKILL');
    await first.exited;
    expect((await store().find(jobId))?.state).toBe('running'); // what a crash leaves behind
    fake.setState({ ...fake.state(), deployDelayMs: 0 });

    const second = startPanel(port);
    const job = await control.slipway.jobs.waitFor(jobId, 60_000).catch((e: Error) => { throw new Error(`${e.message}\n${second.output()}`); });
    expect(job.state).toBe('interrupted');
    // (recovery writes its line just after the state change)
    const after = await until('the recovery line', async () => {
      const lines = await store().readLines(jobId, 0, 1000);
      return lines.some((l) => /interrupted during step "deploy"/.test(l.line)) ? lines : undefined;
    }, 10_000);
    expect(after.slice(0, beforeKill.length).map((l) => l.line)).toEqual(beforeKill.map((l) => l.line));

    const db = control.slipway.database.db as unknown as AppsDb;
    const settled = await until('the deploy settled from builds:list', async () => {
      const d = await db.selectFrom('apps_deploys').selectAll().where('job_id', '=', jobId).executeTakeFirst();
      return d?.outcome ? d : undefined;
    }, 60_000).catch((e: Error) => { throw new Error(`${e.message}\n${second.output()}`); });
    expect(settled.outcome).toBe('interrupted');
    expect(settled.build_status).toBe('abandoned');
    expect(settled.message).toMatch(/builds:list says build [0-9a-z]{14} abandoned/);
    const deploys = (await api('GET', '/apps/crashy/deploys')).body.items;
    expect(deploys[0]).toMatchObject({ jobId, state: 'interrupted', outcome: 'interrupted', build: { status: 'abandoned' } });
    // Dokku never finished it: the app still runs release 1, as re-read from Dokku.
    const app = (await api('GET', '/apps/crashy')).body.app;
    expect(app).toMatchObject({ image: 'nginx:1.26', status: 'running', lastDeploy: { jobId, outcome: 'interrupted' } });
    expect((await api('GET', '/apps/crashy/releases')).body.items.map((r: { number: number }) => r.number)).toEqual([1]);

    // Nothing stuck: neither the panel's lock nor Dokku's.
    const dep3 = await api('POST', '/apps/crashy/deploys', { image: 'nginx:1.27' });
    expect((await control.slipway.jobs.waitFor(dep3.body.job.id, 60_000)).state).toBe('succeeded');
    expect((await api('GET', '/apps/crashy')).body.app.image).toBe('nginx:1.27');
    second.child.kill('SIGTERM');
    await Promise.race([second.exited, new Promise((r) => setTimeout(r, 10_000))]);
  }, 180_000);
});
