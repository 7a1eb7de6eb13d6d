import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { open, readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalProcessRunner, QemuImg } from '../../../server/src/testing/index.js';
import { type IpAddress, type MachineName, parseIqn, parseMachineName } from './netboot.schema.js';
import { SpyRunner, uniqueTestIds } from './test-fixtures/runners.js';
import { TgtCli } from './tgt.cli.js';
import { fuseMounts, qmpDirFor, Writebacks } from './writeback.js';

/**
 * The writeback chain on the real engines (ENGINES.md): qcow2 overlay → qemu-storage-daemon FUSE
 * export → tgt LUN → a write through iSCSI (qemu's initiator) lands in the overlay only.
 */

const MiB = 1024 * 1024;
const run = new LocalProcessRunner();
const { tidMin, tidMax, tag } = uniqueTestIds();
const root = mkdtempSync('/tmp/slw-wb-');
const images = `${root}/images`;
const wbDir = `${root}/wb`;
const baseFile = `${images}/base.raw`;
const qemuImg = new QemuImg(run, { root });
const wb = new Writebacks(run, { dir: wbDir, qemuImg });
const tgt = new TgtCli(run, { backingRoot: wbDir, tidMin, tidMax });
const name = parseMachineName(`${tag}-pc1`);
const iqn = parseIqn(`iqn.2026-01.io.slipway.test:${tag}.pc1`);
const base = { file: baseFile, format: 'raw' as const };

async function readAt(file: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(length);
    await fh.read(b, 0, length, offset);
    return b;
  } finally {
    await fh.close();
  }
}
const pidAlive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

beforeAll(async () => {
  mkdirSync(images, { recursive: true });
  mkdirSync(wbDir, { recursive: true });
  await writeFile(baseFile, Buffer.alloc(4 * MiB, 0x11));
});
afterAll(async () => {
  for (const t of await tgt.listOwnTargets()) if (t.iqn.includes(tag)) await tgt.deleteTarget(t.tid, { force: true });
  for (const r of await wb.list()) await wb.stop(r.name);
  rmSync(root, { recursive: true, force: true });
});

