import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreatePanelKey } from '../../infra/ssh.js';
import { createTestApp, type SignedIn, type TestApp } from '../../testing/harness.js';
import { startSshd, type TestSshd } from '../../testing/sshd.js';
import { modules } from '../../modules.js';

// Metrics and logs over SSH come from the server module; the host routes are the platform's.
const serverModule = modules.find((m) => m.id === 'server')!;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('hosts over SSH against a real sshd', () => {
  let t: TestApp;
  let admin: SignedIn;
  let viewer: SignedIn;
  let sshd: TestSshd;
  let other: TestSshd | undefined;

  const dir = mkdtempSync(path.join(tmpdir(), 'slipway-remote-logs-'));
  const remoteLog = path.join(dir, 'app.log');

  beforeAll(async () => {
    writeFileSync(remoteLog, 'one\ntwo\n');
    t = await createTestApp({ modules: [serverModule], env: { SLIPWAY_SERVER_SAMPLE_INTERVAL_MS: '500', SLIPWAY_SERVER_LOG_SOURCES: JSON.stringify({ app: remoteLog }) } });
    admin = await t.signIn('admin');
    viewer = await t.signIn('viewer');
    sshd = await startSshd({ authorizedKeys: [loadOrCreatePanelKey(t.dataDir).publicKey] });
  });
  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    await other?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the local host from the start', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/hosts', headers: viewer.headers });
    expect(res.statusCode).toBe(200);
    expect(res.json().items[0]).toMatchObject({ id: 'local', kind: 'local', status: 'online' });
  });

  it('adds a host: probe shows the fingerprint, adding pins it, capabilities are detected, metrics flow over SSH', async () => {
    const probe = await t.app.inject({ method: 'POST', url: '/api/v1/hosts/probe', headers: admin.headers, payload: { address: sshd.address, port: sshd.port } });
    expect(probe.statusCode).toBe(200);
    expect(probe.json().fingerprint).toBe(sshd.hostKeyFingerprint);
    expect(probe.json().panelPublicKey).toMatch(/^ssh-ed25519 /);

    const denied = await t.app.inject({ method: 'POST', url: '/api/v1/hosts', headers: viewer.headers, payload: { name: 'nope', address: sshd.address, port: sshd.port, username: sshd.username, hostKeyFingerprint: sshd.hostKeyFingerprint } });
    expect(denied.statusCode).toBe(403);

    const res = await t.app.inject({ method: 'POST', url: '/api/v1/hosts', headers: admin.headers, payload: { name: 'edge1', address: sshd.address, port: sshd.port, username: sshd.username, hostKeyFingerprint: sshd.hostKeyFingerprint } });
    expect(res.statusCode, res.body).toBe(201);
    const host = res.json().host;
    expect(host).toMatchObject({ name: 'edge1', kind: 'ssh', hostKeyFingerprint: sshd.hostKeyFingerprint, status: 'online' });
    // This "remote" host is this machine: what it offers is what is installed here.
    expect(host.capabilities.docker).toBe(true);
    expect(host.capabilities.netdata).toBe(true);
    expect(host.capabilities.tgt).toBe(true);
    expect(host.capabilities.systemd).toBe(false); // no systemd as PID 1 here

    type Metrics = { current: { memory: { totalBytes: number }; disks: { mount: string }[] } | null; sampler: { state: string } };
    const metrics = await waitFor<Metrics>('a remote sample', async () => {
      const m = await t.app.inject({ method: 'GET', url: `/api/v1/server/metrics?host=${host.id}`, headers: viewer.headers });
      const body = m.json() as Metrics;
      return body.current ? body : null;
    });
    const memTotal = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]) * 1024;
    expect(metrics.current!.memory.totalBytes).toBe(memTotal);
    expect(metrics.current!.disks.map((d) => d.mount)).toContain('/');
    expect(metrics.sampler.state).toBe('ok');

    // Netdata on the remote host, asked from there (curl over SSH to its loopback agent).
    const nd = await t.app.inject({ method: 'GET', url: `/api/v1/server/netdata?host=${host.id}&chart=system.cpu&seconds=10&points=5`, headers: viewer.headers });
    expect(nd.statusCode, nd.body).toBe(200);
    expect(nd.json()).toMatchObject({ apiVersion: 1, chart: 'system.cpu' });
    expect(nd.json().labels).toContain('user');

    // Remote log files: tail over SSH (here the machine's own MariaDB/nginx logs may be absent, so list only).
    const logs = await t.app.inject({ method: 'GET', url: `/api/v1/server/logs?host=${host.id}`, headers: admin.headers });
    expect(logs.statusCode, logs.body).toBe(200);
    expect(logs.json().items.map((s: { id: string }) => s.id)).toContain('nginx-access');

    const tail = await t.app.inject({ method: 'GET', url: `/api/v1/server/logs/app?host=${host.id}&lines=5`, headers: admin.headers });
    expect(tail.json().items.map((l: { text: string }) => l.text)).toEqual(['one', 'two']);

    const test = await t.app.inject({ method: 'POST', url: `/api/v1/hosts/${host.id}/test`, headers: admin.headers });
    expect(test.json()).toMatchObject({ ok: true, status: 'online', hostKeyMatches: true });
    expect(test.json().system).toMatch(/^Linux /);

    const audit = await t.services.audit.list({ action: 'hosts.create', limit: 10 });
    expect(audit.items.some((a) => a.target?.id === host.id && a.outcome === 'success')).toBe(true);
  }, 60_000);

  it('follows a remote file over SSH (tail -F) through rotation', async () => {
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/hosts', headers: admin.headers });
    const host = list.json().items.find((h: { name: string }) => h.name === 'edge1');
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (t.app.server.address() as { port: number }).port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/server/logs/app/ws?host=${host.id}&lines=1`, ['slipway.v1', `bearer.${admin.token}`]);
    const texts: string[] = [];
    ws.on('message', (m) => {
      const msg = JSON.parse(String(m)) as { type: string; line?: string };
      if (msg.type === 'log') texts.push(msg.line!);
    });
    await waitFor('the last line', async () => texts.includes('two'));
    appendFileSync(remoteLog, 'three\n');
    await waitFor('an appended line', async () => texts.includes('three'));
    renameSync(remoteLog, `${remoteLog}.1`);
    writeFileSync(remoteLog, 'after rotation\n');
    await waitFor('the rotated file', async () => texts.includes('after rotation'));
    ws.close();
    expect(texts).toEqual(['two', 'three', 'after rotation']);
  }, 60_000);

  it('refuses a host whose key differs from the confirmed fingerprint, loudly', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/hosts', headers: admin.headers, payload: { name: 'impostor', address: sshd.address, port: sshd.port, username: sshd.username, hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` } });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.code).toBe('host_key_mismatch');
    expect(res.json().error.message).toMatch(/changed|Refusing/);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/hosts', headers: admin.headers });
    expect(list.json().items.map((h: { name: string }) => h.name)).not.toContain('impostor');
  });

  it('marks a pinned host whose key changed (same address, new key) and stops using it', async () => {
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/hosts', headers: admin.headers });
    const host = list.json().items.find((h: { name: string }) => h.name === 'edge1');
    const port = sshd.port;
    await sshd.stop();
    other = await startSshd({ authorizedKeys: [loadOrCreatePanelKey(t.dataDir).publicKey], port });
    const test = await t.app.inject({ method: 'POST', url: `/api/v1/hosts/${host.id}/test`, headers: admin.headers });
    expect(test.json()).toMatchObject({ ok: false, status: 'host-key-mismatch', hostKeyMatches: false, hostKeyFingerprint: other.hostKeyFingerprint });
    const after = await t.app.inject({ method: 'GET', url: `/api/v1/hosts/${host.id}`, headers: admin.headers });
    expect(after.json().host.status).toBe('host-key-mismatch');

    // Re-pinning the new key after the operator confirmed it makes the host usable again.
    const repin = await t.app.inject({ method: 'PATCH', url: `/api/v1/hosts/${host.id}`, headers: admin.headers, payload: { hostKeyFingerprint: other.hostKeyFingerprint } });
    expect(repin.statusCode, repin.body).toBe(200);
    expect(repin.json().host).toMatchObject({ status: 'online', hostKeyFingerprint: other.hostKeyFingerprint });
  });

  it('removes a remote host but never the local one', async () => {
    const local = await t.app.inject({ method: 'DELETE', url: '/api/v1/hosts/local', headers: admin.headers });
    expect(local.statusCode).toBe(422);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/hosts', headers: admin.headers });
    const host = list.json().items.find((h: { name: string }) => h.name === 'edge1');
    const del = await t.app.inject({ method: 'DELETE', url: `/api/v1/hosts/${host.id}`, headers: admin.headers });
    expect(del.statusCode).toBe(200);
    const gone = await t.app.inject({ method: 'GET', url: `/api/v1/hosts/${host.id}`, headers: admin.headers });
    expect(gone.statusCode).toBe(404);
    const overview = await t.app.inject({ method: 'GET', url: '/api/v1/system/overview', headers: admin.headers });
    expect(overview.json().hosts.map((h: { id: string }) => h.id)).toEqual(['local']);
  });
});
