import { appendFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSshRunnerFactory, type SshRunnerFactory } from '../../../server/src/testing/index.js';
import { createTestApp, type SignedIn, type TestApp } from '../../../server/src/testing/harness.js';
import { startSshd, type TestSshd } from '../../../server/src/testing/sshd.js';
import { sitesModule } from './index.js';
import { createFakeWo, type FakeWo } from './test-fixtures/fake-wo.js';

type Json = Record<string, any>;
const HOST = 'wo-ssh-1';

/** The same adapter and service, with `wo` reached over a real sshd instead of locally. */
describe('sites over SSH', () => {
  let fake: FakeWo;
  let t: TestApp;
  let sshd: TestSshd;
  let factory: SshRunnerFactory;
  let admin: SignedIn;

  const req = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) => {
    const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: admin.headers, ...(payload !== undefined ? { payload: payload as Json } : {}) });
    return { status: res.statusCode, body: res.body ? (res.json() as Json) : {} };
  };

  beforeAll(async () => {
    fake = createFakeWo({ sites: { 'remote.example.com': { site_type: 'wp', cache_type: 'wpredis', php_version: '8.3', is_ssl: true, db_name: 'remote_example_com', db_user: 'r', db_password: 'pw' } } });
    fake.writeCertificate('remote.example.com', 5);
    t = await createTestApp({
      modules: [sitesModule],
      env: {
        SLIPWAY_SITES_HOSTS: HOST,
        SLIPWAY_SITES_WO_DIR: fake.dir,
        SLIPWAY_SITES_CERT_DIR: fake.certDir,
        SLIPWAY_SITES_NGINX_LOG_DIR: fake.nginxLogDir,
        SLIPWAY_SITES_REFRESH_INTERVAL_SECONDS: '0',
        SLIPWAY_SITES_CERT_CHECK_INTERVAL_HOURS: '0',
      },
    });
    factory = createSshRunnerFactory({ dataDir: t.dataDir });
    sshd = await startSshd({ authorizedKeys: [factory.publicKey()] });
    t.services.hosts.setRemoteRunnerFactory(factory);
    const at = Date.now();
    await t.services.database.db.insertInto('hosts').values({
      id: HOST, name: HOST, kind: 'ssh', address: sshd.address, port: sshd.port, username: sshd.username,
      host_key_fingerprint: sshd.hostKeyFingerprint, capabilities: JSON.stringify({ wordops: true }), status: 'online', last_checked_at: null, created_at: at, updated_at: at,
    }).execute();
    admin = await t.signIn('admin');
  });
  afterAll(async () => {
    await t?.close();
    factory?.close();
    await sshd?.stop();
    fake?.cleanup();
  });

  it('refreshes the inventory, reads the certificate and warns about it over SSH', async () => {
    const r = await req('POST', '/sites/refresh');
    expect(r.status).toBe(200);
    expect(r.body.reports).toEqual([expect.objectContaining({ host: HOST, sites: 1, failed: 0 })]);
    const site = (await req('GET', `/sites/remote.example.com?host=${HOST}`)).body.site as Json;
    expect(site).toMatchObject({ host: HOST, type: 'wp', cache: 'wpredis', php: '8.3', ssl: { enabled: true } });
    expect(site.ssl.daysLeft).toBeGreaterThanOrEqual(4);
    expect(site.ssl.daysLeft).toBeLessThanOrEqual(5);
    expect((await req('GET', '/sites/alerts')).body.items).toEqual([expect.objectContaining({ host: HOST, domain: 'remote.example.com', kind: 'expiring' })]);
  });

  it('creates, switches PHP and deletes a site through jobs on the remote host', async () => {
    const created = await req('POST', '/sites', { host: HOST, domain: 'ssh.example.com', type: 'wp', cache: 'wpredis', letsencrypt: 'on' });
    expect(created.status).toBe(202);
    expect(created.body.job.resource).toBe(`site:${HOST}:ssh.example.com`);
    const job = await t.services.jobs.waitFor(created.body.job.id, 30_000);
    expect(job.state).toBe('succeeded');
    const lines = (await t.services.jobs.logs(job.id, { kind: 'system', userId: null, username: 'system', role: 'admin' })).map((l) => l.line);
    expect(lines).toContain('Successfully created site http://ssh.example.com');
    expect(fake.calls()).toContainEqual(['site', 'create', 'ssh.example.com', '--wp', '--wpredis', '--letsencrypt=on']);

    const upd = await req('PUT', '/sites/ssh.example.com', { host: HOST, php: '8.1' });
    expect((await t.services.jobs.waitFor(upd.body.job.id, 30_000)).state).toBe('succeeded');
    expect((await req('GET', `/sites/ssh.example.com?host=${HOST}`)).body.site.php).toBe('8.1');

    appendFileSync(`${fake.webrootBase}ssh.example.com/logs/error.log`, '2026/11/22 01:00:00 [error] 1#1: *1 upstream timed out\n');
    const logs = await req('GET', `/sites/ssh.example.com/logs?host=${HOST}&kind=error`);
    expect(logs.body.lines).toEqual(['2026/11/22 01:00:00 [error] 1#1: *1 upstream timed out']);

    const del = await req('DELETE', '/sites/ssh.example.com', { host: HOST, confirm: 'ssh.example.com', keepDatabase: true });
    expect((await t.services.jobs.waitFor(del.body.job.id, 30_000)).state).toBe('succeeded');
    expect(fake.calls()).toContainEqual(['site', 'delete', 'ssh.example.com', '--files', '--force']);
    expect((await req('GET', `/sites/ssh.example.com?host=${HOST}`)).status).toBe(404);
  });
});