describe('writeback through iSCSI (real tgtd, qemu-storage-daemon, FUSE)', () => {
  let tid = 0;

  it('a write through the LUN lands in the overlay and never in the base', async () => {
    const started = await wb.start(name, base);
    expect(started.exportFile).toBe(`${wbDir}/${name}.export`);
    expect(pidAlive(started.pid)).toBe(true);
    expect(fuseMounts(await readFile('/proc/self/mountinfo', 'utf8'))).toContain(started.exportFile);

    ({ tid } = await tgt.createTarget(iqn));
    await tgt.addLun(tid, started.exportFile);
    await tgt.bindAddress(tid, '127.0.0.1' as IpAddress);

    const w = await run.exec('qemu-io', ['-f', 'raw', '-c', 'write -P 0x41 1M 4k', `iscsi://127.0.0.1:3260/${iqn}/1`], { timeoutMs: 30_000 });
    expect(w.stdout).toMatch(/wrote 4096\/4096 bytes at offset 1048576/);
    const r = await run.exec('qemu-io', ['-f', 'raw', '-c', 'read -P 0x41 1M 4k', '-c', 'read -P 0x11 0 1M', `iscsi://127.0.0.1:3260/${iqn}/1`], { timeoutMs: 30_000 });
    expect(r.stdout).not.toMatch(/Pattern verification failed/);

    // the export is a plain file too: the machine's view is base + writeback
    expect((await readAt(started.exportFile, MiB, 4096)).every((b) => b === 0x41)).toBe(true);
    expect((await readFile(baseFile)).equals(Buffer.alloc(4 * MiB, 0x11))).toBe(true);
    expect(await wb.overlaySize(name)).toBeGreaterThan(0);
  });

  it('after a panel restart, a new adapter finds the export and stops it; nothing is left behind', async () => {
    const fresh = new Writebacks(run, { dir: wbDir, qemuImg });
    const [found, ...more] = await fresh.list();
    expect(more).toEqual([]);
    expect(found).toMatchObject({ name, mounted: true });
    const pid = found!.pid!;
    expect(pidAlive(pid)).toBe(true);

    await tgt.deleteTarget(tid, { force: true });
    expect(await fresh.stop(name)).toEqual({ wasRunning: true });
    expect(pidAlive(pid)).toBe(false);
    expect(await fresh.list()).toEqual([]);
    expect(fuseMounts(await readFile('/proc/self/mountinfo', 'utf8')).filter((m) => m.startsWith(root))).toEqual([]);
    expect(await tgt.findTarget(iqn)).toBeNull();
    expect(existsSync(fresh.files(name).qmp)).toBe(false);
    expect(existsSync(`${wbDir}/${name}.pid`)).toBe(false);
    expect(await fresh.stop(name)).toEqual({ wasRunning: false }); // idempotent

    // qemu-img map: the written range is allocated in the overlay itself (depth 0), the rest comes from the base
    const map = await qemuImg.map(`${wbDir}/${name}.qcow2`, { format: 'qcow2' });
    const own = map.filter((e) => e.depth === 0 && e.data);
    expect(own.some((e) => e.start <= MiB && e.start + e.length >= MiB + 4096)).toBe(true);
    expect(own.every((e) => e.start + e.length <= MiB + 64 * 1024)).toBe(true);
    expect((await readFile(baseFile)).equals(Buffer.alloc(4 * MiB, 0x11))).toBe(true);
  });

  it('a kept writeback survives the next boot; commit makes a new version; discard starts clean', async () => {
    const again = await wb.start(name, base);
    expect((await readAt(again.exportFile, MiB, 16)).every((b) => b === 0x41)).toBe(true);
    await expect(wb.commitTo(name, `${images}/v2.qcow2`)).rejects.toThrow(/stop it first/);
    await expect(wb.discardOverlay(name)).rejects.toThrow(/stop it first/);
    await wb.stop(name);

    await wb.commitTo(name, `${images}/v2.qcow2`);
    const v2 = await qemuImg.info(`${images}/v2.qcow2`);
    expect(v2).toMatchObject({ format: 'qcow2', backingFile: null, virtualSize: 4 * MiB });
    const check = await run.exec('qemu-io', ['-f', 'qcow2', '-r', '-c', 'read -P 0x41 1M 4k', '-c', 'read -P 0x11 0 1M', `${images}/v2.qcow2`]);
    expect(check.stdout).not.toMatch(/Pattern verification failed/);
    expect((await readFile(baseFile)).equals(Buffer.alloc(4 * MiB, 0x11))).toBe(true);

    expect(await wb.discardOverlay(name)).toBe(true);
    const clean = await wb.start(name, base);
    expect((await readAt(clean.exportFile, MiB, 16)).every((b) => b === 0x11)).toBe(true);
    await wb.stop(name);
    await wb.discardOverlay(name);
  });

  it('boots a machine from a committed qcow2 version (the version is never written either)', async () => {
    const v2 = { file: `${images}/v2.qcow2`, format: 'qcow2' as const };
    const before = await readFile(v2.file);
    const s = await wb.start(name, v2);
    const fh = await open(s.exportFile, 'r+');
    await fh.write(Buffer.alloc(4096, 0x42), 0, 4096, 2 * MiB);
    await fh.close();
    expect((await readAt(s.exportFile, MiB, 16)).every((b) => b === 0x41)).toBe(true);
    await wb.stop(name);
    expect((await readFile(v2.file)).equals(before)).toBe(true);
    await wb.discardOverlay(name);
  });

  it('cleans up after a daemon that was killed (stale FUSE mount, no process)', async () => {
    const s = await wb.start(name, base);
    process.kill(s.pid, 'SIGKILL');
    for (let i = 0; i < 40 && pidAlive(s.pid); i++) await new Promise((r) => setTimeout(r, 25));
    const [stale] = await wb.list();
    expect(stale).toMatchObject({ name, pid: null, mounted: true });
    expect(await wb.stop(name)).toEqual({ wasRunning: true });
    expect(await wb.list()).toEqual([]);
    expect(fuseMounts(await readFile('/proc/self/mountinfo', 'utf8'))).not.toContain(s.exportFile);
    await wb.discardOverlay(name);
  });
});

