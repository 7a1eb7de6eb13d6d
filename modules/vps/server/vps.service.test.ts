import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedIn } from '../../../server/src/testing/harness.js';
import { DAY_MS, SYSTEM_ACTOR } from '../../../server/src/testing/index.js';
import { buildNetworkXml, macForAddress } from './domain-xml.js';
import { createVpsHarness, ed25519Key, type VpsHarness } from './test-fixtures/vps-harness.js';

/** The VPS service through its API on libvirt's test:///default (real qemu-img and genisoimage). */
describe('vps service on test:///default', () => {
  let h: VpsHarness;
  let admin: SignedIn;
  let billing: SignedIn;
  let operator: SignedIn;
  let alice: SignedIn;
  let bob: SignedIn;
  let seed: { imageId: string; planId: string };
  let aliceKey: string;
  const api = (who: SignedIn | null, method: string, url: string, payload?: unknown) =>
    h.t.app.inject({ method: method as 'GET', url: `/api/v1${url}`, headers: who ? who.headers : {}, ...(payload !== undefined ? { payload: payload as object } : {}) });
  const domains = async () => (await h.rt.hosts.get('local')).virsh.listAll();
  const create = async (who: SignedIn, body: Record<string, unknown>) => api(who, 'POST', '/vps', { planId: seed.planId, imageId: seed.imageId, ...body });

  beforeAll(async () => {
    h = await createVpsHarness();
    admin = await h.signIn('admin');
    billing = await h.signIn('billing');
    operator = await h.signIn('operator');
    alice = await h.signIn('user');
    bob = await h.signIn('user');
    seed = await h.seed(admin);
    const k = await api(alice, 'POST', '/ssh-keys', { name: 'laptop', publicKey: ed25519Key('alice@laptop') });
    expect(k.statusCode).toBe(201);
    aliceKey = (k.json() as { sshKey: { id: string } }).sshKey.id;
  }, 120_000);
  afterAll(async () => h?.close());

  it('plans: billing creates, a user cannot, and users see public plans only', async () => {
    expect((await api(alice, 'POST', '/vps/plans', { name: 'x', vcpus: 1, memoryMb: 256, diskGb: 1 })).statusCode).toBe(403);
    const hidden = await api(billing, 'POST', '/vps/plans', { name: 'staff-only', vcpus: 1, memoryMb: 256, diskGb: 1, public: false });
    expect(hidden.statusCode).toBe(201);
    const names = (r: { json(): unknown }) => (r.json() as { items: { name: string }[] }).items.map((p) => p.name);
    expect(names(await api(alice, 'GET', '/vps/plans'))).not.toContain('staff-only');
    expect(names(await api(operator, 'GET', '/vps/plans'))).toContain('staff-only');
    const planId = (hidden.json() as { plan: { id: string } }).plan.id;
    const r = await create(alice, { hostname: 'sneaky', planId });
    expect(r.statusCode).toBe(400);
  });

  it('creates a VPS as a job of named steps: disk, seed, address, domain, running; shows state and address', async () => {
    const callsBefore = h.session.calls.length;
    const r = await create(alice, { hostname: 'web1', sshKeyIds: [aliceKey], userData: '#cloud-config\npackages: [nginx]\n' });
    expect(r.statusCode).toBe(202);
    const { job, vps } = r.json() as { job: { id: string }; vps: { id: string; state: string; domainName: string; hostId: string | null } };
    expect(vps.state).toBe('creating');
    expect(vps.domainName).toBe(`slw-${vps.id}`);
    expect(vps.hostId).toBeNull(); // tenants never see host details
    const j = await h.waitJob(job.id);
    expect(j).toEqual({ state: 'succeeded', error: null });
    const steps = (await h.t.services.jobs.get(job.id, SYSTEM_ACTOR)).steps.map((s) => s.name);
    expect(steps).toEqual(['place on a host', 'reserve address', 'create disk', 'build seed', 'define domain', 'start', 'wait until running']);
    const got = (await api(alice, 'GET', `/vps/${vps.id}`)).json() as { vps: { state: string; address: string; network: string } };
    expect(got.vps).toMatchObject({ state: 'running', network: 'public' });
    expect(got.vps.address).toMatch(/^10\.230\.0\.\d+$/);
    expect((await domains()).find((d) => d.name === vps.domainName)?.state).toBe('running');
    const seedIso = path.join(h.root, 'seeds', `${vps.id}.iso`);
    expect(existsSync(seedIso)).toBe(true);
    const ud = execFileSync('isoinfo', ['-i', seedIso, '-R', '-x', '/user-data'], { encoding: 'utf8' });
    expect(ud).toContain('alice@laptop');
    expect(ud).toContain('hostname: web1');
    expect(ud).toContain('nginx');
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', path.join(h.root, 'disks', `${vps.id}.qcow2`)], { encoding: 'utf8' })) as { 'virtual-size': number; 'backing-filename': string };
    expect(info['virtual-size']).toBe(1024 ** 3);
    // The address's reservation was written when the network was defined (every pool address, keyed
    // by the MAC derived from it): the VPS got that MAC, and the create never ran a live net-update.
    const net = await (await h.rt.hosts.get('local')).virsh.netDumpxml('slipway-pub');
    const mac = macForAddress(got.vps.address);
    expect(net).toContain(`<host mac='${mac}' ip='${got.vps.address}'/>`);
    expect(net.match(/<host /g)).toHaveLength(230);
    expect((await api(alice, 'GET', `/vps/${vps.id}`)).json().vps.mac).toBe(mac);
    expect(await (await h.rt.hosts.get('local')).virsh.dumpxml(vps.domainName)).toContain(`<mac address='${mac}'/>`);
    expect(execFileSync('isoinfo', ['-i', seedIso, '-R', '-x', '/network-config'], { encoding: 'utf8' })).toContain(mac);
    expect(h.session.calls.slice(callsBefore).filter((c) => c.includes('net-update'))).toEqual([]);

    // owner-scoped views: bob and anonymous see nothing of it
    expect((await api(bob, 'GET', `/vps/${vps.id}`)).statusCode).toBe(404);
    expect((await api(null, 'GET', `/vps/${vps.id}`)).statusCode).toBe(401);
    expect(((await api(bob, 'GET', '/vps')).json() as { items: unknown[] }).items).toHaveLength(0);
    expect(((await api(operator, 'GET', '/vps')).json() as { items: { hostId: string }[] }).items[0]!.hostId).toBe('local');
  }, 60_000);

  it('power actions change the live state; a foreign user gets 404; ACPI shutdown runs as a job', async () => {
    const id = ((await api(alice, 'GET', '/vps')).json() as { items: { id: string; hostname: string }[] }).items.find((v) => v.hostname === 'web1')!.id;
    const act = async (a: string, who = alice) => api(who, 'POST', `/vps/${id}/${a}`);
    expect((await act('suspend', bob)).statusCode).toBe(404);
    expect(((await act('suspend')).json() as { vps: { state: string } }).vps.state).toBe('paused');
    expect(((await act('resume')).json() as { vps: { state: string } }).vps.state).toBe('running');
    expect((await act('reset')).statusCode).toBe(200);
    expect(((await act('poweroff')).json() as { vps: { state: string } }).vps.state).toBe('shut off');
    expect((await act('poweroff')).statusCode).toBe(409);
    expect(((await act('start')).json() as { vps: { state: string } }).vps.state).toBe('running');
    const sd = await act('shutdown');
    expect(sd.statusCode).toBe(202);
    expect(await h.waitJob((sd.json() as { job: { id: string } }).job.id)).toMatchObject({ state: 'succeeded' });
    expect(((await api(alice, 'GET', `/vps/${id}`)).json() as { vps: { state: string } }).vps.state).toBe('shut off');
    await act('start');
  }, 60_000);

  it('snapshots: create with a comment, list, revert, delete; the plan limit is a 422', async () => {
    const id = ((await api(alice, 'GET', '/vps')).json() as { items: { id: string }[] }).items[0]!.id;
    const s1 = await api(alice, 'POST', `/vps/${id}/snapshots`, { comment: 'before upgrade' });
    expect(s1.statusCode).toBe(201);
    expect((await api(alice, 'POST', `/vps/${id}/snapshots`, { comment: 'two' })).statusCode).toBe(201);
    const third = await api(alice, 'POST', `/vps/${id}/snapshots`, { comment: 'three' });
    expect(third.statusCode).toBe(422);
    expect(third.json().error.code).toBe('snapshot_limit');
    expect((await api(alice, 'POST', `/vps/${id}/snapshots`, { comment: 'bad\nline' })).statusCode).toBe(400);
    const list = (await api(alice, 'GET', `/vps/${id}/snapshots`)).json() as { items: { id: string; comment: string }[] };
    expect(list.items.map((s) => s.comment)).toEqual(['before upgrade', 'two']);
    expect((await api(bob, 'POST', `/vps/${id}/snapshots/${list.items[0]!.id}/revert`)).statusCode).toBe(404);
    expect((await api(alice, 'POST', `/vps/${id}/snapshots/${list.items[0]!.id}/revert`)).statusCode).toBe(200);
    expect((await api(alice, 'DELETE', `/vps/${id}/snapshots/${list.items[1]!.id}`)).statusCode).toBe(200);
    expect(((await api(alice, 'GET', `/vps/${id}/snapshots`)).json() as { items: unknown[] }).items).toHaveLength(1);
  });

  it('rename, resize and reinstall run as audited jobs of named steps', async () => {
    const virsh = (await h.rt.hosts.get('local')).virsh;
    const v = ((await api(alice, 'GET', '/vps')).json() as { items: { id: string; hostname: string; domainName: string; address: string }[] }).items.find((x) => x.hostname === 'web1')!;
    const job = async (r: { statusCode: number; body: string; json(): any }) => {
      expect(r.statusCode, r.body).toBe(202);
      const j = await h.waitJob(r.json().job.id);
      expect(j).toEqual({ state: 'succeeded', error: null });
      return (await h.t.services.jobs.get(r.json().job.id, SYSTEM_ACTOR)).steps.map((s) => s.name);
    };
    // rename: panel name, domain title, DHCP reservation; taken names are 409
    expect(await job(await api(alice, 'POST', `/vps/${v.id}/rename`, { hostname: 'web1b' }))).toEqual(['rename in the panel', 'retitle domain', 'rename DHCP reservation']);
    expect((await api(alice, 'GET', `/vps/${v.id}`)).json().vps.hostname).toBe('web1b');
    expect(await virsh.dumpxml(v.domainName)).toContain('<title>web1b</title>');
    // the pre-registered reservation carries no per-VPS name: the network is not touched
    expect(await virsh.netDumpxml('slipway-pub')).toContain(`<host mac='${macForAddress(v.address)}' ip='${v.address}'/>`);
    expect(await virsh.netDumpxml('slipway-pub')).not.toContain('web1b');
    expect((await api(alice, 'POST', `/vps/${v.id}/rename`, { hostname: 'web1b' })).statusCode).toBe(422);
    // a failed rename is undone
    h.fail.at = 'retitle domain';
    const failed = await api(alice, 'POST', `/vps/${v.id}/rename`, { hostname: 'web1c' });
    expect((await h.waitJob(failed.json().job.id)).state).toBe('failed');
    h.fail.at = null;
    expect((await api(alice, 'GET', `/vps/${v.id}`)).json().vps.hostname).toBe('web1b');
    expect(await virsh.dumpxml(v.domainName)).toContain('<title>web1b</title>');
    await job(await api(alice, 'POST', `/vps/${v.id}/rename`, { hostname: 'web1' }));

    // resize a running VPS (staff, custom sizes): stopped, grown, redefined, started again
    expect(await job(await api(operator, 'POST', `/vps/${v.id}/resize`, { vcpus: 2, memoryMb: 512, diskGb: 2 }))).toEqual(['reserve the new size', 'stop the domain', 'grow disk', 'redefine domain', 'start again']);
    expect((await api(alice, 'GET', `/vps/${v.id}`)).json().vps).toMatchObject({ vcpus: 2, memoryMb: 512, diskGb: 2, state: 'running' });
    const d = await virsh.describe(v.domainName);
    expect([d.vcpus, d.memoryKiB]).toEqual([2, 512 * 1024]);
    const size = () => (JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', path.join(h.root, 'disks', `${v.id}.qcow2`)], { encoding: 'utf8' })) as { 'virtual-size': number })['virtual-size'];
    expect(size()).toBe(2 * 1024 ** 3);
    // a failure after the disk grew puts everything back: sizes, XML, disk
    h.fail.at = 'redefine domain';
    const rf = await api(operator, 'POST', `/vps/${v.id}/resize`, { vcpus: 1, memoryMb: 256, diskGb: 3 });
    expect((await h.waitJob(rf.json().job.id)).state).toBe('failed');
    h.fail.at = null;
    expect((await api(alice, 'GET', `/vps/${v.id}`)).json().vps).toMatchObject({ vcpus: 2, memoryMb: 512, diskGb: 2, state: 'running' });
    expect((await virsh.describe(v.domainName)).memoryKiB).toBe(512 * 1024);
    expect(size()).toBe(2 * 1024 ** 3);

    // reinstall: the hostname typed; a new overlay and seed (new instance-id, new user-data); snapshots go
    expect((await api(alice, 'GET', `/vps/${v.id}/snapshots`)).json().items.length).toBeGreaterThan(0);
    const before = execFileSync('isoinfo', ['-i', path.join(h.root, 'seeds', `${v.id}.iso`), '-R', '-x', '/meta-data'], { encoding: 'utf8' });
    expect(await job(await api(alice, 'POST', `/vps/${v.id}/reinstall`, { imageId: seed.imageId, confirm: 'web1', userData: '#cloud-config\npackages: [htop]\n' })))
      .toEqual(['stop the domain', 'set the old disk and seed aside', 'create disk', 'build seed', 'redefine domain', 'start again', 'forget the old disk']);
    const meta = execFileSync('isoinfo', ['-i', path.join(h.root, 'seeds', `${v.id}.iso`), '-R', '-x', '/meta-data'], { encoding: 'utf8' });
    expect(meta).not.toBe(before);
    expect(meta).toContain(`${v.id}-`);
    const ud = execFileSync('isoinfo', ['-i', path.join(h.root, 'seeds', `${v.id}.iso`), '-R', '-x', '/user-data'], { encoding: 'utf8' });
    expect(ud).toContain('htop');
    expect(ud).toContain('alice@laptop'); // the keys stay unless given
    expect((await api(alice, 'GET', `/vps/${v.id}/snapshots`)).json().items).toEqual([]);
    expect(h.leftovers().filter((f) => f.includes('before-reinstall'))).toEqual([]);
    expect((await api(alice, 'GET', `/vps/${v.id}`)).json().vps.state).toBe('running');
    const audit = (await h.t.services.database.db.selectFrom('audit_log').select('action').where('target_id', '=', v.id).execute()).map((a) => a.action);
    for (const a of ['vps.rename', 'vps.resize', 'vps.reinstall']) expect(audit).toContain(a);
  }, 120_000);

  it('private networks: one isolated libvirt network per owner, removed with its last VPS', async () => {
    const virsh = (await h.rt.hosts.get('local')).virsh;
    const mk = async (ownerId: string, hostname: string) => {
      const r = await create(operator, { hostname, ownerId, network: 'private', start: false });
      expect(r.statusCode, r.body).toBe(202);
      expect((await h.waitJob(r.json().job.id)).state).toBe('succeeded');
      return (await api(operator, 'GET', `/vps/${r.json().vps.id}`)).json().vps as { id: string; address: string };
    };
    const before = new Set((await virsh.netList()).map((n) => n.name));
    const a1 = await mk(alice.user.id, 'priv-a1');
    const a2 = await mk(alice.user.id, 'priv-a2');
    const b1 = await mk(bob.user.id, 'priv-b1');
    const added = (await virsh.netList()).filter((n) => !before.has(n.name));
    expect(added).toHaveLength(2); // alice's and bob's
    const netOf = async (ip: string) => {
      for (const n of added) if ((await virsh.netDumpxml(n.name)).includes(`ip='${ip}'`)) return n.name;
      return null;
    };
    const aliceNet = await netOf(a1.address);
    expect(aliceNet).not.toBeNull();
    expect(await netOf(a2.address)).toBe(aliceNet);
    const bobNet = await netOf(b1.address);
    expect(bobNet).not.toBe(aliceNet);
    // isolated: no <forward> (no route out, none to another owner's network)
    for (const n of added) expect(await virsh.netDumpxml(n.name)).not.toContain('<forward');
    expect(a1.address.split('.').slice(0, 3)).not.toEqual(b1.address.split('.').slice(0, 3));
    const del = async (id: string, hostname: string) => {
      const r = await api(operator, 'DELETE', `/vps/${id}`, { confirm: hostname });
      expect((await h.waitJob(r.json().job.id)).state).toBe('succeeded');
    };
    await del(a1.id, 'priv-a1');
    expect((await virsh.netList()).map((n) => n.name)).toContain(aliceNet); // a2 still uses it
    await del(a2.id, 'priv-a2');
    await del(b1.id, 'priv-b1');
    expect((await virsh.netList()).map((n) => n.name).filter((n) => !before.has(n))).toEqual([]);
    expect(await h.rt.service.d.repo.network('local', aliceNet!)).toBeUndefined();
  }, 120_000);

  it('metrics: the owner reads points and this month\'s bandwidth against the plan; test:/// has no counters', async () => {
    const v = ((await api(alice, 'GET', '/vps')).json() as { items: { id: string }[] }).items[0]!;
    expect(await h.rt.service.sampleMetrics('local')).toBe(0); // the mock hypervisor reports no cpu/net/block counters: no rates
    const m = await api(alice, 'GET', `/vps/${v.id}/metrics?range=7d`);
    expect(m.statusCode).toBe(200);
    expect(m.json()).toMatchObject({ range: '7d', points: [], bandwidth: { rxBytes: 0, txBytes: 0, usedBytes: 0, overLimit: false } });
    expect(m.json().bandwidth.month).toMatch(/^\d{4}-\d{2}$/);
    expect((await api(bob, 'GET', `/vps/${v.id}/metrics`)).statusCode).toBe(404);
  });

  it('quota: a user over their VPS count gets 422 quota_exceeded and nothing is created', async () => {
    expect((await api(billing, 'PUT', `/vps/quotas/${alice.user.id}`, { maxCount: 1, maxVcpus: 8, maxMemoryMb: 8192, maxDiskGb: 100 })).statusCode).toBe(200);
    const before = (await domains()).length;
    const r = await create(alice, { hostname: 'web2' });
    expect(r.statusCode).toBe(422);
    expect(r.json().error).toMatchObject({ code: 'quota_exceeded', details: { resource: 'count', limit: 1 } });
    expect((await domains()).length).toBe(before);
    expect((await api(alice, 'PUT', `/vps/quotas/${alice.user.id}`, { maxCount: 99, maxVcpus: 99, maxMemoryMb: 99999, maxDiskGb: 999 })).statusCode).toBe(403);
  });

  it('placement: no host with room answers 422 naming the limit', async () => {
    const big = await api(billing, 'POST', '/vps/plans', { name: 'huge', vcpus: 2, memoryMb: 64 * 1024, diskGb: 1 });
    const r = await create(operator, { hostname: 'big1', planId: (big.json() as { plan: { id: string } }).plan.id });
    expect(r.statusCode).toBe(422);
    expect(r.json().error.code).toBe('no_capacity');
    expect(r.json().error.message).toMatch(/MB of memory/);
    expect(r.json().error.details).toMatchObject({ resource: 'memoryMb' });
  });

  it('a failure at any create step leaves nothing behind: no record, disk, seed, address, reservation or domain', async () => {
    const steps = ['place on a host', 'reserve address', 'create disk', 'build seed', 'define domain', 'start', 'wait until running'];
    const before = { domains: (await domains()).map((d) => d.name).sort(), files: h.leftovers().sort(), net: await (await h.rt.hosts.get('local')).virsh.netDumpxml('slipway-pub') };
    for (const [i, at] of steps.entries()) {
      h.fail.at = at;
      const r = await create(operator, { hostname: `fail${i}` });
      expect(r.statusCode).toBe(202);
      const { job, vps } = r.json() as { job: { id: string }; vps: { id: string } };
      const j = await h.waitJob(job.id);
      expect(j.state).toBe('failed');
      expect(j.error).toContain(`injected failure at "${at}"`);
      expect((await api(operator, 'GET', `/vps/${vps.id}`)).statusCode).toBe(404);
      expect((await domains()).map((d) => d.name).sort()).toEqual(before.domains);
      expect(h.leftovers().sort()).toEqual(before.files);
      expect(await (await h.rt.hosts.get('local')).virsh.netDumpxml('slipway-pub')).toBe(before.net);
      expect(await h.rt.service.d.repo.addressOf(vps.id)).toBeUndefined();
    }
    h.fail.at = null;
  }, 120_000);

  it('hostile hostnames and user-data are refused with 400 before anything is created', async () => {
    const calls = h.session.calls.length;
    const rows = (await api(admin, 'GET', '/vps')).json().total as number;
    for (const hostname of ['-rf', 'a;b', '$(id)', 'web\n1', 'web\u00001', 'WEB', 'wеb' /* cyrillic e */, 'a'.repeat(64), '../etc', '1234', '']) {
      const r = await create(alice, { hostname });
      expect(r.statusCode, hostname).toBe(400);
    }
    for (const userData of [
      '#!/bin/sh\nrm -rf /', '#include http://evil/x', 'packages: [x]', '#cloud-config\n- a\n- b', '#cloud-config\na: &a [*a]\n', '#cloud-config\nx: !!js/function "f"\n',
      '#cloud-config\nhostname: other\n', '#cloud-config\na: 1\n---\nb: 2\n', `#cloud-config\nx: "${'a'.repeat(70 * 1024)}"\n`, '#cloud-config\nssh_authorized_keys: ["not a key"]\n',
    ]) {
      const r = await create(alice, { hostname: 'ud1', userData });
      expect(r.statusCode, userData.slice(0, 40)).toBe(400);
    }
    expect((await create(alice, { hostname: 'k1', sshKeyIds: ['0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'] })).statusCode).toBe(400);
    const bobKey = await api(bob, 'POST', '/ssh-keys', { name: 'bob', publicKey: ed25519Key('bob@x') });
    expect((await create(alice, { hostname: 'k2', sshKeyIds: [(bobKey.json() as { sshKey: { id: string } }).sshKey.id] })).statusCode).toBe(400);
    expect((await create(alice, { hostname: 'x1', ownerId: bob.user.id })).statusCode).toBe(403);
    expect((await create(alice, { hostname: 'x1', extra: 1 })).statusCode).toBe(400);
    expect(h.session.calls.slice(calls).filter((c) => c[0] === 'virsh' && ['define', 'start', 'net-update'].includes(c[4]!))).toEqual([]);
    expect((await api(admin, 'GET', '/vps')).json().total).toBe(rows);
  });

  it('images: checksum mismatch, backing files and oversize are refused with nothing kept', async () => {
    const up = (q: string, payload: Buffer, headers: Record<string, string> = {}) =>
      h.t.app.inject({ method: 'POST', url: `/api/v1/vps/images?${q}`, headers: { ...operator.headers, 'content-type': 'application/octet-stream', ...headers }, payload });
    const bad = await up('name=sum1', Buffer.alloc(4096), { 'x-checksum-sha256': 'a'.repeat(64) });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().error.code).toBe('checksum_mismatch');
    // a qcow2 whose backing file is /etc/shadow (made by qemu-img itself)
    const dir = path.join(h.root, 'hostile');
    execFileSync('mkdir', ['-p', dir]);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/shadow', '-F', 'raw', path.join(dir, 'evil.qcow2'), '64M']);
    const evil = await up('name=evil', (await import('node:fs')).readFileSync(path.join(dir, 'evil.qcow2')));
    expect(evil.statusCode).toBe(422);
    expect(evil.json().error.message).toMatch(/backing/i);
    const big = await up('name=big', Buffer.alloc(1024 * 1024 + 1));
    expect(big.statusCode).toBe(413);
    expect((await up('name=json', Buffer.from('{}'), { 'content-type': 'application/json' })).statusCode).toBe(415);
    expect((await up('name=../x', Buffer.alloc(10))).statusCode).toBe(400);
    expect((await api(alice, 'POST', '/vps/images?name=mine')).statusCode).toBe(403);
    const names = ((await api(admin, 'GET', '/vps/images')).json() as { items: { name: string }[] }).items.map((i) => i.name);
    expect(names).not.toEqual(expect.arrayContaining(['sum1']));
    for (const n of ['sum1', 'evil', 'big', 'json']) expect(names).not.toContain(n);
    expect(readdirSync(path.join(h.root, 'uploads'))).toEqual([]);
  });

  it('unmanaged domains are listed read-only for admins only', async () => {
    const r = await api(admin, 'GET', '/vps/unmanaged');
    expect(r.statusCode).toBe(200);
    expect((r.json() as { items: { name: string; managed: boolean }[] }).items).toEqual([{ hostId: 'local', name: 'test', state: 'running', managed: false }]);
    for (const who of [operator, billing, alice]) expect((await api(who, 'GET', '/vps/unmanaged')).statusCode).toBe(403);
  });

  it('expiry (platform lifecycle on a simulated clock): notify, shut down, then delete after grace; renew restores', async () => {
    const c = await create(operator, { hostname: 'exp1', ownerId: bob.user.id });
    const { job, vps } = c.json() as { job: { id: string }; vps: { id: string } };
    await h.waitJob(job.id);
    const t0 = h.clock.now;
    expect((await api(alice, 'PUT', `/vps/${vps.id}/expiry`, { expiresAt: t0 + 10 * DAY_MS })).statusCode).toBe(403);
    expect((await api(bob, 'PUT', `/vps/${vps.id}/expiry`, { expiresAt: t0 + 10 * DAY_MS })).statusCode).toBe(403);
    expect((await api(billing, 'PUT', `/vps/${vps.id}/expiry`, { expiresAt: t0 + 10 * DAY_MS, notifyDays: 3, graceDays: 2 })).statusCode).toBe(200);
    const events: string[] = [];
    const off = h.t.services.events.subscribe((e) => {
      if (e.resource?.id === vps.id) events.push(e.type);
    });
    expect((await h.rt.lifecycle.sweep()).notified).toEqual([]);
    h.clock.now = t0 + 8 * DAY_MS;
    expect((await h.rt.lifecycle.sweep()).notified).toEqual([vps.id]);
    h.clock.now = t0 + 10 * DAY_MS;
    expect((await h.rt.lifecycle.sweep()).expired).toEqual([vps.id]);
    const after = (await api(bob, 'GET', `/vps/${vps.id}`)).json() as { vps: { state: string; expiry: { phase: string } } };
    expect(after.vps).toMatchObject({ state: 'shut off', expiry: { phase: 'expired' } });
    // renew brings it back
    expect((await api(billing, 'POST', `/vps/${vps.id}/expiry/renew`, { expiresAt: t0 + 20 * DAY_MS })).statusCode).toBe(200);
    expect(((await api(bob, 'GET', `/vps/${vps.id}`)).json() as { vps: { state: string } }).vps.state).toBe('running');
    h.clock.now = t0 + 20 * DAY_MS;
    expect((await h.rt.lifecycle.sweep()).expired).toEqual([vps.id]);
    h.clock.now = t0 + 22 * DAY_MS + 1;
    expect((await h.rt.lifecycle.sweep()).deleted).toEqual([vps.id]);
    expect((await api(bob, 'GET', `/vps/${vps.id}`)).statusCode).toBe(404);
    expect((await domains()).some((d) => d.name === `slw-${vps.id}`)).toBe(false);
    const audit = await h.t.services.database.db.selectFrom('audit_log').select(['action', 'actor_name']).where('target_id', '=', vps.id).where('action', 'like', 'lifecycle.%').execute();
    expect(audit.filter((a) => a.actor_name === 'system').map((a) => a.action)).toEqual(['lifecycle.notify', 'lifecycle.expire', 'lifecycle.expire', 'lifecycle.delete']);
    off();
    expect(events).toEqual(expect.arrayContaining(['lifecycle.expiring', 'lifecycle.expired', 'lifecycle.deleted']));
    h.clock.now = Date.now();
  }, 60_000);

  it('delete: the hostname must be typed; then disk, seed, address and domain are gone', async () => {
    const v = ((await api(alice, 'GET', '/vps')).json() as { items: { id: string; hostname: string; domainName: string; address: string }[] }).items[0]!;
    expect((await api(bob, 'DELETE', `/vps/${v.id}`, { confirm: v.hostname })).statusCode).toBe(404);
    const wrong = await api(alice, 'DELETE', `/vps/${v.id}`, { confirm: 'nope' });
    expect(wrong.statusCode).toBe(422);
    const r = await api(alice, 'DELETE', `/vps/${v.id}`, { confirm: v.hostname });
    expect(r.statusCode).toBe(202);
    expect(await h.waitJob((r.json() as { job: { id: string } }).job.id)).toMatchObject({ state: 'succeeded' });
    expect((await api(alice, 'GET', `/vps/${v.id}`)).statusCode).toBe(404);
    expect((await domains()).some((d) => d.name === v.domainName)).toBe(false);
    expect(h.leftovers().filter((f) => f.includes(v.id))).toEqual([]);
    // the address is free again (its pre-registered reservation stays, keyed by the address's own MAC)
    expect(await h.rt.service.d.repo.addressOf(v.id)).toBeUndefined();
    expect((await h.rt.service.d.repo.usedAddresses('local', 'slipway-pub')).has(v.address)).toBe(false);
  }, 60_000);

  it('a network defined before pre-registration: the first create of an address adds its reservation live, once; a VPS-only reservation goes with its VPS', async () => {
    const legacy = 'slipway-old';
    const h2 = await createVpsHarness({ SLIPWAY_VPS_PUBLIC_NETWORK: legacy, SLIPWAY_VPS_PUBLIC_SUBNET: '10.239.7.0/24' });
    try {
      // An old-style public network: a dynamic range and one reservation of an old VPS with a random MAC.
      const v2 = (await h2.rt.hosts.get('local')).virsh;
      await v2.netDefine(buildNetworkXml({ name: legacy, bridge: 'slwbr-old', mode: 'nat', address: '10.239.7.1', prefix: 24, dhcpRange: { start: '10.239.7.240', end: '10.239.7.254' } }));
      await v2.netStart(legacy);
      await v2.netDhcpHost(legacy, 'add', { mac: '52:54:00:12:34:56', ip: '10.239.7.10', name: 'oldvm' });
      // the old VPS's address is ours in the database (a VPS-only reservation, random MAC)
      await h2.rt.service.d.repo.claimAddress({ hostId: 'local', network: legacy, ip: '10.239.7.10', vpsId: 'oldvps', mac: '52:54:00:12:34:56' });
      const a2 = await h2.signIn('admin');
      const { imageId, planId } = await h2.seed(a2);
      const mk = async (hostname: string) => {
        const before = h2.session.calls.length;
        const r = await h2.t.app.inject({ method: 'POST', url: '/api/v1/vps', headers: a2.headers, payload: { hostname, planId, imageId } });
        expect(r.statusCode, r.body).toBe(202);
        expect((await h2.waitJob(r.json().job.id)).state).toBe('succeeded');
        const vps = (await h2.t.app.inject({ method: 'GET', url: `/api/v1/vps/${r.json().vps.id}`, headers: a2.headers })).json().vps as { id: string; address: string; mac: string };
        return { vps, netUpdates: h2.session.calls.slice(before).filter((c) => c.includes('net-update')) };
      };
      const first = await mk('legacy1');
      expect(first.vps.address).toBe('10.239.7.11');
      expect(first.vps.mac).toBe(macForAddress('10.239.7.11'));
      expect(first.netUpdates).toHaveLength(1);
      expect(await v2.netDumpxml(legacy)).toContain(`<host mac='${first.vps.mac}' ip='10.239.7.11'/>`);
      // deleted: the address is free; its reservation (keyed by the address's own MAC) stays for the next VPS
      const del = await h2.t.app.inject({ method: 'DELETE', url: `/api/v1/vps/${first.vps.id}`, headers: a2.headers, payload: { confirm: 'legacy1' } });
      expect((await h2.waitJob(del.json().job.id)).state).toBe('succeeded');
      expect(await v2.netDumpxml(legacy)).toContain(`ip='10.239.7.11'`);
      const again = await mk('legacy2');
      expect(again.vps.address).toBe('10.239.7.11');
      expect(again.netUpdates).toEqual([]);
      // the old VPS-only reservation (random MAC) is removed with its address
      await h2.rt.hosts.dropReservation('local', legacy, { mac: '52:54:00:12:34:56', ip: '10.239.7.10', name: 'oldvm' });
      expect(await v2.netDumpxml(legacy)).not.toContain('10.239.7.10');
    } finally {
      await h2.close();
    }
  }, 120_000);
});
