import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalProcessRunner, type StreamHandle } from '../../../server/src/testing/index.js';
import { createTestApp, type SignedIn, type TestApp } from '../../../server/src/testing/harness.js';
import { freePort } from '../../../server/src/testing/ports.js';
import { createNetbootModule, type NetbootRuntime } from './index.js';
import { markerBootSector, MARKER_OK } from './test-fixtures/marker-mbr.js';
import { netbootTestEnv, uniqueTestIds } from './test-fixtures/runners.js';

/**
 * The end-to-end proof driven through the panel: a machine registered over the API boots under
 * QEMU TCG from the panel's own script route (its session started on demand by the script fetch),
 * its boot sector writes a marker, the console sees it online, and the marker lands in the
 * writeback only: committed it is in the new version, the old version is unchanged, and after a
 * discard the machine's disk (pinned back to the old version) no longer has it. One boot only.
 */

type Json = Record<string, any>;
const run = new LocalProcessRunner();
const ids = uniqueTestIds();
const prefix = `iqn.2026-01.io.slipway.test:${ids.tag}`;
const name = `${ids.tag}-pxe`;
const mac = '52:54:00:5e:1a:41';
const haveQemu = existsSync('/usr/bin/qemu-system-x86_64') && existsSync('/usr/lib/ipxe/qemu/efi-virtio.rom');
let t: TestApp;
let rt: NetbootRuntime;
let admin: SignedIn;
let fixtures: string;
let qemu: StreamHandle | null = null;

const api = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}) => {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: { ...admin.headers, ...headers }, ...(payload !== undefined ? { payload: payload as Json } : {}) });
  return { status: res.statusCode, body: res.json() as Json, text: res.body };
};
const sector1 = async (iqn: string, initiator: string) => {
  const r = await run.exec('qemu-io', ['--image-opts', '-c', 'read -v 512 64',
    `driver=raw,file.driver=iscsi,file.transport=tcp,file.portal=127.0.0.1:3260,file.target=${iqn},file.lun=1,file.initiator-name=${initiator}`], { timeoutMs: 30_000 });
  return r.stdout;
};

beforeAll(async () => {
  if (!haveQemu) return;
  fixtures = await mkdtemp('/tmp/slw-nbboot-');
  await writeFile(`${fixtures}/m.raw`, markerBootSector());
  await truncate(`${fixtures}/m.raw`, 16 * 1024 * 1024); // iPXE's INT 13h needs more than 1 MiB (see netboot.boot.test.ts)
  await run.exec('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', `${fixtures}/m.raw`, `${fixtures}/m.qcow2`]);
  const port = await freePort();
  t = await createTestApp({
    modules: [createNetbootModule({ onRuntime: (r) => (rt = r) })],
    // the guest reaches the host's loopback as 10.0.2.2 (QEMU user-mode network)
    env: { ...netbootTestEnv(ids, { SLIPWAY_NETBOOT_SERVER_ADDRESS: '10.0.2.2', SLIPWAY_NETBOOT_BOOT_BASE_URL: `http://10.0.2.2:${port}` }), SLIPWAY_LISTEN: `127.0.0.1:${port}` },
  });
  await t.app.listen({ host: '127.0.0.1', port });
  admin = await t.signIn('admin');
}, 120_000);

afterAll(async () => {
  qemu?.stop();
  await qemu?.done;
  if (!t) return;
  for (const r of (await rt?.engine.wb.list().catch(() => [])) ?? []) await rt.engine.wb.stop(r.name).catch(() => {});
  for (const x of await rt.engine.tgt.listOwnTargets().catch(() => [])) await rt.engine.tgt.deleteTarget(x.tid, { force: true }).catch(() => {});
  await t.close();
  await rm(fixtures, { recursive: true, force: true });
});

