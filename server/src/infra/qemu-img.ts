import { realpathSync } from 'node:fs';
import path from 'node:path';
import { DomainRuleError, ValidationError } from '../platform/errors.js';
import type { ExecOptions, ProcessRunner } from './process-runner.js';

/**
 * `qemu-img` (QEMU 7.2, Debian's qemu-utils) driven through a host's process runner: argv arrays only,
 * every file argument an absolute path under the adapter's root, every format given explicitly with
 * `-f`/`-F` once it has been detected from the file's contents (never from its name).
 *
 * Untrusted images (uploads, anything a tenant could have written) go through `inspectUntrusted`
 * first: it probes the format under resource limits and refuses anything that would make QEMU open
 * another file (a backing file, a qcow2 external data file, VMDK extents naming other paths,
 * `json:`/protocol filenames) or that is encrypted. Output formats: `qemu-img info --output=json`,
 * `check --output=json` and `map --output=json` as documented in qemu-img(1) and
 * qapi/block-core.json (ImageInfo, ImageCheck, MapEntry).
 */

export type ImageFormat = 'raw' | 'qcow2' | 'vmdk' | 'vdi' | 'vhdx' | 'vpc' | 'qed';
/** Formats accepted from untrusted input (all of them are read, and converted to qcow2/raw). */
export const UNTRUSTED_INPUT_FORMATS: readonly ImageFormat[] = ['raw', 'qcow2', 'vmdk', 'vdi', 'vhdx', 'vpc'];
const KNOWN_FORMATS: readonly string[] = ['raw', 'qcow2', 'vmdk', 'vdi', 'vhdx', 'vpc', 'qed'];

export interface ImageSnapshot {
  id: string;
  name: string;
  /** epoch ms */
  createdAt: number;
  vmStateSize: number;
}

export interface ImageLayer {
  filename: string;
  format: string;
  virtualSize: number;
  actualSize: number | null;
  backingFile: string | null;
  /** As recorded in the image (may be absent: then QEMU would probe, which we never allow). */
  backingFormat: string | null;
  /** qcow2 external data file, when the image has one. */
  dataFile: string | null;
  /** VMDK extent file names (for a monolithic sparse VMDK: the image itself). */
  extents: string[];
  encrypted: boolean;
  dirty: boolean;
  snapshots: ImageSnapshot[];
  clusterSize: number | null;
}

export interface ImageInfo extends ImageLayer {
  /** The image first, then each backing file down to the base (only when asked for the chain). */
  chain: ImageLayer[];
}

export interface ImageCheck {
  /** true when there are no corruptions (leaks alone are harmless wasted space). */
  ok: boolean;
  corruptions: number;
  leaks: number;
  checkErrors: number;
  imageEndOffset: number | null;
}

export interface MapEntry {
  start: number;
  length: number;
  depth: number;
  present: boolean;
  zero: boolean;
  data: boolean;
  offset: number | null;
}

/** The image would make QEMU read something other than itself, or is not a disk we accept. */
export class ImageRefusedError extends DomainRuleError {
  constructor(message: string, details?: unknown) {
    super(message, 'image_refused', details);
  }
}

const SAFE_PATH = /^\/[A-Za-z0-9._/-]*$/;
const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_SIZE = 64 * 1024 ** 4; // 64 TiB: far above any plan, low enough to be a typo guard

/** A file argument: absolute, normalised, of safe characters, inside `root` (never root itself). */
export function assertPathUnder(root: string, file: string): string {
  if (typeof file !== 'string' || !SAFE_PATH.test(file) || file.includes('//')) {
    throw new ValidationError(`Image path ${JSON.stringify(file)} must be an absolute path of letters, digits, '.', '_', '-' and '/'`);
  }
  if (path.posix.normalize(file) !== file || file.endsWith('/')) throw new ValidationError(`Image path ${JSON.stringify(file)} is not normalised`);
  if (file.split('/').some((seg) => seg.startsWith('-'))) throw new ValidationError(`Image path ${JSON.stringify(file)} has a segment starting with '-'`);
  const r = root.replace(/\/+$/, '');
  if (!file.startsWith(`${r}/`)) throw new ValidationError(`Image path ${JSON.stringify(file)} is outside the image root`);
  return file;
}

