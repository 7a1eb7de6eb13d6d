import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { injector, type Json } from '../modules/netboot/server/test-fixtures/inject.js';
import { LocalProcessRunner } from '../server/src/infra/process-runner.js';
import { createTestApp, type SignedIn, type TestApp } from '../server/src/testing/harness.js';
import { createNetbootModule, type NetbootRuntime } from '../modules/netboot/server/index.js';
import { netbootTestEnv, uniqueTestIds } from '../modules/netboot/server/test-fixtures/runners.js';
import { parseShowTargets } from '../modules/netboot/server/tgt.cli.js';

/**
 * Hostile input against the netboot module (issue 13): a LAN where anyone can send PXE requests,
 * tenants who try its API, and operators' uploads that try to make QEMU open host files. Every
 * attack gets a 4xx (or, on the public script route, the same menu as an unknown MAC) and changes
 * nothing: no machine, image, target, export or file appears.
 */

const run = new LocalProcessRunner();
const ids = uniqueTestIds();
const prefix = `iqn.2026-01.io.slipway.test:${ids.tag}`;
const LIMIT = 4 * 1024 * 1024;
let t: TestApp;
let rt: NetbootRuntime;
let admin: SignedIn;
let fixtures: string;
let imageId = '';
let machineA: Json;
let machineB: Json;

const api = injector(() => t);
const upload = (name: string, data: Buffer | string, headers: Record<string, string> = {}) =>
  api('POST', `/netboot/images?name=${encodeURIComponent(name)}`, admin, data, { 'content-type': 'application/octet-stream', ...headers });
const tgtOurs = async () => parseShowTargets((await run.exec('tgtadm', ['--lld', 'iscsi', '--mode', 'target', '--op', 'show'])).stdout).filter((x) => x.iqn.startsWith(`${prefix}:`));
/** Everything an attack could have changed. */
const snapshot = async () => ({
  machines: (await rt.repo.machines()).map((m) => [m.id, m.name, m.mac, m.state, m.imageId, m.bootMode, m.token]),
  images: (await rt.repo.images()).map((i) => [i.id, i.name, i.status]),
  versions: (await rt.repo.versions()).map((v) => v.id),
  sessions: (await rt.repo.sessions()).map((s) => [s.id, s.state]),
  targets: (await tgtOurs()).map((x) => x.iqn),
  exports: (await rt.engine.wb.list()).map((e) => e.name),
  files: { images: readdirSync(rt.engine.paths.images).sort(), wb: readdirSync(rt.engine.paths.wb).sort(), uploads: readdirSync(rt.engine.paths.uploads).sort() },
});

