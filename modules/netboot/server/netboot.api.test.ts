import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { injector, type Json } from './test-fixtures/inject.js';
import { LocalProcessRunner, SYSTEM_ACTOR } from '../../../server/src/testing/index.js';
import { createTestApp, type SignedIn, type TestApp } from '../../../server/src/testing/harness.js';
import { createNetbootModule, type NetbootRuntime } from './index.js';
import { netbootTestEnv, uniqueTestIds } from './test-fixtures/runners.js';
import { markerBootSector } from './test-fixtures/marker-mbr.js';
import { parseShowTargets } from './tgt.cli.js';
import { fuseMounts } from './writeback.js';

/**
 * The netboot API on the real engines (tgtd, qemu-storage-daemon, FUSE, qemu-img), through HTTP:
 * upload an image, register a machine, start its session, see the target in tgtadm, fetch the
 * script with and without its token, write through iSCSI, commit with a comment, stop, no orphans.
 */

const run = new LocalProcessRunner();
const ids = uniqueTestIds();
const { tag } = ids;
const prefix = `iqn.2026-01.io.slipway.test:${tag}`;
let t: TestApp;
let rt: NetbootRuntime;
let admin: SignedIn;
let viewer: SignedIn;
let fixtures: string;



const api = injector(() => t);
const tgtShow = async () => parseShowTargets((await run.exec('tgtadm', ['--lld', 'iscsi', '--mode', 'target', '--op', 'show'])).stdout).filter((x) => x.iqn.startsWith(`${prefix}:`));
const waitJob = async (id: string) => t.services.jobs.waitFor(id, 60_000);

