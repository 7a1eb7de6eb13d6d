import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalProcessRunner, type ExecOptions, type ExecResult, type ProcessRunner, type StreamHandle } from './process-runner.js';
import { ImageRefusedError, QemuImg, assertPathUnder, parseInfo } from './qemu-img.js';

/** Records every argv and runs it for real (or not at all when `dry`). */
class SpyRunner implements ProcessRunner {
  readonly host = 'local';
  readonly calls: string[][] = [];
  private readonly real = new LocalProcessRunner();
  constructor(private readonly dry = false) {}
  async exec(command: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    this.calls.push([command, ...args]);
    if (this.dry) return { argv: [command, ...args], exitCode: 0, stdout: '{}', stderr: '', durationMs: 0 };
    return this.real.exec(command, args, opts);
  }
  stream(command: string, args: readonly string[]): StreamHandle {
    this.calls.push([command, ...args]);
    return this.real.stream(command, args);
  }
}

let root: string;
let outside: string;
const real = new LocalProcessRunner();
const qi = (r: ProcessRunner = real) => new QemuImg(r, { root });

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'slipway-qemuimg-'));
  outside = mkdtempSync(path.join(tmpdir(), 'slipway-qemuimg-out-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

const p = (name: string) => path.join(root, name);

/**
 * Makes a LUKS-encrypted test image. qemu's PBKDF benchmark runs before every LUKS create (no option
 * skips it) and fails with "Unable to get accurate CPU usage" when its thread-CPU clock reads no
 * progress, which happens on a loaded CI machine; the fixture is retried, the assertions are not.
 */
async function createLuks(args: string[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await real.exec('qemu-img', ['create', '-q', '--object', 'secret,id=s0,data=abc', ...args]);
      return;
    } catch (err) {
      if (attempt >= 8 || !/Unable to get accurate CPU usage/.test(String(err))) throw err;
    }
  }
}

describe('qemu-img adapter against the real qemu-img', () => {
  it('creates a qcow2, detects its format from contents (not the name) and reports the virtual size', async () => {
    await qi().create(p('disk.raw'), { sizeBytes: 8 * 1024 ** 2 }); // qcow2 despite the .raw name
    const info = await qi().info(p('disk.raw'));
    expect(info.format).toBe('qcow2');
    expect(info.virtualSize).toBe(8 * 1024 ** 2);
    expect(info.backingFile).toBeNull();
    // a raw file named .qcow2 is detected as raw
    writeFileSync(p('plain.qcow2'), Buffer.alloc(1024 * 1024));
    expect((await qi().inspectUntrusted(p('plain.qcow2'))).format).toBe('raw');
  });

  it('measures what a conversion needs with the source format given explicitly', async () => {
    writeFileSync(p('measure.raw'), Buffer.alloc(2 * 1024 * 1024, 0x61));
    const spy = new SpyRunner();
    const m = await qi(spy).measure(p('measure.raw'), { format: 'raw', outputFormat: 'qcow2' });
    expect(spy.calls[0]).toEqual(['qemu-img', 'measure', '--output=json', '-f', 'raw', '-O', 'qcow2', p('measure.raw')]);
    expect(m.required).toBeGreaterThanOrEqual(2 * 1024 * 1024);
    expect(m.fullyAllocated).toBeGreaterThanOrEqual(m.required);
    await expect(qi(new SpyRunner(true)).measure('/etc/shadow', { format: 'raw', outputFormat: 'qcow2' })).rejects.toThrow();
  });

  it('creates an overlay with an explicit backing format and reports the full chain', async () => {
    await qi().create(p('base.qcow2'), { sizeBytes: 4 * 1024 ** 2 });
    const spy = new SpyRunner();
    await qi(spy).create(p('overlay.qcow2'), { backing: { file: p('base.qcow2'), format: 'qcow2' }, sizeBytes: 16 * 1024 ** 2 });
    expect(spy.calls[0]).toEqual(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', p('base.qcow2'), '-F', 'qcow2', p('overlay.qcow2'), String(16 * 1024 ** 2)]);
    const info = await qi().info(p('overlay.qcow2'), { backingChain: true });
    expect(info.backingFile).toBe(p('base.qcow2'));
    expect(info.backingFormat).toBe('qcow2');
    expect(info.virtualSize).toBe(16 * 1024 ** 2);
    expect(info.chain.map((l) => [l.filename, l.format])).toEqual([[p('overlay.qcow2'), 'qcow2'], [p('base.qcow2'), 'qcow2']]);
    // an overlay is never accepted as an upload
    await expect(qi().inspectUntrusted(p('overlay.qcow2'))).rejects.toBeInstanceOf(ImageRefusedError);
    // map shows depth 1 (unallocated in the overlay) until written; commit works
    const map = await qi().map(p('overlay.qcow2'), { format: 'qcow2' });
    expect(map.length).toBeGreaterThan(0);
    expect(map.every((m) => m.depth >= 0 && m.length > 0)).toBe(true);
    await qi().commit(p('overlay.qcow2'), { format: 'qcow2' });
  });

  it('refuses a qcow2 whose backing file points at /etc/shadow, before converting it', async () => {
    await real.exec('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', '/etc/shadow', '-F', 'raw', p('evil.qcow2'), '1M']);
    const spy = new SpyRunner();
    const err = await qi(spy).convert(p('evil.qcow2'), p('evil-out.qcow2'), { outputFormat: 'qcow2' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageRefusedError);
    expect((err as ImageRefusedError).code).toBe('image_refused');
    expect((err as Error).message).toMatch(/backing file/);
    expect(spy.calls.some((c) => c.includes('convert'))).toBe(false);
    // and one without a recorded backing format (QEMU would probe it) is refused just the same
    await real.exec('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/shadow', '-F', 'raw', p('evil2.qcow2'), '1M']);
    await expect(qi().inspectUntrusted(p('evil2.qcow2'))).rejects.toThrow(/backing file/);
  });

  it('refuses a qcow2 with an external data file', async () => {
    writeFileSync(path.join(outside, 'data.raw'), Buffer.alloc(1024 * 1024));
    await real.exec('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${path.join(outside, 'data.raw')}`, p('datafile.qcow2'), '1M']);
    await expect(qi().inspectUntrusted(p('datafile.qcow2'))).rejects.toThrow(/external data file/);
  });

  it('refuses a VMDK descriptor naming a host path, even uploaded under an innocent name', async () => {
    writeFileSync(p('upload.img'), '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\nRW 2048 FLAT "/etc/shadow" 0\n');
    await expect(qi().inspectUntrusted(p('upload.img'))).rejects.toThrow(/VMDK image refers to other files/);
    // a monolithic sparse VMDK is self-contained and converts to qcow2 with -f vmdk given explicitly
    await real.exec('qemu-img', ['create', '-q', '-f', 'vmdk', p('ok.vmdk'), '2M']);
    const spy = new SpyRunner();
    const r = await qi(spy).convert(p('ok.vmdk'), p('ok-out.qcow2'), { outputFormat: 'qcow2' });
    expect(r.sourceFormat).toBe('vmdk');
    const conv = spy.calls.find((c) => c.includes('convert'))!;
    expect(conv).toEqual(['qemu-img', 'convert', '-q', '-f', 'vmdk', '-O', 'qcow2', p('ok.vmdk'), p('ok-out.qcow2')]);
    expect((await qi().info(p('ok-out.qcow2'))).format).toBe('qcow2');
  });

  it('refuses encrypted (LUKS) images and formats outside the allow-list', async () => {
    await createLuks(['-f', 'luks', '-o', 'key-secret=s0,iter-time=10', p('enc.img'), '1M']);
    await expect(qi().inspectUntrusted(p('enc.img'))).rejects.toThrow(/format 'luks' is not accepted/);
    await createLuks(['-f', 'qcow2', '-o', 'encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10', p('encq.qcow2'), '1M']);
    await expect(qi().inspectUntrusted(p('encq.qcow2'))).rejects.toThrow(/Encrypted/);
  });

  it('resizes, checks (JSON) and manages internal snapshots', async () => {
    await qi().create(p('snap.qcow2'), { sizeBytes: 1024 ** 2 });
    await qi().resize(p('snap.qcow2'), 3 * 1024 ** 2, { format: 'qcow2' });
    expect((await qi().info(p('snap.qcow2'))).virtualSize).toBe(3 * 1024 ** 2);
    const c = await qi().check(p('snap.qcow2'));
    expect(c).toMatchObject({ ok: true, corruptions: 0, leaks: 0 });
    await qi().snapshot(p('snap.qcow2'), 'create', 'before-upgrade');
    expect((await qi().listSnapshots(p('snap.qcow2'))).map((s) => s.name)).toEqual(['before-upgrade']);
    await qi().snapshot(p('snap.qcow2'), 'apply', 'before-upgrade');
    await qi().snapshot(p('snap.qcow2'), 'delete', 'before-upgrade');
    expect(await qi().listSnapshots(p('snap.qcow2'))).toEqual([]);
    // raw conversion
    await qi().convert(p('snap.qcow2'), p('snap.raw'), { outputFormat: 'raw', sourceFormat: 'qcow2' });
    expect((await qi().info(p('snap.raw'))).format).toBe('raw');
  });

  it('reports a failed command as ExecError with argv and stderr', async () => {
    const err = await qi().info(p('missing.qcow2')).catch((e: unknown) => e);
    expect((err as Error).name).toBe('ExecError');
    expect((err as { argv: string[] }).argv[0]).toBe('qemu-img');
    expect((err as { stderr: string }).stderr).toMatch(/No such file/);
  });
});

describe('qemu-img argument validation: refused before any process is spawned', () => {
  const hostile = [
    'relative.qcow2',
    '/etc/shadow',
    `../etc/shadow`,
    'json:{"file.filename":"/etc/shadow"}',
    'nbd://127.0.0.1/x',
    'file:/etc/shadow',
  ];
  const inside = (s: string) => [`ROOT/${s}`];
  const variants = (name: string) => [
    ...hostile,
    ...inside('../../etc/shadow'),
    ...inside('a/../../../etc/passwd'),
    ...inside('-f'),
    ...inside('x;rm -rf /'),
    ...inside('$(id)'),
    ...inside('a\nb'),
    ...inside('a\0b'),
    ...inside('dis\u0441.qcow2'), // Cyrillic es
    ...inside('a,b'), // option separator in -o / image-opts
    ...inside('a:b'),
    ...inside('x//y'),
    `ROOT`,
    `ROOT/`,
    `ROOT/${'a'.repeat(10)}/`,
    name,
  ];

  it.each(variants('ROOTX/escape.qcow2'))('refuses path %j', async (raw) => {
    const file = raw.replace(/^ROOT/, root);
    const spy = new SpyRunner(true);
    const q = qi(spy);
    await expect(q.info(file)).rejects.toThrow();
    await expect(q.inspectUntrusted(file)).rejects.toThrow();
    await expect(q.create(file, { sizeBytes: 1024 })).rejects.toThrow();
    await expect(q.create(p('ok.qcow2'), { backing: { file, format: 'raw' } })).rejects.toThrow();
    await expect(q.convert(p('ok.qcow2'), file, { outputFormat: 'qcow2', sourceFormat: 'qcow2' })).rejects.toThrow();
    await expect(q.resize(file, 1024, { format: 'qcow2' })).rejects.toThrow();
    await expect(q.snapshot(file, 'create', 'x')).rejects.toThrow();
    expect(spy.calls).toEqual([]);
  });

  it('refuses a symlink under the root that leads outside it', async () => {
    mkdirSync(p('links'), { recursive: true });
    symlinkSync('/etc', p('links/etc'));
    symlinkSync('/etc/shadow', p('links/shadow.qcow2'));
    const spy = new SpyRunner(true);
    await expect(qi(spy).info(p('links/shadow.qcow2'))).rejects.toThrow(/outside the image root/);
    await expect(qi(spy).create(p('links/etc/new.qcow2'), { sizeBytes: 1024 })).rejects.toThrow(/outside the image root/);
    expect(spy.calls).toEqual([]);
  });

  it.each(['-d', '', 'a b', 'x;y', '$(id)', 'a\nb', 'a'.repeat(65), '.hidden', '\u0430bc'])('refuses snapshot name %j', async (name) => {
    const spy = new SpyRunner(true);
    await expect(qi(spy).snapshot(p('s.qcow2'), 'create', name)).rejects.toThrow(/Snapshot name/);
    expect(spy.calls).toEqual([]);
  });

  it('refuses bad formats and sizes', async () => {
    const spy = new SpyRunner(true);
    const q = qi(spy);
    await expect(q.resize(p('a.qcow2'), -1, { format: 'qcow2' })).rejects.toThrow(/out of range/);
    await expect(q.resize(p('a.qcow2'), 1.5, { format: 'qcow2' })).rejects.toThrow(/out of range/);
    await expect(q.create(p('a.qcow2'), { sizeBytes: 2 ** 60 })).rejects.toThrow(/out of range/);
    await expect(q.create(p('a.qcow2'), {})).rejects.toThrow(/needs a size/);
    await expect(q.create(p('a.qcow2'), { backing: { file: p('b'), format: 'vvfat' as 'raw' } })).rejects.toThrow(/Unknown image format/);
    await expect(q.convert(p('a'), p('b'), { outputFormat: 'vmdk' as 'raw', sourceFormat: 'raw' })).rejects.toThrow(/qcow2 or raw/);
    await expect(q.convert(p('a'), p('a'), { outputFormat: 'raw', sourceFormat: 'raw' })).rejects.toThrow(/differ/);
    expect(spy.calls).toEqual([]);
    expect(() => new QemuImg(real, { root: '/' })).toThrow();
    expect(() => new QemuImg(real, { root: 'rel' })).toThrow();
  });

  it('assertPathUnder accepts normal paths', () => {
    expect(assertPathUnder('/var/lib/slipway/images', '/var/lib/slipway/images/u1/disk-1.qcow2')).toBe('/var/lib/slipway/images/u1/disk-1.qcow2');
    expect(() => assertPathUnder('/var/lib/slipway/images', '/var/lib/slipway/images-evil/x')).toThrow(/outside/);
  });

  it('parseInfo reads a json: backing name and refuses it', () => {
    const info = parseInfo(JSON.stringify({ filename: '/r/x', format: 'qcow2', 'virtual-size': 1, 'backing-filename': 'json:{"driver":"file","filename":"/etc/shadow"}' }));
    expect(info.backingFile).toMatch(/^json:/);
  });
});