beforeAll(async () => {
  fixtures = await mkdtemp('/tmp/slw-nbsec-');
  t = await createTestApp({
    modules: [createNetbootModule({ onRuntime: (r) => (rt = r) })],
    env: netbootTestEnv(ids, { SLIPWAY_NETBOOT_UPLOAD_MAX_BYTES: String(LIMIT), SLIPWAY_NETBOOT_PENDING_MAX: '3', SLIPWAY_NETBOOT_PENDING_PER_MINUTE: '1000' }),
  });
  admin = await t.signIn('admin');
  const raw = `${fixtures}/ok.raw`;
  await writeFile(raw, Buffer.alloc(512, 0x55));
  await truncate(raw, 1024 * 1024);
  await run.exec('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, `${fixtures}/ok.qcow2`]);
  const up = await upload('sec-base', await readFile(`${fixtures}/ok.qcow2`));
  expect(up.status, up.text).toBe(202);
  expect((await t.services.jobs.waitFor(up.body.job.id, 60_000)).state).toBe('succeeded');
  imageId = up.body.image.id;
  machineA = (await api('POST', '/netboot/machines', admin, { name: `${ids.tag}-a`, mac: '52:54:00:5e:c0:01', imageId })).body.machine;
  machineB = (await api('POST', '/netboot/machines', admin, { name: `${ids.tag}-b`, mac: '52:54:00:5e:c0:02', imageId })).body.machine;
  expect(machineA?.id && machineB?.id).toBeTruthy();
}, 120_000);

afterAll(async () => {
  for (const x of await tgtOurs().catch(() => [])) await run.exec('tgtadm', ['--lld', 'iscsi', '--mode', 'target', '--op', 'delete', '--force', '--tid', String(x.tid)]).catch(() => {});
  for (const r of (await rt?.engine.wb.list().catch(() => [])) ?? []) await rt.engine.wb.stop(r.name).catch(() => {});
  await t?.close();
  await rm(fixtures, { recursive: true, force: true });
});

describe('netboot: a hostile tenant, LAN or upload', () => {
  it('the user role (a tenant) and read-only staff get 403 on every change, and tenants cannot even read', async () => {
    const before = await snapshot();
    const tenant = await t.signIn('user');
    const viewer = await t.signIn('viewer');
    const support = await t.signIn('support');
    const changes: [string, string, unknown?][] = [
      ['POST', '/netboot/machines', { name: 'x1', mac: '52:54:00:00:00:99', imageId }],
      ['PATCH', `/netboot/machines/${machineA.id}`, { bootMode: 'local' }],
      ['DELETE', `/netboot/machines/${machineA.id}`],
      ['POST', `/netboot/machines/${machineA.id}/session`],
      ['DELETE', `/netboot/machines/${machineA.id}/session`],
      ['POST', `/netboot/machines/${machineA.id}/writeback/commit`, { comment: 'x' }],
      ['POST', `/netboot/machines/${machineA.id}/writeback/discard`],
      ['POST', `/netboot/machines/${machineA.id}/token`],
      ['POST', `/netboot/machines/${machineA.id}/wake`],
      ['POST', '/netboot/machines/import', { csv: 'name,mac\nx2,52:54:00:00:00:98\n' }],
      ['PATCH', '/netboot/settings', { proxyDhcp: true }],
      ['DELETE', `/netboot/images/${imageId}`],
    ];
    for (const who of [tenant, viewer, support]) {
      for (const [method, url, payload] of changes) {
        const r = await api(method as 'POST', url, who, payload);
        expect(r.status, `${who.user.role} ${method} ${url}`).toBe(403);
      }
      const up = await upload('sneaky', Buffer.alloc(1024), { authorization: who.headers.authorization });
      expect(up.status).toBe(403);
    }
    for (const url of ['/netboot/machines', `/netboot/machines/${machineA.id}`, '/netboot/images', `/netboot/images/${imageId}`, '/netboot/sessions', '/netboot/settings']) {
      expect((await api('GET', url, tenant)).status, url).toBe(403);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('read-only staff never see a boot token (machine views and the dnsmasq config are redacted)', async () => {
    const viewer = await t.signIn('viewer');
    await api('PATCH', '/netboot/settings', admin, { subnet: '10.88.0.0/24' });
    const tokens = (await rt.repo.machines()).map((m) => m.token);
    for (const url of ['/netboot/machines', `/netboot/machines/${machineA.id}`, '/netboot/settings']) {
      const r = await api('GET', url, viewer);
      expect(r.status).toBe(200);
      for (const tok of tokens) expect(r.text, url).not.toContain(tok);
    }
    expect((await api('GET', '/netboot/settings', viewer)).body.dnsmasq.config).toContain('token=[redacted]');
  });

  it('malformed, broadcast, multicast, zero and look-alike MACs get 400; a duplicate in another notation 409; nothing is created', async () => {
    const before = await snapshot();
    const bad = ['52:54:00:zz:00:01', '52:54:00:00:01', '52:54-00:00:00:01', '-52:54:00:00:00:01', '52:54:00:00:00:01\n', '52:54:00:00:00:01;id',
      'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01', '33:33:00:00:00:01', '00:00:00:00:00:00', '５２:54:00:00:00:01', '52:54:00:00:00:01:02', '', ' 52:54:00:00:00:01'];
    for (const mac of bad) {
      const r = await api('POST', '/netboot/machines', admin, { name: 'mac-test', mac, imageId });
      expect(r.status, JSON.stringify(mac)).toBe(400);
      expect(r.body.error.code).toBe('validation_failed');
    }
    const dup = await api('POST', '/netboot/machines', admin, { name: 'mac-dup', mac: '5254.005e.c001', imageId });
    expect(dup.status).toBe(409);
    expect(dup.body.error.message).toContain(`${ids.tag}-a`);
    const dupPatch = await api('PATCH', `/netboot/machines/${machineB.id}`, admin, { mac: '52-54-00-5E-C0-01' });
    expect(dupPatch.status).toBe(409);
    expect(await snapshot()).toEqual(before);
  });

  it('names that would break or collide in IQNs, file names or scripts get 400; nothing is created', async () => {
    const before = await snapshot();
    const bad = ['PC1', 'pc_1', 'pc.1', 'initiator.pc1', '-pc', 'pc-', 'pc1;rm', 'pc1 x', 'a'.repeat(64), 'pc1\n', '../pc1', 'pc/1', 'pc1$(id)', 'ｐｃ1', 'pc1\u0000', ''];
    for (const name of bad) {
      const r = await api('POST', '/netboot/machines', admin, { name, mac: '52:54:00:00:aa:01', imageId });
      expect(r.status, JSON.stringify(name)).toBe(400);
    }
    const dup = await api('POST', '/netboot/machines', admin, { name: `${ids.tag}-a`, mac: '52:54:00:00:aa:02', imageId });
    expect(dup.status).toBe(409);
    expect((await api('POST', '/netboot/machines', admin, { name: 'fine', mac: '52:54:00:00:aa:03', imageId: 'no-such-image' })).status).toBe(422);
    expect((await api('POST', '/netboot/machines', admin, { name: 'fine', mac: '52:54:00:00:aa:03', imageId, fixedIp: '10.0.0.256' })).status).toBe(400);
    expect((await api('POST', '/netboot/machines', admin, { name: 'fine', mac: '52:54:00:00:aa:03', imageId, fixedIp: '255.255.255.255' })).status).toBe(400);
    const csv = await api('POST', '/netboot/machines/import', admin, { csv: `name,mac\nok1,52:54:00:00:aa:10\nPC.2,52:54:00:00:aa:11\nok3,52:54:00:00:aa:10\n` });
    expect(csv.status).toBe(400);
    expect(csv.body.error.details.issues.map((i: Json) => i.line)).toEqual([3, 4]);
    expect(await snapshot()).toEqual(before);
  });

  it('a qcow2 whose backing file is /etc/shadow, and a VMDK descriptor naming /etc/shadow, get 400 image_refused and leave nothing', async () => {
    const before = await snapshot();
    await run.exec('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', '/etc/shadow', '-F', 'raw', `${fixtures}/evil.qcow2`, '1M']);
    const variants: [string, Buffer][] = [
      ['evil-backing', await readFile(`${fixtures}/evil.qcow2`)],
      ['evil-vmdk', Buffer.from('# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\nRW 2048 FLAT "/etc/shadow" 0\nddb.virtualHWVersion = "4"\n')],
      ['evil-vmdk-rel', Buffer.from('# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\nRW 2048 FLAT "../../../../etc/shadow" 0\n')],
    ];
    await run.exec('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'json:{"file":{"driver":"file","filename":"/etc/shadow"}}', '-F', 'raw', `${fixtures}/evil-json.qcow2`, '1M']).catch(() => undefined);
    try {
      variants.push(['evil-json', await readFile(`${fixtures}/evil-json.qcow2`)]);
    } catch {
      /* qemu-img refused to write it: nothing to try */
    }
    for (const [name, data] of variants) {
      const r = await upload(name, data);
      expect(r.status, `${name}: ${r.text}`).toBe(400);
      expect(['image_refused', 'image_unreadable']).toContain(r.body.error.code);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('an oversize upload gets 413 (declared or streamed), a wrong checksum 422, a JSON body or a bad name 400; nothing is kept', async () => {
    const before = await snapshot();
    const big = Buffer.alloc(LIMIT + 1);
    expect((await upload('too-big', big)).status).toBe(413);
    // no Content-Length (chunked): cut off while streaming
    const { Readable } = await import('node:stream');
    const chunks = function* () {
      for (let i = 0; i < 8; i++) yield Buffer.alloc(LIMIT / 4);
    };
    const streamed = await t.app.inject({ method: 'POST', url: '/api/v1/netboot/images?name=too-big-2', headers: { ...admin.headers, 'content-type': 'application/octet-stream' }, payload: Readable.from(chunks()) });
    expect(streamed.statusCode).toBe(413);
    const ok = await readFile(`${fixtures}/ok.qcow2`);
    const wrong = await upload('bad-sum', ok, { 'x-checksum-sha256': createHash('sha256').update('other').digest('hex') });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error.code).toBe('checksum_mismatch');
    expect((await upload('bad-sum-2', ok, { 'x-checksum-sha256': 'not-hex' })).status).toBe(400);
    expect((await api('POST', '/netboot/images?name=as-json', admin, { file: 'x' })).status).toBe(400);
    for (const name of ['../etc', 'A', 'x y', '-x', 'a'.repeat(65), 'sec-base/..']) expect((await upload(name, ok)).status, name).toBe(400);
    expect((await upload('sec-base', ok)).status).toBe(409);
    expect((await upload('empty', Buffer.alloc(0))).status).toBe(400);
    expect(await snapshot()).toEqual(before);
  });

  it("script requests without a machine's token, with another machine's token, or with a forged path get the unknown-MAC menu or 404 and start nothing", async () => {
    const before = await snapshot();
    const tokenOf = async (id: string) => (await rt.repo.machine(id))!.token;
    const menu = (await t.app.inject({ method: 'GET', url: '/api/v1/netboot/boot/52-54-00-5e-c0-aa.ipxe' })).body;
    const a = '/api/v1/netboot/boot/52-54-00-5e-c0-01.ipxe';
    const tokA = await tokenOf(machineA.id);
    const tokB = await tokenOf(machineB.id);
    const tries = [a, `${a}?token=${tokB}`, `${a}?token=${tokA.toUpperCase()}`, `${a}?token=${tokA.slice(0, 42)}`, `${a}?token=${tokA}x`, `${a}?token=`, `${a}?token=${tokA.slice(1)}%41`,
      '/api/v1/netboot/boot/52-54-00-5e-c0-01.disk.ipxe', `/api/v1/netboot/boot/52-54-00-5e-c0-01.disk.ipxe?token=${tokB}`];
    for (const url of tries) {
      const r = await t.app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(200);
      expect(r.body, url).toBe(menu);
      expect(r.body).not.toContain(ids.tag);
      expect(r.body).not.toContain(prefix);
    }
    for (const url of ['/api/v1/netboot/boot/..%2f..%2fetc%2fpasswd', '/api/v1/netboot/boot/52-54-00-5e-c0-01', '/api/v1/netboot/boot/52:54:00:5e:c0:01.ipxe',
      '/api/v1/netboot/boot/ff-ff-ff-ff-ff-ff.ipxe', '/api/v1/netboot/boot/01-00-5e-00-00-01.ipxe', '/api/v1/netboot/boot/52-54-00-5E-C0-01.ipxe', '/api/v1/netboot/boot/%00.ipxe']) {
      const r = await t.app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(404);
      expect(r.body).not.toContain(ids.tag);
    }
    await new Promise((r) => setTimeout(r, 300));
    // the one unknown MAC above registered as pending; nothing else changed
    const after = await snapshot();
    expect(after.machines.filter((m) => m[3] === 'pending').map((m) => m[2])).toEqual(['52:54:00:5e:c0:aa']);
    expect({ ...after, machines: after.machines.filter((m) => m[3] !== 'pending') }).toEqual(before);
  });

  it('after a token rotation the old token gets the unknown-MAC menu byte for byte and starts nothing; no token reaches the audit log', async () => {
    const menu = (await t.app.inject({ method: 'GET', url: '/api/v1/netboot/boot/52-54-00-5e-c0-aa.ipxe' })).body;
    const old = (await rt.repo.machine(machineB.id))!.token;
    await rt.repo.updateMachine(machineB.id, { bootMode: 'local' });
    await rt.service.changed(machineB.id);
    const url = `/api/v1/netboot/boot/52-54-00-5e-c0-02.ipxe?token=${old}`;
    expect((await t.app.inject({ method: 'GET', url })).body).not.toBe(menu);
    const r = await api('POST', `/netboot/machines/${machineB.id}/token`, admin);
    expect(r.status, r.text).toBe(200);
    const fresh = (await rt.repo.machine(machineB.id))!.token;
    expect(fresh).not.toBe(old);
    const before = await snapshot();
    for (const u of [url, url.replace('.ipxe?', '.disk.ipxe?')]) {
      const res = await t.app.inject({ method: 'GET', url: u });
      expect(res.statusCode, u).toBe(200);
      expect(res.body, u).toBe(menu);
    }
    await new Promise((res) => setTimeout(res, 300));
    expect((await snapshot()).sessions).toEqual(before.sessions);
    expect((await tgtOurs()).map((x) => x.iqn)).toEqual(before.targets);
    const audit = JSON.stringify((await t.services.audit.list({ limit: 200 })).items);
    expect(audit).toContain('netboot.machine.token.rotate');
    expect(audit).not.toContain(old);
    expect(audit).not.toContain(fresh);
  });

  it('unknown MACs flooding the script route register at most the configured number of pending machines', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => t.app.inject({ method: 'GET', url: `/api/v1/netboot/boot/52-54-00-77-00-${i.toString(16).padStart(2, '0')}.ipxe` })));
    await new Promise((r) => setTimeout(r, 500));
    const pending = (await rt.repo.machines()).filter((m) => m.state === 'pending');
    expect(pending.length).toBe(3);
    // pending machines have no image and boot nothing until an operator approves them
    for (const p of pending) {
      expect(p.imageId).toBeNull();
      const r = await t.app.inject({ method: 'GET', url: `/api/v1/netboot/boot/${p.mac.replace(/:/g, '-')}.ipxe?token=${p.token}` });
      expect(r.body).not.toContain('sanboot iscsi');
    }
    expect(await tgtOurs()).toEqual([]);
  });
});