describe('QMP socket directory', () => {
  it('a writeback dir too long for a socket path still works: sockets go to a short private dir, found again after a restart', async () => {
    const longDir = `${root}/${'d'.repeat(120)}/wb`;
    mkdirSync(longDir, { recursive: true });
    const w1 = new Writebacks(run, { dir: longDir, qemuImg });
    expect(w1.files(name).qmp.length).toBeLessThanOrEqual(107);
    expect(new Writebacks(run, { dir: `${longDir}/`, qemuImg }).qmpDir).toBe(w1.qmpDir);
    expect(qmpDirFor(wbDir)).not.toBe(w1.qmpDir);
    const s = await w1.start(name, base);
    try {
      expect(statSync(w1.qmpDir).mode & 0o777).toBe(0o700);
      const fresh = new Writebacks(run, { dir: longDir, qemuImg });
      expect(await fresh.list()).toMatchObject([{ name, pid: s.pid, mounted: true }]);
      expect(existsSync(fresh.files(name).qmp)).toBe(true);
      expect(await fresh.stop(name)).toEqual({ wasRunning: true });
      // the daemon's exit may still be in progress (cmdline already gone, not yet a zombie)
      for (let i = 0; i < 40 && pidAlive(s.pid); i++) await new Promise((r) => setTimeout(r, 25));
      expect(pidAlive(s.pid)).toBe(false);
      expect(existsSync(fresh.files(name).qmp)).toBe(false);
    } finally {
      await w1.stop(name);
      await w1.discardOverlay(name);
    }
  });
});

describe('Writebacks refuses hostile names and paths before running anything', () => {
  const spy = new SpyRunner(() => ({}));
  const w = new Writebacks(spy, { dir: wbDir, qemuImg: new QemuImg(spy, { root }) });
  it.each([
    ['path traversal in the name', () => w.start('../../etc' as MachineName, base)],
    ['a name with a slash', () => w.start('a/b' as MachineName, base)],
    ['a name starting with -', () => w.start('-x' as MachineName, base)],
    ['a name with a comma (QemuOpts separator)', () => w.start('a,b' as MachineName, base)],
    ['a name with a newline', () => w.start('a\nb' as MachineName, base)],
    ['a base outside the image root', () => w.start(name, { file: '/etc/shadow', format: 'raw' })],
    ['a base with ..', () => w.start(name, { file: `${images}/../../../etc/shadow`, format: 'raw' })],
    ['a base in an unexpected format', () => w.start(name, { file: baseFile, format: 'vmdk' })],
    ['a commit destination outside the root', async () => {
      await writeFile(`${wbDir}/${tag}-x.qcow2`, '');
      return w.commitTo(parseMachineName(`${tag}-x`), '/etc/passwd');
    }],
  ])('%s', async (_what, call) => {
    spy.calls.length = 0;
    await expect(call()).rejects.toThrow();
    expect(spy.calls).toEqual([]);
  });
  it('refuses a QMP socket directory that is a symlink, before running anything', async () => {
    const rt = mkdtempSync('/tmp/rt-');
    try {
      const w2 = new Writebacks(spy, { dir: wbDir, qemuImg: new QemuImg(spy, { root }), runtimeDir: rt });
      symlinkSync(images, w2.qmpDir);
      spy.calls.length = 0;
      await expect(w2.start(name, base)).rejects.toThrow(/refusing to place QMP sockets/);
      expect(spy.calls).toEqual([]);
    } finally {
      rmSync(rt, { recursive: true, force: true });
    }
  });
  it('refuses to run on a remote host', () => {
    expect(() => new Writebacks({ ...spy, host: 'remote1', exec: spy.exec.bind(spy), stream: spy.stream.bind(spy) }, { dir: wbDir, qemuImg })).toThrow(/panel host/);
  });
});
