import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { LocalProcessRunner, WS_PROTOCOL } from '../../../server/src/testing/index.js';
import type { SignedIn } from '../../../server/src/testing/harness.js';
import { Virsh } from './libvirt.virsh.js';
import { debianGuest, type DebianGuest } from './test-fixtures/test-guest.js';
import { createVpsHarness, type VpsHarness } from './test-fixtures/vps-harness.js';

const execFileP = promisify(execFile);

/**
 * The ONE real guest of the module's API tests (qemu:///system, TCG): the Debian guest of
 * scripts/build-debian-guest.sh (GRUB, Debian's cloud kernel, Debian's cloud-init with the NoCloud
 * datasource only, sshd), uploaded through the image API and booted from its disk like any image.
 * POST /vps from a plan with the owner's SSH key and user-data → job → running; Debian's cloud-init
 * applies the seed: the owner logs in over SSH with the key (at the address the panel reserved) and
 * finds user-data's write_files and runcmd done, the hostname set and the root grown to the plan's
 * disk; final_message is on the serial console WebSocket (anonymous and a foreign user refused);
 * real metrics; the VNC proxy; reboot (a new boot id over SSH) → snapshot → a change → revert (the
 * change is gone, the snapshot's boot is back) → sign-out closes the console → DELETE leaves no
 * disk, seed ISO, address or domain.
 */