function int(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function toLayer(j: Record<string, unknown>): ImageLayer {
  const spec = (j['format-specific'] as { type?: string; data?: Record<string, unknown> } | undefined) ?? {};
  const data = spec.data ?? {};
  const extents = Array.isArray(data['extents']) ? (data['extents'] as { filename?: unknown }[]).map((e) => String(e.filename ?? '')) : [];
  const snaps = Array.isArray(j['snapshots']) ? (j['snapshots'] as Record<string, unknown>[]) : [];
  return {
    filename: String(j['filename'] ?? ''),
    format: String(j['format'] ?? ''),
    virtualSize: int(j['virtual-size']) ?? 0,
    actualSize: int(j['actual-size']),
    backingFile: typeof j['backing-filename'] === 'string' ? (j['backing-filename'] as string) : typeof j['full-backing-filename'] === 'string' ? (j['full-backing-filename'] as string) : null,
    backingFormat: typeof j['backing-filename-format'] === 'string' ? (j['backing-filename-format'] as string) : null,
    dataFile: typeof data['data-file'] === 'string' ? (data['data-file'] as string) : null,
    extents,
    encrypted: j['encrypted'] === true || (typeof data['encrypt'] === 'object' && data['encrypt'] !== null),
    dirty: j['dirty-flag'] === true,
    snapshots: snaps.map((s) => ({
      id: String(s['id'] ?? ''),
      name: String(s['name'] ?? ''),
      createdAt: (int(s['date-sec']) ?? 0) * 1000 + Math.floor((int(s['date-nsec']) ?? 0) / 1e6),
      vmStateSize: int(s['vm-state-size']) ?? 0,
    })),
    clusterSize: int(j['cluster-size']),
  };
}

/** Parses `qemu-img info --output=json` (one object, or an array with `--backing-chain`). */
export function parseInfo(stdout: string): ImageInfo {
  const parsed = JSON.parse(stdout) as unknown;
  const docs = (Array.isArray(parsed) ? parsed : [parsed]) as Record<string, unknown>[];
  if (!docs.length || typeof docs[0] !== 'object' || docs[0] === null) throw new Error('qemu-img info printed no image');
  const chain = docs.map(toLayer);
  return { ...chain[0]!, chain };
}

/**
 * Refuses an image that is not self-contained: it must be a known format, unencrypted, with no
 * backing file, no external data file, and (VMDK) no extent other than the image itself.
 */
export function assertSelfContained(info: ImageInfo, opts: { formats?: readonly string[] } = {}): void {
  const formats = opts.formats ?? UNTRUSTED_INPUT_FORMATS;
  const name = info.filename;
  const hasProtocol = (s: string) => /^[A-Za-z0-9+.-]*:/.test(s) || s.startsWith('json:');
  if (hasProtocol(name)) throw new ImageRefusedError('Image file names with a protocol prefix (json:, nbd: …) are not accepted');
  if (!formats.includes(info.format)) {
    throw new ImageRefusedError(`Image format '${info.format}' is not accepted (accepted: ${formats.join(', ')})`, { format: info.format });
  }
  if (info.backingFile !== null) {
    throw new ImageRefusedError('Image has a backing file; upload a self-contained image (e.g. qemu-img convert -O qcow2 it first)', { format: info.format });
  }
  if (info.dataFile !== null) throw new ImageRefusedError('Image uses an external data file; upload a self-contained image', { format: info.format });
  if (info.encrypted) throw new ImageRefusedError('Encrypted images are not accepted', { format: info.format });
  if (info.format === 'vmdk') {
    const own = path.posix.basename(name);
    const foreign = info.extents.filter((e) => e !== name && e !== own);
    if (!info.extents.length || foreign.length) {
      throw new ImageRefusedError('VMDK image refers to other files (a descriptor with external extents); upload a monolithic VMDK or qcow2', { format: 'vmdk' });
    }
  }
  if (info.chain.length > 1) throw new ImageRefusedError('Image has a backing chain', { depth: info.chain.length });
}

function assertFormat(f: string): asserts f is ImageFormat {
  if (!KNOWN_FORMATS.includes(f)) throw new ValidationError(`Unknown image format ${JSON.stringify(f)}`);
}

function assertSize(bytes: number): void {
  if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes > MAX_SIZE) throw new ValidationError(`Image size ${bytes} is out of range`);
}

