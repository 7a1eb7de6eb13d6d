import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadOrCreatePanelKey } from '../../../../server/src/testing/index.js';
import { createTestApp, type SignedIn, type TestApp } from '../../../../server/src/testing/harness.js';
import { serverModule } from '../index.js';
import { startSystemdHost, type SystemdHost } from '../testing/systemd-host.js';

/** Real systemd: a Debian container with systemd as PID 1, sshd and nginx, added over SSH. */
describe('systemd services and journald on a real systemd host', { timeout: 60_000 }, () => {
  let t: TestApp;
  let admin: SignedIn;
  let support: SignedIn;
  let viewer: SignedIn;
  let box: SystemdHost;
  let hostId: string;
  let baseUrl: string;

  beforeAll(async () => {
    t = await createTestApp({ modules: [serverModule], env: { SLIPWAY_SERVER_SAMPLE_INTERVAL_MS: '1000' } });
    [admin, support, viewer] = await Promise.all([t.signIn('admin'), t.signIn('support'), t.signIn('viewer')]);
    box = await startSystemdHost(loadOrCreatePanelKey(t.dataDir).publicKey);
    const probe = await t.app.inject({ method: 'POST', url: '/api/v1/hosts/probe', headers: admin.headers, payload: { address: box.address, port: box.port } });
    // The operator compares the probed key with the one the host itself reports, then pins it.
    expect(probe.json().fingerprint).toBe(box.hostKeyFingerprint);
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/hosts', headers: admin.headers, payload: { name: 'systemd1', address: box.address, port: box.port, username: 'root', hostKeyFingerprint: probe.json().fingerprint } });
    expect(res.statusCode, res.body).toBe(201);
    hostId = res.json().host.id;
    expect(res.json().host.capabilities).toMatchObject({ systemd: true, systemctl: true, journald: true, docker: false });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    baseUrl = `ws://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
  }, 90_000);

  afterAll(async () => {
    await t?.close();
    await box?.stop();
  });

  it('lists the allow-listed units with state, sub-state, since, main PID and memory', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/server/services?host=${hostId}`, headers: viewer.headers });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.systemd.live).toBe(true);
    const names = body.items.map((u: { unit: string }) => u.unit);
    expect(names).toEqual(expect.arrayContaining(['nginx.service', 'ssh.service']));
    // Units outside the allow-list are not shown even though they run.
    expect(names).not.toContain('systemd-journald.service');
    const nginx = body.items.find((u: { unit: string }) => u.unit === 'nginx.service');
    const pid = Number((await box.exec(['systemctl', 'show', '--property=MainPID', '--value', 'nginx'])).trim());
    expect(nginx).toMatchObject({ activeState: 'active', subState: 'running', mainPid: pid });
    expect(nginx.memoryBytes).toBeGreaterThan(0);
    expect(nginx.since).toBeGreaterThan(Date.now() - 10 * 60_000);
  });

  it('restarts nginx (new main PID, audited); a viewer may not', async () => {
    const before = await t.app.inject({ method: 'GET', url: `/api/v1/server/services/nginx?host=${hostId}`, headers: viewer.headers });
    const oldPid = before.json().service.mainPid;
    const denied = await t.app.inject({ method: 'POST', url: `/api/v1/server/services/nginx/restart?host=${hostId}`, headers: viewer.headers });
    expect(denied.statusCode).toBe(403);
    const res = await t.app.inject({ method: 'POST', url: `/api/v1/server/services/nginx/restart?host=${hostId}`, headers: support.headers });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().service).toMatchObject({ unit: 'nginx.service', activeState: 'active' });
    expect(res.json().service.mainPid).not.toBe(oldPid);
    // support may restart but not stop
    const stop = await t.app.inject({ method: 'POST', url: `/api/v1/server/services/nginx/stop?host=${hostId}`, headers: support.headers });
    expect(stop.statusCode).toBe(403);
    const audit = await t.services.audit.list({ action: 'server.service.restart', limit: 5 });
    expect(audit.items[0]).toMatchObject({ target: { type: 'service', id: `${hostId}:nginx.service` }, outcome: 'success', actor: { name: support.user.username } });
  });

  it('refuses unit names outside the allow-list before anything runs', async () => {
    const auditBefore = (await t.services.audit.list({ action: 'server.service.*', limit: 100 })).items.length;
    for (const name of ['systemd-journald', 'dbus.service', '--force', 'nginx;reboot', '*', 'ng*']) {
      const res = await t.app.inject({ method: 'POST', url: `/api/v1/server/services/${encodeURIComponent(name)}/stop?host=${hostId}`, headers: admin.headers });
      expect([403, 400, 404], `${name}: ${res.body}`).toContain(res.statusCode);
    }
    const traversal = await t.app.inject({ method: 'POST', url: `/api/v1/server/services/..%2F..%2Fetc%2Fpasswd/restart?host=${hostId}`, headers: admin.headers });
    expect([400, 403, 404]).toContain(traversal.statusCode);
    // nothing ran: no service action was recorded and journald is still active
    expect((await t.services.audit.list({ action: 'server.service.*', limit: 100 })).items.length).toBe(auditBefore);
    expect((await box.exec(['systemctl', 'is-active', 'systemd-journald'])).trim()).toBe('active');
  });

  it('follows a unit\'s journal over WebSocket: a restart shows up live', async () => {
    const sources = await t.app.inject({ method: 'GET', url: `/api/v1/server/logs?host=${hostId}`, headers: admin.headers });
    expect(sources.json().items.map((s: { id: string }) => s.id)).toContain('journal-nginx');

    const ws = new WebSocket(`${baseUrl}/api/v1/server/logs/journal-nginx/ws?host=${hostId}&lines=5`, ['slipway.v1', `bearer.${admin.token}`]);
    const texts: string[] = [];
    ws.on('message', (m) => {
      const msg = JSON.parse(String(m)) as { type: string; line?: string };
      if (msg.type === 'log') texts.push(msg.line!);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await new Promise((r) => setTimeout(r, 1000));
    const seen = texts.length;
    await box.exec(['systemctl', 'restart', 'nginx']);
    const deadline = Date.now() + 10_000;
    while (!texts.slice(seen).some((l) => /Started|Starting/.test(l)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    ws.close();
    expect(texts.slice(seen).join('\n')).toMatch(/Start(ed|ing) .*nginx|Start(ed|ing) A high performance web server/);

    const tail = await t.app.inject({ method: 'GET', url: `/api/v1/server/logs/journal-nginx?host=${hostId}&lines=50&level=info`, headers: admin.headers });
    expect(tail.statusCode, tail.body).toBe(200);
    expect(tail.json().items.length).toBeGreaterThan(0);
    expect(tail.json().items.every((l: { level: string }) => ['info', 'warn', 'error'].includes(l.level))).toBe(true);
  });

  it('says clearly that the local machine has no running systemd', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/server/services?host=local', headers: viewer.headers });
    expect(res.statusCode).toBe(200);
    expect(res.json().systemd).toMatchObject({ live: false });
    expect(res.json().items).toEqual([]);
    const journal = await t.app.inject({ method: 'GET', url: '/api/v1/server/logs/journal-nginx?host=local', headers: admin.headers });
    expect(journal.statusCode).toBe(503);
  });
});
