import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { LocalProcessRunner, WS_PROTOCOL } from '../../../server/src/testing/index.js';
import type { SignedIn } from '../../../server/src/testing/harness.js';
import { Virsh } from './libvirt.virsh.js';
import { testGuest } from './test-fixtures/test-guest.js';
import { createVpsHarness, ed25519Key, type VpsHarness } from './test-fixtures/vps-harness.js';

/**
 * The ONE real guest of the module's API tests (qemu:///system, TCG, the busybox test guest):
 * POST /vps → job → running; the seed is proven applied on the serial console WebSocket (the
 * guest's getty prints the seeded hostname) for the owner, while anonymous and a foreign user are
 * refused and a revoked session closes the console; DELETE leaves no disk, seed, address or domain.
 */
describe('vps on qemu:///system: create → running → serial console → delete through the API', () => {
  const tag = randomBytes(3).toString('hex');
  const root = `/var/lib/libvirt/images/slipway-apitest-${tag}`;
  const net = `slipway-t${tag}`;
  const octet = 100 + (parseInt(tag.slice(0, 2), 16) % 150);
  let h: VpsHarness;
  let base: string;
  let admin: SignedIn;
  let owner: SignedIn;
  let other: SignedIn;
  const virsh = new Virsh(new LocalProcessRunner(), { uri: 'qemu:///system' });

  beforeAll(async () => {
    const g = testGuest();
    mkdirSync(path.join(root, 'kernels'), { recursive: true, mode: 0o711 });
    copyFileSync(g.kernel, path.join(root, 'kernels', 'vmlinuz'));
    copyFileSync(g.initrd, path.join(root, 'kernels', 'initrd.img'));
    h = await createVpsHarness({ SLIPWAY_VPS_PUBLIC_NETWORK: net, SLIPWAY_VPS_PUBLIC_SUBNET: `10.233.${octet}.0/24`, SLIPWAY_VPS_HOST_DISK_GB: '50', SLIPWAY_VPS_MAX_UPLOAD_BYTES: String(64 * 1024 * 1024) }, { system: true, root });
    await h.t.app.listen({ port: 0, host: '127.0.0.1' });
    const a = h.t.app.server.address() as { port: number };
    base = `ws://127.0.0.1:${a.port}/api/v1`;
    admin = await h.signIn('admin');
    owner = await h.signIn('user');
    other = await h.signIn('user');
    const up = await h.t.app.inject({
      method: 'POST', url: `/api/v1/vps/images?name=busybox&os=test&kernel=vmlinuz&initrd=initrd.img&cmdline=${encodeURIComponent(g.cmdline)}`,
      headers: { ...admin.headers, 'content-type': 'application/octet-stream' }, payload: readFileSync(g.baseDisk),
    });
    expect(up.statusCode, up.body).toBe(202);
    expect(await h.waitJob(up.json().job.id)).toMatchObject({ state: 'succeeded' });
  }, 180_000);

  afterAll(async () => {
    await h?.close().catch(() => {});
    for (const d of await virsh.listAll().catch(() => [])) {
      if (!d.name.startsWith('slw-')) continue;
      const desc = await virsh.describe(d.name).catch(() => null);
      if (desc?.disks.some((k) => k.file?.startsWith(root)) && desc.slipway) {
        await virsh.destroy(d.name, desc.slipway.vpsId).catch(() => {});
        await virsh.undefine(d.name, desc.slipway.vpsId).catch(() => {});
      }
    }
    if ((await virsh.netList().catch(() => [])).some((n) => n.name === net)) {
      await virsh.netDestroy(net).catch(() => {});
      await virsh.netUndefine(net).catch(() => {});
    }
    rmSync(root, { recursive: true, force: true });
  });

  const open = (url: string, token?: string) => new Promise<{ ws: WebSocket; status?: number }>((resolve) => {
    const ws = new WebSocket(url, token ? [WS_PROTOCOL, `bearer.${token}`] : [WS_PROTOCOL]);
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => resolve({ ws, status: res.statusCode }));
    ws.once('error', () => resolve({ ws, status: -1 }));
  });

  it('boots the guest from a plan with the owner\'s key, proves the seed on the serial console, and deletes everything', async () => {
    const plan = await h.t.app.inject({ method: 'POST', url: '/api/v1/vps/plans', headers: admin.headers, payload: { name: 'tiny', vcpus: 1, memoryMb: 256, diskGb: 1 } });
    const key = await h.t.app.inject({ method: 'POST', url: '/api/v1/ssh-keys', headers: owner.headers, payload: { name: 'k', publicKey: ed25519Key('owner@laptop') } });
    const images = (await h.t.app.inject({ method: 'GET', url: '/api/v1/vps/images', headers: owner.headers })).json().items as { id: string; name: string }[];
    const t0 = Date.now();
    const res = await h.t.app.inject({
      method: 'POST', url: '/api/v1/vps', headers: owner.headers,
      payload: { hostname: 'web1', planId: plan.json().plan.id, imageId: images.find((i) => i.name === 'busybox')!.id, sshKeyIds: [key.json().sshKey.id], userData: '#cloud-config\nfinal_message: "hello from slipway"\n' },
    });
    expect(res.statusCode, res.body).toBe(202);
    const { job, vps } = res.json() as { job: { id: string }; vps: { id: string; domainName: string } };
    expect(await h.waitJob(job.id)).toEqual({ state: 'succeeded', error: null });
    console.log(`create pipeline (request → domain running): ${Date.now() - t0} ms`);
    const got = (await h.t.app.inject({ method: 'GET', url: `/api/v1/vps/${vps.id}`, headers: owner.headers })).json().vps as { state: string; address: string };
    expect(got.state).toBe('running');
    expect(got.address).toMatch(new RegExp(`^10\\.233\\.${octet}\\.\\d+$`));

    const url = `${base}/vps/${vps.id}/console/serial`;
    expect((await open(url)).status).toBe(401);
    expect((await open(url, other.token)).status).toBe(404);

    const { ws, status } = await open(url, owner.token);
    expect(status).toBeUndefined();
    let text = '';
    ws.on('message', (d: Buffer) => (text += d.toString('utf8')));
    const until = Date.now() + 120_000;
    while (!/web1 login:/.test(text) && Date.now() < until) {
      ws.send(Buffer.from('\r'));
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(text).toMatch(/web1 login:/);

    // cloud-init's half in the guest: a reset replays the boot on the same console, where the guest
    // prints the keys it installed into /root/.ssh/authorized_keys and the user-data's final_message.
    text = '';
    expect((await h.t.app.inject({ method: 'POST', url: `/api/v1/vps/${vps.id}/reset`, headers: owner.headers })).statusCode).toBe(200);
    for (const until2 = Date.now() + 120_000; !(/final_message=/.test(text) && /web1 login:/.test(text)) && Date.now() < until2;) {
      ws.send(Buffer.from('\r'));
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(text).toMatch(/SLIPWAY-GUEST: keys=1/);
    expect(text).toMatch(/SLIPWAY-GUEST: key ssh-ed25519 owner@laptop/);
    expect(text).toMatch(/SLIPWAY-GUEST: final_message=hello from slipway/);

    // usage graphs from the real domstats counters (two samples make a point)
    expect(await h.rt.service.sampleMetrics('local')).toBe(0);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await h.rt.service.sampleMetrics('local')).toBe(1);
    const m = await h.t.app.inject({ method: 'GET', url: `/api/v1/vps/${vps.id}/metrics?range=1h`, headers: owner.headers });
    expect(m.statusCode).toBe(200);
    const pt = m.json().points[0] as { cpuPct: number; memoryMb: number; memoryUsedMb: number };
    expect(pt.cpuPct).toBeGreaterThan(0);
    expect(pt.memoryMb).toBe(256);
    expect(pt.memoryUsedMb).toBeGreaterThan(0);
    expect(m.json().bandwidth.usedBytes).toBeGreaterThan(0); // the guest's DHCP exchange at least
    expect((await h.t.app.inject({ method: 'GET', url: `/api/v1/vps/${vps.id}/metrics`, headers: other.headers })).statusCode).toBe(404);

    // the graphical console: refused for anonymous and foreign users; for the owner the panel
    // proxies to the domain's VNC on loopback (RFB greeting); neither the port nor a password is ever shown
    const vncUrl = `${base}/vps/${vps.id}/console/vnc`;
    expect((await open(vncUrl)).status).toBe(401);
    expect((await open(vncUrl, other.token)).status).toBe(404);
    const port = (await virsh.describe(vps.domainName)).vnc?.port;
    expect(port).toBeGreaterThan(5899);
    const view = (await h.t.app.inject({ method: 'GET', url: `/api/v1/vps/${vps.id}`, headers: owner.headers })).body;
    expect(view).not.toContain(String(port));
    expect(view).not.toMatch(/127\.0\.0\.1|passwd|password/i);
    const vnc = await open(vncUrl, owner.token);
    expect(vnc.status).toBeUndefined();
    const greeting = await new Promise<string>((r) => vnc.ws.once('message', (d: Buffer) => r(d.toString('latin1'))));
    expect(greeting).toMatch(/^RFB 003\.00\d\n/);
    vnc.ws.close();
    // revoking the session (sign-out) closes the console at once
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    await h.t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: owner.headers, payload: { refreshToken: owner.refreshToken } });
    expect(await closed).toBe(4401);
    const consoleAudit = async () => (await h.t.services.database.db.selectFrom('audit_log').select(['action']).where('target_id', '=', vps.id).where('action', 'like', 'vps.console.%').execute()).map((a) => a.action);
    for (let i = 0; i < 50 && !(await consoleAudit()).includes('vps.console.close'); i++) await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 50 && (await consoleAudit()).filter((a) => a === 'vps.console.close').length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await consoleAudit()).toEqual(['vps.console.open', 'vps.console.open', 'vps.console.close', 'vps.console.close']);

    const del = await h.t.app.inject({ method: 'DELETE', url: `/api/v1/vps/${vps.id}`, headers: admin.headers, payload: { confirm: 'web1' } });
    expect(del.statusCode).toBe(202);
    expect(await h.waitJob(del.json().job.id)).toMatchObject({ state: 'succeeded' });
    expect(await virsh.exists(vps.domainName)).toBe(false);
    expect(h.leftovers()).toEqual([]);
    expect(await virsh.netDumpxml(net)).not.toContain(got.address);
  }, 240_000);
});