describe.skipIf(!haveQemu)('a diskless boot driven by the panel (QEMU TCG)', () => {
  it('boots from the panel route, writes the marker into its writeback only; commit keeps it, discard drops it', async () => {
    const up = await api('POST', '/netboot/images?name=marker-os', await readFile(`${fixtures}/m.qcow2`), { 'content-type': 'application/octet-stream' });
    expect(up.status, up.text).toBe(202);
    expect((await t.services.jobs.waitFor(up.body.job.id, 60_000)).state).toBe('succeeded');
    const v1 = (await api('GET', `/netboot/images/${up.body.image.id}`)).body.versions[0].id as string;
    const m = await api('POST', '/netboot/machines', { name, mac, imageId: up.body.image.id });
    expect(m.status, m.text).toBe(201);
    const id = m.body.machine.id as string;
    const bootUrl = m.body.machine.ipxeScriptUrl as string;
    expect(bootUrl.startsWith(`http://10.0.2.2:`)).toBe(true);

    const serial = `${fixtures}/serial.log`;
    const started = Date.now();
    qemu = run.stream('qemu-system-x86_64', [
      '-accel', 'tcg', '-m', '64', '-display', 'none', '-monitor', 'none', '-no-reboot', '-nodefaults', '-serial', `file:${serial}`,
      '-netdev', `user,id=n0,bootfile=${bootUrl}`, '-device', `virtio-net-pci,netdev=n0,mac=${mac}`, '-boot', 'n',
    ]);
    let out = '';
    while (Date.now() - started < 150_000) {
      out = existsSync(serial) ? readFileSync(serial, 'latin1') : '';
      if (out.includes('SLIPWAY-MARKER')) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(out, `serial: ${out}`).toContain(MARKER_OK);
    // the guest is halted with its iSCSI session up: the console shows it online
    rt.engine.invalidateTargets();
    const online = (await api('GET', `/netboot/machines/${id}`)).body.machine;
    expect(online.status).toBe('online');
    expect(online.connections[0]).toMatchObject({ initiator: `${prefix}:initiator.${name}` });
    expect(online.session).toMatchObject({ state: 'ready', versionId: v1 });
    qemu.stop();
    await qemu.done;
    qemu = null;
    console.log(`netboot TCG boot through the panel: marker written ${Date.now() - started} ms after qemu start`);

    const c = await api('POST', `/netboot/machines/${id}/writeback/commit`, { comment: 'first boot wrote the marker' });
    expect(c.status, c.text).toBe(202);
    expect((await t.services.jobs.waitFor(c.body.job.id, 60_000)).state).toBe('succeeded');
    const v2 = (await rt.repo.version(c.body.versionId))!;
    const inV2 = await run.exec('qemu-img', ['dd', '-f', 'qcow2', '-O', 'raw', `if=${v2.file}`, `of=${fixtures}/v2.raw`, 'bs=512', 'count=2']);
    expect(inV2.exitCode).toBe(0);
    expect((await readFile(`${fixtures}/v2.raw`)).subarray(512, 1024).toString('latin1')).toContain(MARKER_OK);
    await run.exec('qemu-img', ['dd', '-f', 'qcow2', '-O', 'raw', `if=${(await rt.repo.version(v1))!.file}`, `of=${fixtures}/v1.raw`, 'bs=512', 'count=2']);
    expect((await readFile(`${fixtures}/v1.raw`)).subarray(512, 1024).every((b) => b === 0)).toBe(true);

    // stop (discard), pin the machine back to v1 and start again: the marker is gone from its disk
    const stop = await api('DELETE', `/netboot/machines/${id}/session`);
    expect((await t.services.jobs.waitFor(stop.body.job.id, 60_000)).state).toBe('succeeded');
    expect((await api('PATCH', `/netboot/machines/${id}`, { versionId: v1 })).status).toBe(200);
    const again = await api('POST', `/netboot/machines/${id}/session`);
    expect((await t.services.jobs.waitFor(again.body.job.id, 60_000)).state).toBe('succeeded');
    expect(await sector1(`${prefix}:${name}`, `${prefix}:initiator.${name}`)).not.toContain('SLIPWAY');
    const stop2 = await api('DELETE', `/netboot/machines/${id}/session`);
    expect((await t.services.jobs.waitFor(stop2.body.job.id, 60_000)).state).toBe('succeeded');
  }, 240_000);

  it('with CHAP on, real iPXE logs in with the credentials of its script and boots; the target has the account bound', async () => {
    const img = (await api('GET', '/netboot/images')).body.items.find((i: Json) => i.name === 'marker-os');
    const chapName = `${ids.tag}-chap`;
    const chapMac = '52:54:00:5e:1a:42';
    const m = await api('POST', '/netboot/machines', { name: chapName, mac: chapMac, imageId: img.id, chap: true });
    expect(m.status, m.text).toBe(201);
    const id = m.body.machine.id as string;
    const serial = `${fixtures}/serial-chap.log`;
    const started = Date.now();
    qemu = run.stream('qemu-system-x86_64', [
      '-accel', 'tcg', '-m', '64', '-display', 'none', '-monitor', 'none', '-no-reboot', '-nodefaults', '-serial', `file:${serial}`,
      '-netdev', `user,id=n0,bootfile=${m.body.machine.ipxeScriptUrl as string}`, '-device', `virtio-net-pci,netdev=n0,mac=${chapMac}`, '-boot', 'n',
    ]);
    let out = '';
    while (Date.now() - started < 150_000) {
      out = existsSync(serial) ? readFileSync(serial, 'latin1') : '';
      if (out.includes('SLIPWAY-MARKER')) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(out, `serial: ${out}`).toContain(MARKER_OK);
    rt.engine.invalidateTargets();
    const target = (await rt.engine.tgt.findTarget(rt.engine.targetIqn(chapName as never)))!;
    expect(target.accounts).toEqual([m.body.machine.chap.user]);
    expect(target.sessions[0]).toMatchObject({ initiator: `${prefix}:initiator.${chapName}` });
    qemu.stop();
    await qemu.done;
    qemu = null;
    console.log(`netboot TCG boot with CHAP: marker written ${Date.now() - started} ms after qemu start`);
    const stop = await api('DELETE', `/netboot/machines/${id}/session`);
    expect((await t.services.jobs.waitFor(stop.body.job.id, 60_000)).state).toBe('succeeded');
  }, 240_000);
});