beforeAll(async () => {
  fixtures = await mkdtemp('/tmp/slw-nbapi-');
  const raw = `${fixtures}/disk.raw`;
  await writeFile(raw, markerBootSector());
  await truncate(raw, 16 * 1024 * 1024);
  await run.exec('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, `${fixtures}/disk.qcow2`]);
  t = await createTestApp({ modules: [createNetbootModule({ onRuntime: (r) => (rt = r) })], env: netbootTestEnv(ids) });
  admin = await t.signIn('admin');
  viewer = await t.signIn('viewer');
}, 120_000);

afterAll(async () => {
  for (const x of await tgtShow().catch(() => [])) await run.exec('tgtadm', ['--lld', 'iscsi', '--mode', 'target', '--op', 'delete', '--force', '--tid', String(x.tid)]).catch(() => {});
  for (const r of (await rt?.engine.wb.list().catch(() => [])) ?? []) await rt.engine.wb.stop(r.name).catch(() => {});
  await t?.close();
  await rm(fixtures, { recursive: true, force: true });
});

describe('netboot through the API (real tgtd, qemu-storage-daemon, FUSE)', () => {
  let imageId = '';
  let v1 = '';
  let machineId = '';
  let scriptUrl = '';

  it('uploads a qcow2 image streamed as the raw body; the conversion job makes it ready with version 1', async () => {
    const file = await readFile(`${fixtures}/disk.qcow2`);
    const sha = createHash('sha256').update(file).digest('hex');
    const up = await api('POST', '/netboot/images?name=base-os&comment=first%20install', admin, file, { 'content-type': 'application/octet-stream', 'x-checksum-sha256': sha });
    expect(up.status, up.text).toBe(202);
    expect(up.body.image).toMatchObject({ name: 'base-os', status: 'converting' });
    imageId = up.body.image.id;
    expect((await waitJob(up.body.job.id)).state).toBe('succeeded');
    const got = await api('GET', `/netboot/images/${imageId}`, viewer);
    expect(got.body.image).toMatchObject({ status: 'ready', versionCount: 1, latestVersion: 1, virtualSize: 16 * 1024 * 1024 });
    expect(got.body.versions[0]).toMatchObject({ number: 1, comment: 'first install', sha256: sha, author: { id: admin.user.id, name: admin.user.username }, machines: [], inUse: false });
    v1 = got.body.versions[0].id;
    // nothing is left in the upload area
    expect(readdirSync(`${rt.engine.paths.uploads}`)).toEqual([]);
  });

  it('registers a machine (MAC normalised) and shows the script URL with its token to managers only', async () => {
    const res = await api('POST', '/netboot/machines', admin, { name: `${tag}-pc1`, mac: '52-54-00-AB-CD-01', imageId });
    expect(res.status, res.text).toBe(201);
    expect(res.body.machine).toMatchObject({ mac: '52:54:00:ab:cd:01', status: 'offline', bootMode: 'iscsi', keepWriteback: false, effectiveVersionId: v1, session: null });
    machineId = res.body.machine.id;
    scriptUrl = res.body.machine.ipxeScriptUrl;
    expect(scriptUrl).toMatch(/\/api\/v1\/netboot\/boot\/52-54-00-ab-cd-01\.ipxe\?token=[A-Za-z0-9_-]{43}$/);
    const asViewer = await api('GET', `/netboot/machines/${machineId}`, viewer);
    expect(asViewer.body.machine.ipxeScriptUrl).toContain('token=[redacted]');
    expect(asViewer.text).not.toContain(new URL(scriptUrl).searchParams.get('token')!);
  });

  it('starts a session as a job: the target is in tgtadm --op show with LUN 1 on the export and the initiator ACL', async () => {
    const res = await api('POST', `/netboot/machines/${machineId}/session`, admin);
    expect(res.status, res.text).toBe(202);
    const job = await waitJob(res.body.job.id);
    expect(job.state, JSON.stringify(await t.services.jobs.logs(job.id, SYSTEM_ACTOR))).toBe('succeeded');
    expect(job.steps.map((s) => s.name)).toEqual(['writeback', 'export', 'target', 'acl', 'chap', 'lun', 'script ready']);
    const targets = await tgtShow();
    const target = targets.find((x) => x.iqn === `${prefix}:${tag}-pc1`)!;
    expect(target).toBeDefined();
    expect(target.luns.find((l) => l.lun === 1)?.backingStorePath).toBe(`${rt.engine.paths.wb}/${tag}-pc1.export`);
    expect(target.acl).toEqual([`${prefix}:initiator.${tag}-pc1`]);
    const m = await api('GET', `/netboot/machines/${machineId}`, viewer);
    expect(m.body.machine.session).toMatchObject({ state: 'ready', targetIqn: target.iqn, tid: target.tid });
    expect(m.body.machine.writeback.versionId).toBe(v1);
    // a second start is a conflict, not a second target
    expect((await api('POST', `/netboot/machines/${machineId}/session`, admin)).status).toBe(409);
  });

  it('serves the script with the token; without it (or with another machine\'s) exactly the unknown-MAC menu', async () => {
    const path = new URL(scriptUrl).pathname + new URL(scriptUrl).search;
    const good = await t.app.inject({ method: 'GET', url: path });
    expect(good.statusCode).toBe(200);
    expect(good.body).toContain(`set initiator-iqn ${prefix}:initiator.${tag}-pc1`);
    expect(good.body).toContain(`sanboot iscsi:127.0.0.1::3260:1:${prefix}:${tag}-pc1`);
    const unknown = await t.app.inject({ method: 'GET', url: '/api/v1/netboot/boot/52-54-00-ab-cd-99.ipxe' });
    const noToken = await t.app.inject({ method: 'GET', url: new URL(scriptUrl).pathname });
    const wrong = await t.app.inject({ method: 'GET', url: `${new URL(scriptUrl).pathname}?token=${'A'.repeat(43)}` });
    expect(unknown.statusCode).toBe(200);
    for (const r of [noToken, wrong]) {
      expect(r.statusCode).toBe(200);
      expect(r.body).toBe(unknown.body);
      expect(r.body).not.toContain(tag);
    }
    const m = await api('GET', `/netboot/machines/${machineId}`, viewer);
    expect(m.body.machine.status).toBe('booting');
  });

  it('a write through iSCSI lands in the writeback; commit (live) makes version 2 with comment, author and size; v1 unchanged', async () => {
    const init = `${prefix}:initiator.${tag}-pc1`;
    const w = await run.exec('qemu-io', ['--image-opts', '-c', 'write -P 0x41 1M 4k',
      `driver=raw,file.driver=iscsi,file.transport=tcp,file.portal=127.0.0.1:3260,file.target=${prefix}:${tag}-pc1,file.lun=1,file.initiator-name=${init}`], { timeoutMs: 30_000 });
    expect(w.stdout).toContain('wrote 4096/4096');
    const c = await api('POST', `/netboot/machines/${machineId}/writeback/commit`, admin, { comment: 'installed the marker' });
    expect(c.status, c.text).toBe(202);
    expect((await waitJob(c.body.job.id)).state).toBe('succeeded');
    const img = await api('GET', `/netboot/images/${imageId}`, viewer);
    expect(img.body.versions.map((v: Json) => v.number)).toEqual([2, 1]);
    const v2 = img.body.versions[0];
    expect(v2).toMatchObject({ comment: 'installed the marker', author: { name: admin.user.username }, fromMachineId: machineId, parentVersionId: v1, latest: true });
    expect(v2.fileSize).toBeGreaterThan(0);
    const files = await rt.repo.version(v2.id);
    const chk = await run.exec('qemu-io', ['-f', 'qcow2', '-r', '-c', 'read -P 0x41 1M 4k', files!.file]);
    expect(chk.stdout).not.toContain('Pattern verification failed');
    const old = await run.exec('qemu-io', ['-f', 'qcow2', '-r', '-c', 'read -P 0x00 1M 4k', (await rt.repo.version(v1))!.file]);
    expect(old.stdout).not.toContain('Pattern verification failed');
    // the running machine still boots v1 (its writeback's base): v1 is in use and cannot be deleted
    expect(img.body.versions[1]).toMatchObject({ inUse: true, machines: [{ id: machineId, name: `${tag}-pc1` }] });
    const del = await api('DELETE', `/netboot/images/${imageId}/versions/${v1}`, admin);
    expect(del.status).toBe(409);
    expect(del.body.error.details.machines).toEqual([{ id: machineId, name: `${tag}-pc1` }]);
  });

  it('stops the session: target, export and writeback gone; no orphans anywhere', async () => {
    const s = await api('DELETE', `/netboot/machines/${machineId}/session`, admin);
    expect(s.status, s.text).toBe(202);
    expect((await waitJob(s.body.job.id)).state).toBe('succeeded');
    expect(await tgtShow()).toEqual([]);
    expect(await rt.engine.wb.list()).toEqual([]);
    expect(readdirSync(rt.engine.paths.wb)).toEqual([]);
    expect(fuseMounts(readFileSync('/proc/self/mountinfo', 'utf8')).filter((p) => p.startsWith(rt.engine.paths.root))).toEqual([]);
    const m = await api('GET', `/netboot/machines/${machineId}`, viewer);
    expect(m.body.machine).toMatchObject({ status: 'offline', session: null, writeback: null });
    expect(m.body.machine.history[0]).toMatchObject({ state: 'stopped' });
    // v1 is no longer used by anyone (the machine follows the latest, v2): it may go now
    expect((await api('DELETE', `/netboot/images/${imageId}/versions/${v1}`, admin)).status).toBe(200);
  });

  it('a known MAC fetching its script starts its session on demand and gets the sanboot script', async () => {
    const started = Date.now();
    const res = await t.app.inject({ method: 'GET', url: new URL(scriptUrl).pathname + new URL(scriptUrl).search });
    expect(res.body).toContain('sanboot iscsi:');
    expect(Date.now() - started).toBeLessThan(20_000);
    expect((await tgtShow()).map((x) => x.iqn)).toEqual([`${prefix}:${tag}-pc1`]);
    const m = await api('GET', `/netboot/machines/${machineId}`, viewer);
    expect(m.body.machine.session.state).toBe('ready');
    const stop = await api('DELETE', `/netboot/machines/${machineId}/session`, admin);
    expect((await waitJob(stop.body.job.id)).state).toBe('succeeded');
    expect(await tgtShow()).toEqual([]);
  });

  it('keep-writeback: the writeback survives stop and is reused at the next start; discard drops it', async () => {
    expect((await api('PATCH', `/netboot/machines/${machineId}`, admin, { keepWriteback: true })).status).toBe(200);
    const s1 = await api('POST', `/netboot/machines/${machineId}/session`, admin);
    expect((await waitJob(s1.body.job.id)).state).toBe('succeeded');
    const init = `${prefix}:initiator.${tag}-pc1`;
    await run.exec('qemu-io', ['--image-opts', '-c', 'write -P 0x42 2M 4k',
      `driver=raw,file.driver=iscsi,file.transport=tcp,file.portal=127.0.0.1:3260,file.target=${prefix}:${tag}-pc1,file.lun=1,file.initiator-name=${init}`], { timeoutMs: 30_000 });
    const st = await api('DELETE', `/netboot/machines/${machineId}/session`, admin);
    expect((await waitJob(st.body.job.id)).state).toBe('succeeded');
    expect(readdirSync(rt.engine.paths.wb)).toEqual([`${tag}-pc1.qcow2`]);
    const s2 = await api('POST', `/netboot/machines/${machineId}/session`, admin);
    const j2 = await waitJob(s2.body.job.id);
    expect((await t.services.jobs.logs(j2.id, SYSTEM_ACTOR)).map((l) => l.line)).toContain('kept writeback reused');
    // discarding under a running session is refused
    expect((await api('POST', `/netboot/machines/${machineId}/writeback/discard`, admin)).status).toBe(409);
    const st2 = await api('DELETE', `/netboot/machines/${machineId}/session`, admin);
    expect((await waitJob(st2.body.job.id)).state).toBe('succeeded');
    const d = await api('POST', `/netboot/machines/${machineId}/writeback/discard`, admin);
    expect(d.status, d.text).toBe(200);
    expect(d.body.machine.writeback).toBeNull();
    expect(readdirSync(rt.engine.paths.wb)).toEqual([]);
  });

  it('imports machines from CSV all or nothing, and shows the dnsmasq config with tokens redacted', async () => {
    const bad = await api('POST', '/netboot/machines/import', admin, { csv: `name,mac,image\n${tag}-a,52:54:00:ab:cd:10,base-os\n${tag}-b,ff:ff:ff:ff:ff:ff,base-os\n` });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.issues).toEqual([{ line: 3, message: expect.stringContaining('broadcast') }]);
    expect((await api('GET', '/netboot/machines', viewer)).body.items.map((m: Json) => m.name)).not.toContain(`${tag}-a`);
    const ok = await api('POST', '/netboot/machines/import', admin, { csv: `name,mac,image,bootMode\n${tag}-a,52:54:00:ab:cd:10,base-os,iscsi\n"${tag}-b",52:54:00:ab:cd:11,,local\n` });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body.created.map((m: Json) => [m.name, m.bootMode, m.imageId])).toEqual([[`${tag}-a`, 'iscsi', imageId], [`${tag}-b`, 'local', null]]);
    const set = await api('PATCH', '/netboot/settings', admin, { subnet: '10.77.0.0/24', interface: 'lo' });
    expect(set.status, set.text).toBe(200);
    expect(set.body.dnsmasq.config).toContain('dhcp-range=10.77.0.0,proxy,255.255.255.0');
    expect(set.body.dnsmasq.config).toContain('token=[redacted]');
    expect(set.body.dnsmasq.config).not.toMatch(/token=[A-Za-z0-9_-]{43}/);
    // the file on disk has the real tokens, 0600, and dnsmasq accepts it
    const file = set.body.dnsmasq.path as string;
    expect(readFileSync(file, 'utf8')).toMatch(/token=[A-Za-z0-9_-]{43}/);
    const test = await run.exec('dnsmasq', ['--test', '-C', file], { okExitCodes: [0, 1] });
    expect(test.stderr + test.stdout).toContain('syntax check OK');
  });

  it('describes every netboot route in the OpenAPI document', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as { paths: Record<string, Record<string, any>> };
    const paths = Object.keys(doc.paths).filter((p) => p.startsWith('/api/v1/netboot'));
    expect(paths.sort()).toEqual([
      '/api/v1/netboot/boot/{file}', '/api/v1/netboot/edits/{id}/commit', '/api/v1/netboot/edits/{id}/discard', '/api/v1/netboot/images', '/api/v1/netboot/images/{id}',
      '/api/v1/netboot/images/{id}/edits', '/api/v1/netboot/images/{id}/versions/{versionId}',
      '/api/v1/netboot/machines', '/api/v1/netboot/machines/import', '/api/v1/netboot/machines/{id}', '/api/v1/netboot/machines/{id}/chap/rotate', '/api/v1/netboot/machines/{id}/session',
      '/api/v1/netboot/machines/{id}/token', '/api/v1/netboot/machines/{id}/wake', '/api/v1/netboot/machines/{id}/writeback/commit', '/api/v1/netboot/machines/{id}/writeback/discard', '/api/v1/netboot/sessions', '/api/v1/netboot/settings',
    ]);
    expect(Object.keys(doc.paths['/api/v1/netboot/images']!.post.requestBody.content)).toEqual(['application/octet-stream']);
    expect(doc.paths['/api/v1/netboot/machines/{id}']!.get.responses['200'].content['application/json'].schema.properties.machine.properties).toHaveProperty('ipxeScriptUrl');
  });
});