describe('vps on qemu:///system: a Debian cloud-init guest through the API', () => {
  const tag = randomBytes(3).toString('hex');
  const root = `/var/lib/libvirt/images/slipway-apitest-${tag}`;
  const net = `slipway-t${tag}`;
  const octet = 100 + (parseInt(tag.slice(0, 2), 16) % 150);
  const keyDir = mkdtempSync(path.join(tmpdir(), 'slipway-vps-key-'));
  const keyFile = path.join(keyDir, 'id_ed25519');
  let h: VpsHarness;
  let g: DebianGuest;
  let base: string;
  let admin: SignedIn;
  let owner: SignedIn;
  let other: SignedIn;
  const virsh = new Virsh(new LocalProcessRunner(), { uri: 'qemu:///system' });

  beforeAll(async () => {
    g = debianGuest();
    await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'owner@laptop', '-f', keyFile]);
    const size = statSync(g.image).size;
    h = await createVpsHarness({ SLIPWAY_VPS_PUBLIC_NETWORK: net, SLIPWAY_VPS_PUBLIC_SUBNET: `10.233.${octet}.0/24`, SLIPWAY_VPS_HOST_DISK_GB: '50', SLIPWAY_VPS_MAX_UPLOAD_BYTES: String(size + 1024 * 1024) }, { system: true, root });
    await h.t.app.listen({ port: 0, host: '127.0.0.1' });
    const a = h.t.app.server.address() as { port: number };
    base = `ws://127.0.0.1:${a.port}/api/v1`;
    admin = await h.signIn('admin');
    owner = await h.signIn('user');
    other = await h.signIn('user');
    // a real streamed upload over HTTP (the body is never in memory whole), checksum checked
    const up = await fetch(`http://127.0.0.1:${a.port}/api/v1/vps/images?name=debian-12&os=debian&version=12&minDiskGb=3&cloudInit=true&public=true`, {
      method: 'POST', duplex: 'half', body: createReadStream(g.image) as unknown as ReadableStream,
      headers: { ...admin.headers, 'content-type': 'application/octet-stream', 'content-length': String(size), 'x-checksum-sha256': g.sha256 },
    } as RequestInit);
    const upBody = await up.json() as { job: { id: string } };
    expect(up.status, JSON.stringify(upBody)).toBe(202);
    const j = await h.t.services.jobs.waitFor(upBody.job.id, 300_000);
    expect({ state: j.state, error: j.error }).toEqual({ state: 'succeeded', error: null });
  }, 20 * 60_000);

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
    rmSync(keyDir, { recursive: true, force: true });
  });

  /** One command in the guest over SSH as cloud-init's default user, with the owner's key only. */
  const ssh = async (address: string, command: string): Promise<string> => {
    const { stdout } = await execFileP('ssh', [
      '-i', keyFile, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'PasswordAuthentication=no',
      '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=45',
      '-l', g.user, '--', address, command,
    ], { timeout: 180_000, encoding: 'utf8' });
    return stdout;
  };
  /** Retries until the guest answers (it boots under TCG: tens of seconds, more under load). */
  const sshWhen = async (address: string, command: string, ok: (out: string) => boolean, ms = 900_000): Promise<string> => {
    const until = Date.now() + ms;
    let last = '';
    for (;;) {
      try {
        const out = await ssh(address, command);
        if (ok(out)) return out;
        last = `unexpected output: ${out}`;
      } catch (e) {
        last = (e as Error).message;
      }
      if (Date.now() > until) throw new Error(`ssh ${address}: ${last}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  };

  const open = (url: string, token?: string) => new Promise<{ ws: WebSocket; status?: number }>((resolve) => {
    const ws = new WebSocket(url, token ? [WS_PROTOCOL, `bearer.${token}`] : [WS_PROTOCOL]);
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => resolve({ ws, status: res.statusCode }));
    ws.once('error', () => resolve({ ws, status: -1 }));
  });

  it('boots Debian from a plan with the owner\'s key and user-data, proves cloud-init over SSH, reboots, snapshots, reverts and deletes everything', async () => {
    const plan = await h.t.app.inject({ method: 'POST', url: '/api/v1/vps/plans', headers: admin.headers, payload: { name: 'small', vcpus: 2, memoryMb: 512, diskGb: 3, maxSnapshots: 1 } });
    expect(plan.statusCode, plan.body).toBe(201);
    const key = await h.t.app.inject({ method: 'POST', url: '/api/v1/ssh-keys', headers: owner.headers, payload: { name: 'laptop', publicKey: readFileSync(`${keyFile}.pub`, 'utf8').trim() } });
    expect(key.statusCode, key.body).toBe(201);
    const images = (await h.t.app.inject({ method: 'GET', url: '/api/v1/vps/images', headers: owner.headers })).json().items as { id: string; name: string }[];
    const userData = [
      '#cloud-config',
      'write_files:',
      '  - path: /etc/slipway-proof',
      '    permissions: "0644"',
      '    content: "written by cloud-init from the panel\'s user-data\\n"',
      'runcmd:',
      '  - [sh, -c, "echo runcmd-ok > /var/tmp/slipway-runcmd"]',
      'final_message: "slipway-final-message up $UPTIME s"',
      '',
    ].join('\n');
    const t0 = Date.now();
    const res = await h.t.app.inject({
      method: 'POST', url: '/api/v1/vps', headers: owner.headers,
      payload: { hostname: 'web1', planId: plan.json().plan.id, imageId: images.find((i) => i.name === 'debian-12')!.id, sshKeyIds: [key.json().sshKey.id], userData },
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

    // cloud-init in the guest applied the seed: the owner's key logs in as cloud-init's default
    // user at the address the panel reserved; user-data's write_files and runcmd ran; the hostname
    // is the panel's; growpart grew the root to the plan's 3 GB disk.
    const probe = 'cloud-init status --wait >/dev/null; cat /etc/slipway-proof /var/tmp/slipway-runcmd; hostname; cat /proc/sys/kernel/random/boot_id; df -B1 --output=size / | tail -n1; cloud-init status';
    const first = await sshWhen(got.address, probe, (o) => /status: done/.test(o)).catch((e: Error) => {
      throw new Error(`${e.message}\n--- serial console (last 3000 characters) ---\n${text.slice(-3000)}`);
    });
    const bootMs = Date.now() - t0;
    console.log(`guest boot (request → SSH login with the seeded key and cloud-init done): ${bootMs} ms`);
    const lines = first.trim().split('\n');
    expect(lines[0]).toBe("written by cloud-init from the panel's user-data");
    expect(lines[1]).toBe('runcmd-ok');
    expect(lines[2]).toBe('web1');
    const bootId = lines[3];
    expect(Number(lines[4])).toBeGreaterThan(2.5 * 1024 ** 3);
    expect(lines[5]).toBe('status: done');
    // the key went to the default user only, and only the owner's key is there
    expect((await ssh(got.address, 'cat ~/.ssh/authorized_keys')).trim()).toBe(readFileSync(`${keyFile}.pub`, 'utf8').trim());
    // cloud-init's final_message and the getty of the seeded hostname, on the serial console WebSocket
    for (const until = Date.now() + 300_000; !(/slipway-final-message up/.test(text) && /web1 login:/.test(text)) && Date.now() < until;) {
      ws.send(Buffer.from('\r'));
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(text).toMatch(/slipway-final-message up [\d.]+ s/);
    expect(text).toMatch(/web1 login:/);

    // usage graphs from the real domstats counters (two samples make a point)
    expect(await h.rt.service.sampleMetrics('local')).toBe(0);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await h.rt.service.sampleMetrics('local')).toBe(1);
    const m = await h.t.app.inject({ method: 'GET', url: `/api/v1/vps/${vps.id}/metrics?range=1h`, headers: owner.headers });
    expect(m.statusCode).toBe(200);
    const pt = m.json().points[0] as { cpuPct: number; memoryMb: number; memoryUsedMb: number };
    expect(pt.cpuPct).toBeGreaterThan(0);
    expect(pt.memoryMb).toBe(512);
    expect(pt.memoryUsedMb).toBeGreaterThan(0);
    expect(m.json().bandwidth.usedBytes).toBeGreaterThan(0); // DHCP and the SSH sessions at least
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

    // reboot (ACPI: the guest's systemd-logind reboots it): a new boot, same disk, cloud-init done once
    expect((await h.t.app.inject({ method: 'POST', url: `/api/v1/vps/${vps.id}/reboot`, headers: owner.headers })).statusCode).toBe(200);
    const t1 = Date.now();
    const after = await sshWhen(got.address, 'cat /proc/sys/kernel/random/boot_id; cat /etc/slipway-proof; hostname', (o) => o.split('\n')[0] !== bootId && /web1/.test(o));
    console.log(`reboot (request → SSH login): ${Date.now() - t1} ms`);
    const rebootId = after.split('\n')[0];
    expect(after).toContain("written by cloud-init from the panel's user-data");

    // snapshot (running: disk and memory) → a change in the guest → revert: the change is gone and
    // the guest runs on from the snapshot's moment (the same boot)
    const snap = await h.t.app.inject({ method: 'POST', url: `/api/v1/vps/${vps.id}/snapshots`, headers: owner.headers, payload: { comment: 'before the change' } });
    expect(snap.statusCode, snap.body).toBe(201);
    const snapshotId = snap.json().snapshot.id as string;
    expect((await h.t.app.inject({ method: 'POST', url: `/api/v1/vps/${vps.id}/snapshots`, headers: owner.headers, payload: { comment: 'over the limit' } })).statusCode).toBe(422);
    await sshWhen(got.address, 'echo changed > ~/after-snapshot && sync && cat ~/after-snapshot', (o) => o.trim() === 'changed', 120_000);
    const rev = await h.t.app.inject({ method: 'POST', url: `/api/v1/vps/${vps.id}/snapshots/${snapshotId}/revert`, headers: owner.headers });
    expect(rev.statusCode, rev.body).toBe(200);
    expect(rev.json().vps.state).toBe('running');
    const reverted = await sshWhen(got.address, 'cat /proc/sys/kernel/random/boot_id; test -e ~/after-snapshot && echo present || echo absent', (o) => /present|absent/.test(o), 300_000);
    expect(reverted.trim().split('\n')).toEqual([rebootId, 'absent']);

    // revoking the session (sign-out) closes the console at once. Reverting to a running snapshot
    // restarts QEMU, whose serial pty goes away and ends the first console; a fresh one is opened here.
    const again = await open(url, owner.token);
    expect(again.status).toBeUndefined();
    const closed = new Promise<number>((r) => again.ws.once('close', (code) => r(code)));
    await h.t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: owner.headers, payload: { refreshToken: owner.refreshToken } });
    expect(await Promise.race([closed, new Promise((r) => setTimeout(() => r('still open after 30 s'), 30_000))])).toBe(4401);
    ws.close();
    const consoleAudit = async () => (await h.t.services.database.db.selectFrom('audit_log').select(['action']).where('target_id', '=', vps.id).where('action', 'like', 'vps.console.%').execute()).map((a) => a.action);
    for (let i = 0; i < 50 && !(await consoleAudit()).includes('vps.console.close'); i++) await new Promise((r) => setTimeout(r, 100));
    const count = (list: string[], action: string) => list.filter((a) => a === action).length;
    for (let i = 0; i < 50 && count(await consoleAudit(), 'vps.console.close') < 3; i++) await new Promise((r) => setTimeout(r, 100));
    // serial, VNC and the second serial console: each opening and each end audited
    const audited = await consoleAudit();
    expect([count(audited, 'vps.console.open'), count(audited, 'vps.console.close')]).toEqual([3, 3]);

    // delete: no domain (nor its snapshot), disk, seed ISO or DHCP reservation is left
    const del = await h.t.app.inject({ method: 'DELETE', url: `/api/v1/vps/${vps.id}`, headers: admin.headers, payload: { confirm: 'web1' } });
    expect(del.statusCode).toBe(202);
    expect(await h.waitJob(del.json().job.id)).toMatchObject({ state: 'succeeded' });
    expect(await virsh.exists(vps.domainName)).toBe(false);
    expect(h.leftovers()).toEqual([]);
    // the address is free again in the panel's pool (the network may keep a pre-registered
    // address-derived DHCP host for every pool address; no domain holds this one's MAC any more)
    const repo = h.rt.service.d.repo;
    expect(await repo.addressOf(vps.id)).toBeUndefined();
    expect([...await repo.usedAddresses('local', net)]).not.toContain(got.address);
  }, 45 * 60_000);
});