export function assertSnapshotName(name: string): void {
  if (typeof name !== 'string' || !SNAPSHOT_NAME.test(name)) {
    throw new ValidationError(`Snapshot name ${JSON.stringify(name)} must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
}

export interface QemuImgOptions {
  /** Every file argument must lie under this directory (on the runner's host). */
  root: string;
  /** Limits for probing untrusted images (qemu-img(1): "use ulimit on untrusted images"). */
  untrustedMemoryBytes?: number;
  untrustedCpuSeconds?: number;
  timeoutMs?: number;
}

export class QemuImg {
  private readonly root: string;
  constructor(private readonly run: ProcessRunner, private readonly opts: QemuImgOptions) {
    if (!path.posix.isAbsolute(opts.root) || path.posix.normalize(opts.root) !== opts.root.replace(/\/+$/, '') || opts.root === '/') {
      throw new TypeError(`qemu-img root ${JSON.stringify(opts.root)} must be an absolute, normalised directory other than /`);
    }
    this.root = opts.root.replace(/\/+$/, '');
  }

  /** Validates the path, and on the local host also that no symlink leads it outside the root. */
  path(file: string): string {
    assertPathUnder(this.root, file);
    if (this.run.host === 'local') {
      let real: string | null = null;
      try {
        real = realpathSync(file);
      } catch {
        try {
          real = path.join(realpathSync(path.dirname(file)), path.basename(file));
        } catch {
          real = null; // neither it nor its directory exists yet: qemu-img will say so
        }
      }
      let realRoot = this.root;
      try {
        realRoot = realpathSync(this.root);
      } catch {
        /* root missing: the lexical check above stands */
      }
      if (real !== null && !real.startsWith(`${realRoot}/`)) throw new ValidationError(`Image path ${JSON.stringify(file)} leads outside the image root`);
    }
    return file;
  }

  private exec(args: string[], o: ExecOptions = {}) {
    return this.run.exec('qemu-img', args, { timeoutMs: this.opts.timeoutMs ?? 120_000, ...o });
  }

  /**
   * `qemu-img info --output=json`. Without `format` QEMU probes the contents (the name is never
   * consulted). `backingChain` opens and reports every backing file: use it on trusted images only.
   */
  async info(file: string, o: { format?: ImageFormat; backingChain?: boolean } = {}): Promise<ImageInfo> {
    const f = this.path(file);
    if (o.format) assertFormat(o.format);
    const args = ['info', '--output=json', ...(o.format ? ['-f', o.format] : []), ...(o.backingChain ? ['--backing-chain'] : []), '-U', f];
    return parseInfo((await this.exec(args, { timeoutMs: 30_000 })).stdout);
  }

  /**
   * Probes an untrusted image under memory/CPU limits (prlimit) and refuses anything that is not
   * self-contained. Returns the detected format and virtual size to pass on explicitly.
   */
  async inspectUntrusted(file: string, o: { formats?: readonly string[] } = {}): Promise<ImageInfo> {
    const f = this.path(file);
    const mem = this.opts.untrustedMemoryBytes ?? 1024 ** 3;
    const cpu = this.opts.untrustedCpuSeconds ?? 30;
    const r = await this.run.exec('prlimit', [`--as=${mem}`, `--cpu=${cpu}`, '--', 'qemu-img', 'info', '--output=json', '-U', f], { timeoutMs: 60_000 });
    const info = parseInfo(r.stdout);
    assertSelfContained(info, o);
    return info;
  }

  /** A new qcow2 image; with `backing`, a copy-on-write overlay on it (format always explicit). */
  async create(file: string, o: { sizeBytes?: number; backing?: { file: string; format: ImageFormat }; clusterSize?: number } = {}): Promise<void> {
    const f = this.path(file);
    const args = ['create', '-q', '-f', 'qcow2'];
    if (o.backing) {
      assertFormat(o.backing.format);
      args.push('-b', this.path(o.backing.file), '-F', o.backing.format);
    }
    if (o.clusterSize !== undefined) {
      if (![4096, 65536, 2097152].includes(o.clusterSize)) throw new ValidationError('cluster size must be 4096, 65536 or 2097152');
      args.push('-o', `cluster_size=${o.clusterSize}`);
    }
    args.push(f);
    if (o.sizeBytes !== undefined) {
      assertSize(o.sizeBytes);
      args.push(String(o.sizeBytes));
    } else if (!o.backing) throw new ValidationError('A new image without a backing file needs a size');
    await this.exec(args);
  }

  /**
   * Converts to qcow2 or raw. The source format is given explicitly: when not passed, the source is
   * inspected as untrusted first (and refused unless self-contained).
   */
  async convert(src: string, dst: string, o: { outputFormat: 'qcow2' | 'raw'; sourceFormat?: ImageFormat; signal?: AbortSignal; compress?: boolean }): Promise<{ sourceFormat: ImageFormat }> {
    const s = this.path(src);
    const d = this.path(dst);
    if (s === d) throw new ValidationError('Source and destination must differ');
    if (o.outputFormat !== 'qcow2' && o.outputFormat !== 'raw') throw new ValidationError('Output format must be qcow2 or raw');
    let fmt = o.sourceFormat;
    if (!fmt) {
      const info = await this.inspectUntrusted(s);
      fmt = info.format as ImageFormat;
    }
    assertFormat(fmt);
    const args = ['convert', '-q', '-f', fmt, '-O', o.outputFormat];
    if (o.compress && o.outputFormat === 'qcow2') args.push('-c');
    args.push(s, d);
    await this.exec(args, { timeoutMs: 60 * 60_000, signal: o.signal });
    return { sourceFormat: fmt };
  }

  /**
   * `qemu-img measure --output=json`: the bytes a conversion to `outputFormat` needs (`required`)
   * and would need fully allocated. The source format is explicit (detected before, never guessed).
   */
  async measure(file: string, o: { format: ImageFormat; outputFormat: 'qcow2' | 'raw' }): Promise<{ required: number; fullyAllocated: number }> {
    const f = this.path(file);
    assertFormat(o.format);
    if (o.outputFormat !== 'qcow2' && o.outputFormat !== 'raw') throw new ValidationError('Output format must be qcow2 or raw');
    const r = await this.exec(['measure', '--output=json', '-f', o.format, '-O', o.outputFormat, f], { timeoutMs: 120_000 });
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    return { required: int(j['required']) ?? 0, fullyAllocated: int(j['fully-allocated']) ?? 0 };
  }

  /** Grows (or with `shrink`, shrinks) to an absolute size in bytes. */
  async resize(file: string, sizeBytes: number, o: { format: ImageFormat; shrink?: boolean }): Promise<void> {
    const f = this.path(file);
    assertFormat(o.format);
    assertSize(sizeBytes);
    await this.exec(['resize', '-q', '-f', o.format, ...(o.shrink ? ['--shrink'] : []), f, String(sizeBytes)]);
  }

  /** `qemu-img check --output=json`: exit 2 = corruptions, 3 = leaks (both still report JSON). */
  async check(file: string, o: { format: 'qcow2' | 'qed' | 'vdi' | 'vhdx' | 'vmdk' | 'vpc' } = { format: 'qcow2' }): Promise<ImageCheck> {
    const f = this.path(file);
    assertFormat(o.format);
    const r = await this.exec(['check', '--output=json', '-f', o.format, f], { okExitCodes: [0, 2, 3] });
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    const corruptions = int(j['corruptions']) ?? 0;
    return {
      ok: corruptions === 0 && r.exitCode !== 2,
      corruptions,
      leaks: int(j['leaks']) ?? 0,
      checkErrors: int(j['check-errors']) ?? 0,
      imageEndOffset: int(j['image-end-offset']),
    };
  }

  /** `qemu-img map --output=json`: which ranges are allocated and at which depth of the chain. */
  async map(file: string, o: { format: ImageFormat }): Promise<MapEntry[]> {
    const f = this.path(file);
    assertFormat(o.format);
    const r = await this.exec(['map', '--output=json', '-f', o.format, f]);
    return (JSON.parse(r.stdout) as Record<string, unknown>[]).map((e) => ({
      start: int(e['start']) ?? 0,
      length: int(e['length']) ?? 0,
      depth: int(e['depth']) ?? 0,
      present: e['present'] !== false,
      zero: e['zero'] === true,
      data: e['data'] === true,
      offset: int(e['offset']),
    }));
  }

  /** Writes an overlay's changes into its backing file (the overlay's format is explicit). */
  async commit(file: string, o: { format: ImageFormat; drop?: boolean }): Promise<void> {
    const f = this.path(file);
    assertFormat(o.format);
    await this.exec(['commit', '-q', '-f', o.format, ...(o.drop ? ['-d'] : []), f], { timeoutMs: 60 * 60_000 });
  }

  /** Internal qcow2 snapshots: create (-c), apply (-a), delete (-d), list (from info JSON). */
  async snapshot(file: string, action: 'create' | 'apply' | 'delete', name: string): Promise<void> {
    const f = this.path(file);
    assertSnapshotName(name);
    const flag = action === 'create' ? '-c' : action === 'apply' ? '-a' : action === 'delete' ? '-d' : null;
    if (!flag) throw new ValidationError(`Unknown snapshot action ${JSON.stringify(action)}`);
    // `qemu-img snapshot` has no -f: the format is fixed with --image-opts (paths never hold ',').
    await this.exec(['snapshot', '-q', '--image-opts', flag, name, `driver=qcow2,file.driver=file,file.filename=${f}`]);
  }

  /** `snapshot -l` prints a table only; the same list comes as JSON from `info`. */
  async listSnapshots(file: string): Promise<ImageSnapshot[]> {
    return (await this.info(file, { format: 'qcow2' })).snapshots;
  }
}
