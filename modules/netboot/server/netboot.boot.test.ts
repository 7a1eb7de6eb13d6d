import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalProcessRunner, QemuImg, type StreamHandle } from '../../../server/src/testing/index.js';
import { machineScript, machineScriptUrl, menuScript, newBootToken, parseBootBaseUrl, entryScriptUrl, tokenMatches } from './ipxe.js';
import { initiatorIqn, parseIqnPrefix, parseMac, parseMachineName, targetIqn } from './netboot.schema.js';
import { markerBootSector, MARKER_OK } from './test-fixtures/marker-mbr.js';
import { uniqueTestIds } from './test-fixtures/runners.js';
import { TgtCli } from './tgt.cli.js';
import { Writebacks } from './writeback.js';

/**
 * A real diskless boot under QEMU TCG (ENGINES.md: KVM is not usable here): the guest's iPXE ROM
 * fetches the machine's script over HTTP (user-mode network, 10.0.2.2 = the host's loopback), sets
 * its initiator IQN, sanboots the tgt target whose LUN is the FUSE export of the machine's
 * writeback, and the disk's boot sector writes a marker through BIOS INT 13h. The marker must land
 * in the writeback, never in the base image. One boot only: the machine has 2 shared cores.
 */

const run = new LocalProcessRunner();
const { tidMin, tidMax, tag } = uniqueTestIds();
const root = mkdtempSync('/tmp/slw-boot-');
const baseFile = `${root}/images/base.raw`;
const qemuImg = new QemuImg(run, { root });
const wb = new Writebacks(run, { dir: `${root}/wb`, qemuImg });
const tgt = new TgtCli(run, { backingRoot: `${root}/wb`, tidMin, tidMax });
const prefix = parseIqnPrefix(`iqn.2026-01.io.slipway.test:${tag}`);
const name = parseMachineName('pc1');
const mac = parseMac('52:54:00:5e:1a:01');
const token = newBootToken();
let server: Server;
let qemu: StreamHandle | null = null;
const requests: { url: string; status: number }[] = [];
const haveQemu = existsSync('/usr/bin/qemu-system-x86_64') && existsSync('/usr/lib/ipxe/qemu/efi-virtio.rom');

beforeAll(async () => {
  mkdirSync(`${root}/images`, { recursive: true });
  mkdirSync(`${root}/wb`, { recursive: true });
  // 16 MiB, sparse: iPXE's INT 13h emulation fails with "Input/output error" on a 1 MiB disk
  // (its CHS geometry guess has no whole cylinder), while 16 MiB boots
  await writeFile(baseFile, markerBootSector());
  await truncate(baseFile, 16 * 1024 * 1024);
  server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const m = /^\/api\/v1\/netboot\/boot\/([0-9a-f-]{17})\.ipxe$/.exec(u.pathname);
    const known = m && m[1] === mac.replace(/:/g, '-') && tokenMatches(token, u.searchParams.get('token'));
    const base = parseBootBaseUrl(`http://10.0.2.2:${(server.address() as AddressInfo).port}`);
    const body = known
      ? machineScript({ name, mac, initiatorIqn: initiatorIqn(prefix, name), targetIqn: targetIqn(prefix, name), server: '10.0.2.2', fallback: { kind: 'exit' } })
      : menuScript({ retryUrl: entryScriptUrl(base), registered: false });
    requests.push({ url: req.url ?? '', status: known ? 200 : 404 });
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});

afterAll(async () => {
  qemu?.stop();
  await qemu?.done;
  for (const t of await tgt.listOwnTargets()) if (t.iqn.includes(tag)) await tgt.deleteTarget(t.tid, { force: true });
  for (const r of await wb.list()) await wb.stop(r.name);
  await new Promise((r) => server.close(r));
  rmSync(root, { recursive: true, force: true });
});

describe.skipIf(!haveQemu)('diskless boot under QEMU TCG', () => {
  it('iPXE sanboots the machine target; the boot sector marker lands in the writeback only', async () => {
    const exp = await wb.start(name, { file: baseFile, format: 'raw' });
    const { tid } = await tgt.createTarget(targetIqn(prefix, name));
    await tgt.addLun(tid, exp.exportFile);
    // only the initiator IQN the script announces may log in (the guest connects from 127.0.0.1 via slirp)
    await tgt.bindInitiator(tid, initiatorIqn(prefix, name));

    const port = (server.address() as AddressInfo).port;
    const bootUrl = machineScriptUrl(parseBootBaseUrl(`http://10.0.2.2:${port}`), mac, token);
    const serial = `${root}/serial.log`;
    const started = Date.now();
    qemu = run.stream('qemu-system-x86_64', [
      '-accel', 'tcg', '-m', '64', '-display', 'none', '-monitor', 'none', '-no-reboot', '-nodefaults',
      '-serial', `file:${serial}`,
      '-netdev', `user,id=n0,bootfile=${bootUrl}`,
      '-device', `virtio-net-pci,netdev=n0,mac=${mac}`,
      '-boot', 'n',
    ]);
    let out = '';
    while (Date.now() - started < 120_000) {
      out = existsSync(serial) ? readFileSync(serial, 'latin1') : '';
      if (out.includes('SLIPWAY-MARKER')) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    qemu.stop();
    await qemu.done;
    qemu = null;
    expect(out, `serial: ${out}; requests: ${JSON.stringify(requests)}`).toContain(MARKER_OK);
    expect(requests[0]).toMatchObject({ status: 200 });
    expect(requests[0]!.url).toContain(`token=${token}`);

    await tgt.deleteTarget(tid, { force: true });
    await wb.stop(name);
    // the machine's disk (base + writeback) has the marker in sector 1 …
    const flat = `${root}/images/after.raw`;
    await qemuImg.convert(`${root}/wb/${name}.qcow2`, flat, { outputFormat: 'raw', sourceFormat: 'qcow2' });
    const after = await readFile(flat);
    expect(after.subarray(512, 1024).toString('latin1')).toContain(MARKER_OK);
    const map = await qemuImg.map(`${root}/wb/${name}.qcow2`, { format: 'qcow2' });
    expect(map.some((e) => e.depth === 0 && e.data && e.start <= 512 && e.start + e.length >= 1024)).toBe(true);
    // … and the base image never got it
    const baseNow = await readFile(baseFile);
    expect(baseNow.subarray(512, 1024).every((b) => b === 0)).toBe(true);
    expect(baseNow.subarray(0, 512).equals(markerBootSector())).toBe(true);
    console.log(`netboot TCG boot: marker written ${Date.now() - started} ms after qemu start`);
  }, 180_000);
});
