import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createSshRunnerFactory, LocalProcessRunner, type SshRunnerFactory, WS_PROTOCOL } from '../../../server/src/testing/index.js';
import type { SignedIn } from '../../../server/src/testing/harness.js';
import { startSshd, type TestSshd } from '../../../server/src/testing/sshd.js';
import { macForAddress } from './domain-xml.js';
import { Virsh } from './libvirt.virsh.js';
import { testGuest } from './test-fixtures/test-guest.js';
import { createVpsHarness, type VpsHarness } from './test-fixtures/vps-harness.js';

const HOST = 'vps-ssh-1';

/**
 * A VPS host reached over SSH (issue 12: "remote hosts run the same commands through the host's SSH
 * runner"). The "node" is this machine behind a private sshd on loopback, its libvirt the real
 * qemu:///system: the panel places on it, makes the disk, seed, network and domain through the SSH
 * runner only (SLIPWAY_VPS_HOSTS names only the remote host), drives the lifecycle, and proxies
 * both consoles through SSH (VNC over a direct-tcpip forward to the node's loopback, serial with
 * `virsh console` on an SSH pty) without the node's address reaching the client.
 * One TCG guest boots (the busybox test guest, ~5-10 s).
 */
describe('vps on a remote host (SSH runner → qemu:///system)', () => {
  const tag = randomBytes(3).toString('hex');
  const root = `/var/lib/libvirt/images/slipway-remote-${tag}`;
  const net = `slipway-r${tag}`;
  const octet = 100 + (parseInt(tag.slice(0, 2), 16) % 150);
  const local = new Virsh(new LocalProcessRunner(), { uri: 'qemu:///system' });
  let h: VpsHarness;
  let sshd: TestSshd;
  let factory: SshRunnerFactory;
  let admin: SignedIn;
  let owner: SignedIn;
  let other: SignedIn;
  let base: string;

  beforeAll(async () => {
    const g = testGuest();
    mkdirSync(path.join(root, 'kernels'), { recursive: true, mode: 0o711 });
    copyFileSync(g.kernel, path.join(root, 'kernels', 'vmlinuz'));
    copyFileSync(g.initrd, path.join(root, 'kernels', 'initrd.img'));
    h = await createVpsHarness({
      SLIPWAY_VPS_HOSTS: HOST, SLIPWAY_VPS_PUBLIC_NETWORK: net, SLIPWAY_VPS_PUBLIC_SUBNET: `10.235.${octet}.0/24`,
      SLIPWAY_VPS_HOST_DISK_GB: '50', SLIPWAY_VPS_MAX_UPLOAD_BYTES: String(64 * 1024 * 1024),
    }, { system: true, root });
    factory = createSshRunnerFactory({ dataDir: h.t.dataDir });
    sshd = await startSshd({ authorizedKeys: [factory.publicKey()], skipShellRc: true });
    h.t.services.hosts.setRemoteRunnerFactory(factory);
    const at = Date.now();
    await h.t.services.database.db.insertInto('hosts').values({
      id: HOST, name: HOST, kind: 'ssh', address: sshd.address, port: sshd.port, username: sshd.username,
      host_key_fingerprint: sshd.hostKeyFingerprint, capabilities: JSON.stringify({}), status: 'online', last_checked_at: null, created_at: at, updated_at: at,
    }).execute();
    await h.t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `ws://127.0.0.1:${(h.t.app.server.address() as { port: number }).port}/api/v1`;
    admin = await h.signIn('admin');
    owner = await h.signIn('user');
    other = await h.signIn('user');
    // Images are converted on the panel's host; the node shares this storage root (same machine).
    const up = await h.t.app.inject({
      method: 'POST', url: `/api/v1/vps/images?name=busybox&os=test&public=true&kernel=vmlinuz&initrd=initrd.img&cmdline=${encodeURIComponent(g.cmdline)}`,
      headers: { ...admin.headers, 'content-type': 'application/octet-stream' }, payload: readFileSync(g.baseDisk),
    });
    expect(up.statusCode, up.body).toBe(202);
    expect(await h.waitJob(up.json().job.id)).toMatchObject({ state: 'succeeded' });
  }, 180_000);

  afterAll(async () => {
    await h?.close().catch(() => {});
    factory?.close();
    await sshd?.stop();
    for (const d of await local.listAll().catch(() => [])) {
      if (!d.name.startsWith('slw-')) continue;
      const desc = await local.describe(d.name).catch(() => null);
      if (desc?.disks.some((k) => k.file?.startsWith(root)) && desc.slipway) {
        await local.destroy(d.name, desc.slipway.vpsId).catch(() => {});
        await local.undefine(d.name, desc.slipway.vpsId).catch(() => {});
      }
    }
    if ((await local.netList().catch(() => [])).some((n) => n.name === net)) {
      await local.netDestroy(net).catch(() => {});
      await local.netUndefine(net).catch(() => {});
    }
    rmSync(root, { recursive: true, force: true });
  });

  // Bytes are collected from the start: a remote console's stream is open before the upgrade, so
  // its first bytes can arrive in the same packet as the 101 response.
  const open = (url: string, token?: string) => new Promise<{ ws: WebSocket; status?: number; received: { text: string } }>((resolve) => {
    const ws = new WebSocket(url, token ? [WS_PROTOCOL, `bearer.${token}`] : [WS_PROTOCOL]);
    const received = { text: '' };
    ws.on('message', (d: Buffer) => (received.text += d.toString('latin1')));
    ws.once('open', () => resolve({ ws, received }));
    ws.once('unexpected-response', (_req, res) => resolve({ ws, status: res.statusCode, received }));
    ws.once('error', () => resolve({ ws, status: -1, received }));
  });
  const receive = async (c: { received: { text: string } }, until: (text: string) => boolean, timeoutMs: number) => {
    const end = Date.now() + timeoutMs;
    while (!until(c.received.text)) {
      if (Date.now() > end) throw new Error(`not seen within ${timeoutMs} ms; got: ${JSON.stringify(c.received.text.slice(-600))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return c.received.text;
  };

  it('places, creates, drives and proxies the consoles of a VPS on the remote host; delete leaves nothing there', async () => {
    const plan = await h.t.app.inject({ method: 'POST', url: '/api/v1/vps/plans', headers: admin.headers, payload: { name: 'tiny', vcpus: 1, memoryMb: 256, diskGb: 1 } });
    const images = (await h.t.app.inject({ method: 'GET', url: '/api/v1/vps/images', headers: owner.headers })).json().items as { id: string }[];

    // placement sees the remote host's capacity (read over SSH)
    const cap = await h.t.app.inject({ method: 'GET', url: '/api/v1/vps/hosts', headers: admin.headers });
    expect(cap.json().items).toEqual([expect.objectContaining({ hostId: HOST, cpus: expect.any(Number), diskGb: 50 })]);
    expect(cap.json().items[0].cpus).toBeGreaterThan(0);

    const res = await h.t.app.inject({ method: 'POST', url: '/api/v1/vps', headers: owner.headers, payload: { hostname: 'far1', planId: plan.json().plan.id, imageId: images[0]!.id } });
    expect(res.statusCode, res.body).toBe(202);
    const sys = { kind: 'system' as const, userId: null, username: 'system', role: 'admin' as const };
    const job = await h.t.services.jobs.waitFor(res.json().job.id, 150_000).catch(async (e) => {
      const v = await h.t.services.jobs.get(res.json().job.id, sys);
      throw new Error(`${(e as Error).message}: ${JSON.stringify(v.steps)} ${JSON.stringify((await h.t.services.jobs.logs(v.id, sys)).map((l) => l.line))}`);
    });
    expect(job.state, job.error ?? '').toBe('succeeded');
    const id = res.json().vps.id as string;
    const seen = (await h.t.app.inject({ method: 'GET', url: `/api/v1/vps/${id}`, headers: owner.headers })).json().vps;
    expect(seen).toMatchObject({ state: 'running', hostId: null, mac: macForAddress(seen.address) });
    expect(JSON.stringify(seen)).not.toContain(sshd.address);
    const staff = (await h.t.app.inject({ method: 'GET', url: `/api/v1/vps/${id}`, headers: admin.headers })).json().vps;
    expect(staff.hostId).toBe(HOST);

    // it really went through the SSH runner: the node's libvirt has it, and the runner names the SSH host
    const remote = await h.rt.hosts.get(HOST);
    expect(remote.run.host).toBe(HOST);
    expect((await local.listAll()).find((d) => d.name === `slw-${id}`)?.state).toBe('running');
    expect(existsSync(path.join(root, 'disks', `${id}.qcow2`))).toBe(true);
    expect(existsSync(path.join(root, 'seeds', `${id}.iso`))).toBe(true);

    // consoles: anonymous 401, a foreign user 404; the owner gets the RFB greeting over an SSH forward
    expect((await open(`${base}/vps/${id}/console/vnc`)).status).toBe(401);
    expect((await open(`${base}/vps/${id}/console/vnc`, other.token)).status).toBe(404);
    const vnc = await open(`${base}/vps/${id}/console/vnc`, owner.token);
    expect(vnc.status).toBeUndefined();
    expect(await receive(vnc, (t) => /^RFB 003\.00\d\n/.test(t), 20_000)).toMatch(/^RFB 003\.00\d\n/);
    vnc.ws.close();
    // serial: `virsh console` on an SSH pty; the guest's getty answers Enter with its login prompt
    const serial = await open(`${base}/vps/${id}/console/serial`, owner.token);
    expect(serial.status).toBeUndefined();
    const poke = setInterval(() => serial.ws.readyState === serial.ws.OPEN && serial.ws.send(Buffer.from('\r')), 1000);
    try {
      expect(await receive(serial, (t) => /far1 login:/.test(t), 90_000)).toMatch(/far1 login:/);
    } finally {
      clearInterval(poke);
      serial.ws.close();
    }

    // lifecycle over SSH
    const off = await h.t.app.inject({ method: 'POST', url: `/api/v1/vps/${id}/poweroff`, headers: owner.headers });
    expect(off.statusCode, off.body).toBe(200);
    expect(off.json().vps.state).toBe('shut off');
    expect((await local.listAll()).find((d) => d.name === `slw-${id}`)?.state).toBe('shut off');
    const on = await h.t.app.inject({ method: 'POST', url: `/api/v1/vps/${id}/start`, headers: owner.headers });
    expect(on.statusCode, on.body).toBe(200);
    expect(on.json().vps.state).toBe('running');

    // delete: domain, disk and seed gone on the node, the address free
    const del = await h.t.app.inject({ method: 'DELETE', url: `/api/v1/vps/${id}`, headers: owner.headers, payload: { confirm: 'far1' } });
    expect((await h.waitJob(del.json().job.id)).state).toBe('succeeded');
    expect((await local.listAll()).some((d) => d.name === `slw-${id}`)).toBe(false);
    expect(existsSync(path.join(root, 'disks', `${id}.qcow2`))).toBe(false);
    expect(existsSync(path.join(root, 'seeds', `${id}.iso`))).toBe(false);
    expect(await h.rt.service.d.repo.addressOf(id)).toBeUndefined();
  }, 480_000);
});
