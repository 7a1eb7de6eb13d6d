import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedIn } from '../server/src/testing/harness.js';
import { createVpsHarness, ed25519Key, type VpsHarness } from '../modules/vps/server/test-fixtures/vps-harness.js';

/**
 * Hostile tenants against the VPS module (libvirt test:///default; real qemu-img, genisoimage):
 * another tenant's VPS is invisible and untouchable on every route, tenants create only from public
 * plans and images within quota (also when racing), never see host details, never manage plans,
 * quotas, expiry or images, and hostile images, names and user-data change nothing.
 */
describe('VPS: hostile tenants', () => {
  let h: VpsHarness;
  let admin: SignedIn;
  let alice: SignedIn;
  let mallory: SignedIn;
  let seed: { imageId: string; planId: string };
  let victim: { id: string; hostname: string; domainName: string };
  const api = (who: SignedIn | null, method: string, url: string, payload?: unknown) =>
    h.t.app.inject({ method: method as 'GET', url: `/api/v1${url}`, headers: who ? who.headers : {}, ...(payload !== undefined ? { payload: payload as object } : {}) });

  beforeAll(async () => {
    h = await createVpsHarness();
    admin = await h.signIn('admin');
    alice = await h.signIn('user');
    mallory = await h.signIn('user');
    seed = await h.seed(admin);
    const r = await api(alice, 'POST', '/vps', { hostname: 'victim', planId: seed.planId, imageId: seed.imageId });
    expect(r.statusCode).toBe(202);
    expect(await h.waitJob(r.json().job.id)).toMatchObject({ state: 'succeeded' });
    victim = r.json().vps;
  }, 120_000);
  afterAll(async () => h?.close());

  it("another tenant's VPS answers 404 on every route and nothing changes", async () => {
    const state = async () => (await (await h.rt.hosts.get('local')).virsh.domstate(victim.domainName)).state;
    const before = await state();
    const calls: [string, string, unknown?][] = [
      ['GET', `/vps/${victim.id}`], ['DELETE', `/vps/${victim.id}`, { confirm: 'victim' }], ['GET', `/vps/${victim.id}/snapshots`],
      ['POST', `/vps/${victim.id}/snapshots`, { comment: 'x' }], ['GET', `/vps/${victim.id}/console/serial`], ['GET', `/vps/${victim.id}/console/vnc`],
      ...['start', 'shutdown', 'poweroff', 'reboot', 'reset', 'suspend', 'resume'].map((a) => ['POST', `/vps/${victim.id}/${a}`] as [string, string]),
    ];
    for (const [m, u, b] of calls) expect((await api(mallory, m, u, b)).statusCode, `${m} ${u}`).toBe(404);
    expect(await state()).toBe(before);
    expect(((await api(mallory, 'GET', '/vps')).json() as { items: unknown[] }).items).toEqual([]);
    // the same hostname is free for another owner (names are per owner unless a DNS name is claimed)
    const same = await api(mallory, 'POST', '/vps', { hostname: 'victim', planId: seed.planId, imageId: seed.imageId });
    expect(same.statusCode).toBe(202);
    await h.waitJob(same.json().job.id);
  }, 60_000);

  it('a DNS name claimed by one tenant cannot be taken by another (409), nor a name under it', async () => {
    const a = await api(alice, 'POST', '/vps', { hostname: 'dns1', dnsName: 'vm.alice-example.com', planId: seed.planId, imageId: seed.imageId, start: false });
    expect(a.statusCode).toBe(202);
    await h.waitJob(a.json().job.id);
    for (const dnsName of ['vm.alice-example.com', 'VM.Alice-Example.com.', 'x.vm.alice-example.com']) {
      const m = await api(mallory, 'POST', '/vps', { hostname: 'dns2', dnsName, planId: seed.planId, imageId: seed.imageId });
      expect(m.statusCode, dnsName).toBe(409);
    }
    expect((await api(mallory, 'POST', '/vps', { hostname: 'dns3', dnsName: 'not a name', planId: seed.planId, imageId: seed.imageId })).statusCode).toBe(400);
  }, 60_000);

  it('tenants never see host details and cannot pick an owner, a staff-only plan or image', async () => {
    const v = (await api(alice, 'GET', `/vps/${victim.id}`)).json().vps as Record<string, unknown>;
    expect(v.hostId).toBeNull();
    expect(JSON.stringify(v)).not.toMatch(/\/var\/|\/tmp\/|qemu:|test:\/\//);
    expect((await api(alice, 'GET', '/vps/hosts')).statusCode).toBe(403);
    expect((await api(alice, 'GET', '/vps/unmanaged')).statusCode).toBe(403);
    expect((await api(mallory, 'POST', '/vps', { hostname: 'own', ownerId: alice.user.id, planId: seed.planId, imageId: seed.imageId })).statusCode).toBe(403);
    const hiddenPlan = await api(admin, 'POST', '/vps/plans', { name: 'hidden', vcpus: 1, memoryMb: 256, diskGb: 1, public: false });
    expect((await api(mallory, 'POST', '/vps', { hostname: 'hp', planId: hiddenPlan.json().plan.id, imageId: seed.imageId })).statusCode).toBe(400);
    const img = await h.t.app.inject({ method: 'POST', url: '/api/v1/vps/images?name=private1&public=false', headers: { ...admin.headers, 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(65536) });
    await h.waitJob(img.json().job.id);
    expect((await api(mallory, 'GET', `/vps/images/${img.json().image.id}`)).statusCode).toBe(404);
    expect((await api(mallory, 'POST', '/vps', { hostname: 'pi', planId: seed.planId, imageId: img.json().image.id })).statusCode).toBe(400);
  }, 60_000);

  it('tenants manage no plans, quotas, expiry or images', async () => {
    expect((await api(mallory, 'POST', '/vps/plans', { name: 'free', vcpus: 64, memoryMb: 1024, diskGb: 1 })).statusCode).toBe(403);
    expect((await api(mallory, 'PUT', `/vps/quotas/${mallory.user.id}`, { maxCount: 999, maxVcpus: 999, maxMemoryMb: 999999, maxDiskGb: 9999 })).statusCode).toBe(403);
    expect((await api(alice, 'PUT', `/vps/${victim.id}/expiry`, { expiresAt: Date.now() + 1e9 })).statusCode).toBe(403);
    expect((await api(alice, 'POST', `/vps/${victim.id}/expiry/renew`, { expiresAt: Date.now() + 1e12 })).statusCode).toBe(403);
    expect((await api(alice, 'DELETE', `/vps/images/${seed.imageId}`)).statusCode).toBe(403);
    const up = await h.t.app.inject({ method: 'POST', url: '/api/v1/vps/images?name=mine', headers: { ...mallory.headers, 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(1024) });
    expect(up.statusCode).toBe(403);
  });

  it('parallel creates cannot exceed the quota', async () => {
    const eve = await h.signIn('user');
    await api(admin, 'PUT', `/vps/quotas/${eve.user.id}`, { maxCount: 2, maxVcpus: 8, maxMemoryMb: 8192, maxDiskGb: 100 });
    const results = await Promise.all(Array.from({ length: 6 }, (_v, i) => api(eve, 'POST', '/vps', { hostname: `race${i}`, planId: seed.planId, imageId: seed.imageId, start: false })));
    expect(results.filter((r) => r.statusCode === 202)).toHaveLength(2);
    expect(results.filter((r) => r.statusCode === 422).every((r) => r.json().error.code === 'quota_exceeded')).toBe(true);
    for (const r of results.filter((x) => x.statusCode === 202)) await h.waitJob(r.json().job.id);
  }, 60_000);

  it('user-data cannot smuggle other keys lines, override the hostname, or break out of YAML', async () => {
    const k = await api(mallory, 'POST', '/ssh-keys', { name: 'm', publicKey: ed25519Key('m@x') });
    for (const userData of [
      '#cloud-config\nhostname: victim-host\n',
      '#cloud-config\nfqdn: other.example.com\n',
      `#cloud-config\nssh_authorized_keys: ["${ed25519Key('a')}\\nssh-ed25519 AAAA evil"]\n`,
      '#cloud-config\nssh_authorized_keys: "ssh-ed25519 AAAA"\n',
      '#cloud-config\n? [a, b]\n: c\n\u0000',
      'Content-Type: multipart/mixed; boundary="x"\n\n--x\n',
    ]) {
      const r = await api(mallory, 'POST', '/vps', { hostname: 'ud', planId: seed.planId, imageId: seed.imageId, sshKeyIds: [k.json().sshKey.id], userData });
      expect(r.statusCode, userData.slice(0, 50)).toBe(400);
    }
    expect(((await api(mallory, 'GET', '/vps')).json() as { items: { hostname: string }[] }).items.map((v) => v.hostname)).not.toContain('ud');
  });

  it('hostile images are refused before anything is created: backing file to /etc/shadow, external data file, VMDK extent', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'slipway-hostile-'));
    try {
      const files: [string, string][] = [];
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/shadow', '-F', 'raw', path.join(dir, 'b.qcow2'), '64M']);
      files.push(['backing', path.join(dir, 'b.qcow2')]);
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${path.join(dir, 'data.raw')}`, path.join(dir, 'd.qcow2'), '1M']);
      files.push(['data-file', path.join(dir, 'd.qcow2')]);
      execFileSync('sh', ['-c', `printf '# Disk DescriptorFile\\nversion=1\\nCID=fffffffe\\nparentCID=ffffffff\\ncreateType="monolithicFlat"\\nRW 2048 FLAT "/etc/shadow" 0\\n' > ${path.join(dir, 'e.vmdk')}`]);
      files.push(['vmdk-extent', path.join(dir, 'e.vmdk')]);
      for (const [name, f] of files) {
        const r = await h.t.app.inject({ method: 'POST', url: `/api/v1/vps/images?name=${name}`, headers: { ...admin.headers, 'content-type': 'application/octet-stream' }, payload: readFileSync(f) });
        expect(r.statusCode, `${name}: ${r.body}`).toBe(422);
      }
      const names = ((await api(admin, 'GET', '/vps/images')).json() as { items: { name: string }[] }).items.map((i) => i.name);
      for (const [name] of files) expect(names).not.toContain(name);
      expect(readdirSync(path.join(h.root, 'uploads'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("metrics: another tenant's VPS is 404, anonymous 401, hostile ranges 400; the owner sees its own", async () => {
    expect((await api(mallory, 'GET', `/vps/${victim.id}/metrics`)).statusCode).toBe(404);
    expect((await api(null, 'GET', `/vps/${victim.id}/metrics`)).statusCode).toBe(401);
    for (const range of ['1y', '1h;rm', '-1h', '%00', '1h&range=30d', 'constructor']) {
      expect((await api(alice, 'GET', `/vps/${victim.id}/metrics?range=${encodeURIComponent(range)}`)).statusCode, range).toBe(400);
    }
    const own = await api(alice, 'GET', `/vps/${victim.id}/metrics?range=24h`);
    expect(own.statusCode).toBe(200);
    expect(JSON.stringify(own.json())).not.toMatch(/\/var\/|\/tmp\/|qemu:|test:\/\/|vnet\d|slwbr/);
  });

  it("resize, rename and reinstall: another tenant's VPS is 404 and nothing changes", async () => {
    const before = (await api(alice, 'GET', `/vps/${victim.id}`)).json().vps;
    for (const [u, b] of [
      ['resize', { planId: seed.planId }], ['rename', { hostname: 'stolen' }], ['reinstall', { imageId: seed.imageId, confirm: 'victim' }],
    ] as const) expect((await api(mallory, 'POST', `/vps/${victim.id}/${u}`, b)).statusCode, u).toBe(404);
    const after = (await api(alice, 'GET', `/vps/${victim.id}`)).json().vps;
    expect({ ...after, state: null, updatedAt: 0 }).toEqual({ ...before, state: null, updatedAt: 0 });
  });

  it('resize: a user only to a public plan, within quota, never shrinking the disk; hostile values are 400', async () => {
    const eve = await h.signIn('user');
    await api(admin, 'PUT', `/vps/quotas/${eve.user.id}`, { maxCount: 2, maxVcpus: 2, maxMemoryMb: 1024, maxDiskGb: 10 });
    const c = await api(eve, 'POST', '/vps', { hostname: 'grow', planId: seed.planId, imageId: seed.imageId, start: false });
    expect(c.statusCode).toBe(202);
    await h.waitJob(c.json().job.id);
    const id = c.json().vps.id as string;
    // custom sizes are staff-only: a user picks a plan
    expect((await api(eve, 'POST', `/vps/${id}/resize`, { vcpus: 2 })).statusCode).toBe(403);
    const hidden = await api(admin, 'POST', '/vps/plans', { name: 'hidden-big', vcpus: 1, memoryMb: 512, diskGb: 2, public: false });
    expect((await api(eve, 'POST', `/vps/${id}/resize`, { planId: hidden.json().plan.id })).statusCode).toBe(400);
    const huge = await api(admin, 'POST', '/vps/plans', { name: 'huge', vcpus: 4, memoryMb: 512, diskGb: 2 });
    const r = await api(eve, 'POST', `/vps/${id}/resize`, { planId: huge.json().plan.id });
    expect(r.statusCode).toBe(422);
    expect(r.json().error.code).toBe('quota_exceeded');
    for (const body of [{ vcpus: -1 }, { memoryMb: 1e12 }, { diskGb: '2; rm -rf /' }, { vcpus: 1.5 }, {}, { planId: '../../etc' }, { vcpus: 1, extra: true }]) {
      expect((await api(admin, 'POST', `/vps/${id}/resize`, body)).statusCode, JSON.stringify(body)).toBe(400);
    }
    const grow = await api(admin, 'POST', `/vps/${id}/resize`, { diskGb: 3 });
    expect(grow.statusCode, grow.body).toBe(202);
    expect(await h.waitJob(grow.json().job.id)).toMatchObject({ state: 'succeeded' });
    const shrink = await api(admin, 'POST', `/vps/${id}/resize`, { diskGb: 2, memoryMb: 128 });
    expect(shrink.statusCode).toBe(422);
    expect(shrink.json().error.code).toBe('disk_shrink');
    const v = (await api(eve, 'GET', `/vps/${id}`)).json().vps;
    expect([v.vcpus, v.memoryMb, v.diskGb]).toEqual([1, 256, 3]);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', '-U', path.join(h.root, 'disks', `${id}.qcow2`)], { encoding: 'utf8' })) as { 'virtual-size': number };
    expect(info['virtual-size']).toBe(3 * 1024 ** 3);
  }, 60_000);

  it('rename and reinstall refuse hostile names, a wrong confirmation and a private image', async () => {
    for (const hostname of ['Bad Name', '-x', 'a'.repeat(64), 'x\nhostname: y', '../etc']) {
      expect((await api(alice, 'POST', `/vps/${victim.id}/rename`, { hostname })).statusCode, hostname).toBe(400);
    }
    expect((await api(alice, 'POST', `/vps/${victim.id}/reinstall`, { imageId: seed.imageId, confirm: 'not-the-name' })).statusCode).toBe(422);
    const img = await h.t.app.inject({ method: 'POST', url: '/api/v1/vps/images?name=private2&public=false', headers: { ...admin.headers, 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(65536) });
    await h.waitJob(img.json().job.id);
    expect((await api(alice, 'POST', `/vps/${victim.id}/reinstall`, { imageId: img.json().image.id, confirm: 'victim' })).statusCode).toBe(400);
    expect((await api(alice, 'POST', `/vps/${victim.id}/reinstall`, { imageId: seed.imageId, confirm: 'victim', userData: '#cloud-config\nhostname: evil\n' })).statusCode).toBe(400);
    expect((await api(alice, 'GET', `/vps/${victim.id}`)).json().vps.hostname).toBe('victim');
  }, 60_000);
});
