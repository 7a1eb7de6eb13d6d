import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreatePanelKey } from '../../infra/ssh.js';
import { modules } from '../../modules.js';
import { createTestApp, type SignedIn, type TestApp } from '../../testing/harness.js';
import { startSshd, type TestSshd } from '../../testing/sshd.js';

/** Hosts are the platform's: they work with the server module disabled. */
describe('hosts without the server module', () => {
  let t: TestApp;
  let admin: SignedIn;
  let viewer: SignedIn;
  let sshd: TestSshd;

  beforeAll(async () => {
    t = await createTestApp({ modules: modules.filter((m) => m.id === 'sites'), env: { SLIPWAY_SITES_REFRESH_INTERVAL_SECONDS: '0', SLIPWAY_SITES_CERT_CHECK_INTERVAL_HOURS: '0' } });
    admin = await t.signIn('admin');
    viewer = await t.signIn('viewer');
    sshd = await startSshd({ authorizedKeys: [loadOrCreatePanelKey(t.dataDir).publicKey] });
  });
  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
  });

  it('serves /api/v1/hosts, adds an SSH host with its key pinned, and hands out a remote runner', async () => {
    expect(t.app.routeTable.some((r) => r.url.startsWith('/api/v1/server/'))).toBe(false);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/hosts', headers: viewer.headers });
    expect(list.statusCode).toBe(200);
    expect(list.json().items[0]).toMatchObject({ id: 'local', kind: 'local' });

    const key = await t.app.inject({ method: 'GET', url: '/api/v1/hosts/ssh-key', headers: admin.headers });
    expect(key.json().publicKey).toMatch(/^ssh-ed25519 /);
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/hosts', headers: admin.headers, payload: { name: 'edge9', address: sshd.address, port: sshd.port, username: sshd.username, hostKeyFingerprint: sshd.hostKeyFingerprint } });
    expect(res.statusCode, res.body).toBe(201);
    const host = res.json().host;
    expect(host.capabilities.docker).toBe(true); // capability detection ran over SSH

    const runner = await t.services.hosts.runner(host.id);
    const r = await runner.exec('uname', ['-s']);
    expect(r.stdout.trim()).toBe('Linux');
    expect(runner.host).toBe('edge9');
  });

  it('refuses a host whose key does not match the confirmed fingerprint', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/hosts', headers: admin.headers, payload: { name: 'edge10', address: sshd.address, port: sshd.port, username: sshd.username, hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` } });
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(500);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/hosts', headers: viewer.headers })).json().items.map((h: { name: string }) => h.name)).not.toContain('edge10');
  });
});
