import { assertPathUnder, ExecError, type ImageFormat, type ProcessRunner, type QemuImg } from '../../../server/src/sdk.js';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { open, readFile, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type MachineName, parseMachineName } from './netboot.schema.js';

/**
 * Per-machine writebacks: a qcow2 overlay on the image version the machine boots, exported as a
 * raw file through FUSE by one `qemu-storage-daemon` (QEMU 7.2, Debian's qemu-system-common) per
 * machine, so tgt can serve it as the machine's LUN. All in user space (ENGINES.md): no nbd, no loop.
 *
 * The daemon is started with `--daemonize` (the parent exits once the export is mounted),
 * `--pidfile` and a QMP monitor socket, all named after the machine: the overlay, export and
 * pidfile under `dir`, the socket in a short private directory (`qmpDir`: a unix socket path is at
 * most 107 bytes, and `dir` may be long) named by a hash of `dir`, so the same one is found again.
 * After a panel restart `list()` finds every daemon from the pidfiles and `/proc`, and `stop()`
 * quits it over QMP (or with signals when the socket is gone).
 *
 * The base is opened explicitly read-only (its own blockdev, `read-only: true`, and for qcow2
 * `backing: null`), and the overlay's backing is that node: nothing recorded in an image header
 * decides which file is opened, and nothing the guest writes can reach the base.
 * Block options are passed as JSON (qemu-storage-daemon accepts `--blockdev {…}`/`--export {…}`),
 * so no value needs QemuOpts comma escaping; the chardev path is a validated safe path.
 */

export interface WritebackFiles {
  overlay: string;
  export: string;
  qmp: string;
  pid: string;
}

export interface RunningExport {
  name: MachineName;
  files: WritebackFiles;
  /** The daemon's pid when it is alive (its /proc cmdline names our export). */
  pid: number | null;
  /** The FUSE mount is present on the export file. */
  mounted: boolean;
}

export interface WritebackOptions {
  /** Directory of overlays, exports and pidfiles; must lie under the qemu-img root. */
  dir: string;
  /**
   * Parent of the private (0700) directory of QMP sockets, `<runtimeDir>/slw-qmp-<hash of uid and dir>`.
   * Defaults to `os.tmpdir()` (or `/tmp` when that is too long for a socket path).
   */
  runtimeDir?: string;
  qemuImg: QemuImg;
  /** How long stop() waits for the daemon to exit before SIGTERM, then SIGKILL. */
  stopTimeoutMs?: number;
}

export class WritebackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WritebackError';
  }
}

const UNIX_PATH_MAX = 107;
const MAX_SOCKET_NAME = `${'x'.repeat(63)}.qmp`; // the longest machine name

/** The QMP socket directory of a writeback dir: short, stable across restarts, one per user and dir. */
export function qmpDirFor(dir: string, runtimeDir?: string): string {
  const hash = createHash('sha256').update(`${process.getuid?.() ?? 0}:${path.resolve(dir)}`).digest('hex').slice(0, 12);
  const fits = (parent: string) => `${parent}/slw-qmp-${hash}/${MAX_SOCKET_NAME}`.length <= UNIX_PATH_MAX;
  const parent = (runtimeDir ?? tmpdir()).replace(/\/+$/, '');
  if (fits(parent)) return `${parent}/slw-qmp-${hash}`;
  if (runtimeDir === undefined && fits('/tmp')) return `/tmp/slw-qmp-${hash}`;
  throw new TypeError(`runtime dir ${parent} is too long for a QMP socket path`);
}

/** Reads /proc/self/mountinfo: the mount points of FUSE file systems (octal escapes decoded). */
export function fuseMounts(mountinfo: string): string[] {
  const out: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fstype = right.split(' ')[0] ?? '';
    if (fstype !== 'fuse' && !fstype.startsWith('fuse.')) continue;
    const mp = left.split(' ')[4];
    if (mp) out.push(mp.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

function processCmdline(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/^\d+ \(.*\) Z/.test(stat)) return null; // a zombie holds no mount
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return null;
  }
}

/** A minimal QMP client: greeting, qmp_capabilities, one command; events are skipped. */
export async function qmpCommand(socket: string, command: string, args?: Record<string, unknown>, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let buf = '';
    let stage = 0; // 0 greeting, 1 capabilities sent, 2 command sent
    const timer = setTimeout(() => {
      s.destroy();
      reject(new WritebackError(`QMP ${command} timed out`));
    }, timeoutMs);
    const done = (err: Error | null, v?: unknown) => {
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve(v);
    };
    s.setEncoding('utf8');
    s.on('error', (e: NodeJS.ErrnoException) => {
      // `quit` closes the socket, sometimes before its reply is read
      if (stage === 2 && command === 'quit' && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) done(null, {});
      else done(new WritebackError(`QMP ${command}: ${e.message}`));
    });
    s.on('close', () => {
      if (stage === 2 && command === 'quit') done(null, {});
      else done(new WritebackError(`QMP ${command}: connection closed`));
    });
    s.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return done(new WritebackError('QMP: malformed reply'));
        }
        if ('event' in msg) continue;
        if (stage === 0 && 'QMP' in msg) {
          stage = 1;
          s.write(`${JSON.stringify({ execute: 'qmp_capabilities' })}\n`);
        } else if (stage === 1 && 'return' in msg) {
          stage = 2;
          s.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
        } else if (stage === 2 && 'return' in msg) {
          return done(null, msg['return']);
        } else if ('error' in msg) {
          const err = msg['error'] as { desc?: string };
          return done(new WritebackError(`QMP ${command}: ${err.desc ?? 'error'}`));
        }
      }
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Writebacks {
  private readonly dir: string;
  /** Where the QMP sockets live (see `qmpDirFor`). */
  readonly qmpDir: string;

  constructor(private readonly run: ProcessRunner, private readonly opts: WritebackOptions) {
    if (run.host !== 'local') throw new TypeError('writebacks run on the panel host (FUSE, QMP socket and /proc are local)');
    this.dir = opts.dir.replace(/\/+$/, '');
    // the directory itself must be a path the qemu-img adapter accepts
    opts.qemuImg.path(`${this.dir}/x`);
    this.qmpDir = qmpDirFor(this.dir, opts.runtimeDir);
  }

  files(name: MachineName): WritebackFiles {
    const n = parseMachineName(name);
    const base = `${this.dir}/${n}`;
    return { overlay: `${base}.qcow2`, export: `${base}.export`, qmp: `${this.qmpDir}/${n}.qmp`, pid: `${base}.pid` };
  }

  /**
   * Creates the QMP socket directory (0700) or checks the one found: a real directory (not a
   * symlink) owned by this user and closed to everyone else; anything else is refused.
   */
  private ensureQmpDir(): void {
    try {
      mkdirSync(this.qmpDir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const st = lstatSync(this.qmpDir);
    const uid = process.getuid?.();
    if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) {
      throw new WritebackError(`${this.qmpDir} is not a directory of this user: refusing to place QMP sockets there`);
    }
    if ((st.mode & 0o077) !== 0) chmodSync(this.qmpDir, 0o700);
  }

  /** A fresh, empty overlay on the base (replacing any previous writeback of this machine). */
  async createOverlay(name: MachineName, base: { file: string; format: ImageFormat }): Promise<string> {
    const f = this.files(name);
    if (await this.isRunning(name)) throw new WritebackError(`the writeback of ${name} is exported; stop it first`);
    await rm(f.overlay, { force: true });
    await this.opts.qemuImg.create(f.overlay, { backing: base });
    return f.overlay;
  }

  async hasOverlay(name: MachineName): Promise<boolean> {
    return existsSync(this.files(name).overlay);
  }

  /** Allocated bytes of the overlay on disk (what the machine has written), or null without one. */
  async overlaySize(name: MachineName): Promise<number | null> {
    try {
      const s = await stat(this.files(name).overlay);
      return s.blocks * 512;
    } catch {
      return null;
    }
  }

  /** Throws the writeback away. Refused while it is exported. */
  async discardOverlay(name: MachineName): Promise<boolean> {
    const f = this.files(name);
    if (await this.isRunning(name)) throw new WritebackError(`the writeback of ${name} is exported; stop it first`);
    const had = existsSync(f.overlay);
    await rm(f.overlay, { force: true });
    return had;
  }

  /**
   * Flattens base + writeback into a new, self-contained qcow2 image (a new image version). Neither
   * the base nor the overlay is changed. The export must be stopped (qemu-img needs the write lock).
   */
  async commitTo(name: MachineName, destination: string): Promise<void> {
    const f = this.files(name);
    if (await this.isRunning(name)) throw new WritebackError(`the writeback of ${name} is exported; stop it first`);
    if (!existsSync(f.overlay)) throw new WritebackError(`${name} has no writeback`);
    await this.opts.qemuImg.convert(f.overlay, destination, { outputFormat: 'qcow2', sourceFormat: 'qcow2' });
  }

  /**
   * Like `commitTo`, while the machine is running: the daemon copies what its disk holds now
   * (base + writeback, one point in time, as after a power cut) into a new self-contained qcow2
   * with a QMP `blockdev-backup` (sync=full) job; the export goes on serving. Nothing is changed in
   * the base or the overlay. Only for a running export (`isRunning`).
   */
  async backupTo(name: MachineName, destination: string, o: { virtualSize: number; timeoutMs?: number; signal?: AbortSignal }): Promise<void> {
    const f = this.files(name);
    const dst = this.opts.qemuImg.path(destination);
    if (!(await this.isRunning(name))) throw new WritebackError(`the writeback of ${name} is not exported`);
    if (existsSync(dst)) throw new WritebackError(`${dst} already exists`);
    await this.opts.qemuImg.create(dst, { sizeBytes: o.virtualSize });
    const node = 'commit-target';
    const job = 'commit';
    try {
      await qmpCommand(f.qmp, 'blockdev-add', { driver: 'qcow2', 'node-name': node, file: { driver: 'file', filename: dst }, 'detect-zeroes': 'unmap', discard: 'unmap' });
      try {
        await qmpCommand(f.qmp, 'blockdev-backup', { 'job-id': job, device: 'overlay', target: node, sync: 'full', 'auto-dismiss': false, 'auto-finalize': true });
        const deadline = Date.now() + (o.timeoutMs ?? 60 * 60_000);
        for (;;) {
          if (o.signal?.aborted) {
            await qmpCommand(f.qmp, 'job-cancel', { id: job }).catch(() => undefined);
          }
          const jobs = (await qmpCommand(f.qmp, 'query-jobs')) as { id: string; status: string; error?: string }[];
          const j = jobs.find((x) => x.id === job);
          if (!j) throw new WritebackError('the backup job vanished');
          if (j.status === 'concluded') {
            await qmpCommand(f.qmp, 'job-dismiss', { id: job });
            if (j.error) throw new WritebackError(`backup of ${name} failed: ${j.error}`);
            if (o.signal?.aborted) throw new WritebackError('backup cancelled');
            break;
          }
          if (Date.now() > deadline) {
            await qmpCommand(f.qmp, 'job-cancel', { id: job }).catch(() => undefined);
            throw new WritebackError(`backup of ${name} timed out`);
          }
          await sleep(100);
        }
      } finally {
        await qmpCommand(f.qmp, 'blockdev-del', { 'node-name': node }).catch(() => undefined);
      }
    } catch (e) {
      await rm(dst, { force: true });
      throw e;
    }
  }

  /**
   * Starts the machine's daemon exporting its overlay (created when missing) on top of `base`.
   * Returns the export file to give tgt. Idempotent: an export already running is returned as is.
   */
  async start(name: MachineName, base: { file: string; format: ImageFormat }, o: { signal?: AbortSignal } = {}): Promise<{ exportFile: string; pid: number }> {
    const f = this.files(name);
    const baseFile = this.opts.qemuImg.path(base.file);
    if (base.format !== 'raw' && base.format !== 'qcow2') throw new WritebackError('a base image is raw or qcow2');
    this.ensureQmpDir();
    const running = (await this.list()).find((r) => r.name === name);
    if (running?.pid && running.mounted) return { exportFile: f.export, pid: running.pid };
    if (running) await this.stop(name);
    if (!existsSync(f.overlay)) await this.opts.qemuImg.create(f.overlay, { backing: { file: baseFile, format: base.format } });
    for (const p of [f.overlay, f.export, f.pid]) assertPathUnder(this.dir, p);
    assertPathUnder(this.qmpDir, f.qmp);
    await rm(f.qmp, { force: true });
    await rm(f.pid, { force: true });
    // the FUSE mount point of a file export is a regular file
    await (await open(f.export, 'a', 0o600)).close();
    const blockdevs = [
      { driver: 'file', 'node-name': 'base-file', filename: baseFile, 'read-only': true },
      base.format === 'qcow2'
        ? { driver: 'qcow2', 'node-name': 'base', file: 'base-file', 'read-only': true, backing: null }
        : { driver: 'raw', 'node-name': 'base', file: 'base-file', 'read-only': true },
      { driver: 'file', 'node-name': 'overlay-file', filename: f.overlay },
      { driver: 'qcow2', 'node-name': 'overlay', file: 'overlay-file', backing: 'base' },
    ];
    const args = [
      '--daemonize',
      '--pidfile', f.pid,
      '--chardev', `socket,id=qmp,path=${f.qmp},server=on,wait=off`,
      '--monitor', 'chardev=qmp',
      ...blockdevs.flatMap((b) => ['--blockdev', JSON.stringify(b)]),
      '--export', JSON.stringify({ type: 'fuse', id: 'export', 'node-name': 'overlay', mountpoint: f.export, writable: true, growable: false }),
    ];
    await this.run.exec('qemu-storage-daemon', args, { timeoutMs: 30_000, signal: o.signal });
    const pid = Number((await readFile(f.pid, 'utf8')).trim());
    if (!Number.isSafeInteger(pid) || pid <= 1) throw new WritebackError(`qemu-storage-daemon wrote no valid pid for ${name}`);
    return { exportFile: f.export, pid };
  }

  async isRunning(name: MachineName): Promise<boolean> {
    const r = (await this.list()).find((x) => x.name === name);
    return !!r && (r.pid !== null || r.mounted);
  }

  /**
   * Every export this adapter owns, found from its pidfiles and the FUSE mounts under `dir`
   * (a mount without a live daemon, or a daemon whose mount vanished, is listed too: reconcile
   * stops both).
   */
  async list(): Promise<RunningExport[]> {
    const mounts = new Set(fuseMounts(await readFile('/proc/self/mountinfo', 'utf8')));
    const names = new Set<MachineName>();
    let entries: string[] = [];
    try {
      entries = readdirSync(this.dir);
    } catch {
      entries = [];
    }
    for (const e of entries) {
      const m = /^(.+)\.(pid|export)$/.exec(e);
      if (!m) continue;
      try {
        names.add(parseMachineName(m[1]));
      } catch {
        /* not ours */
      }
    }
    const out: RunningExport[] = [];
    for (const name of [...names].sort()) {
      const files = this.files(name);
      const pid = this.daemonPid(files);
      const mounted = mounts.has(files.export);
      if (pid !== null || mounted) out.push({ name, files, pid, mounted });
    }
    return out;
  }

  /** The pid from the pidfile, when that process is alive and is our daemon for this export. */
  private daemonPid(files: WritebackFiles): number | null {
    let pid: number;
    try {
      pid = Number(readFileSync(files.pid, 'utf8').trim());
    } catch {
      return null;
    }
    if (!Number.isSafeInteger(pid) || pid <= 1) return null;
    const argv = processCmdline(pid);
    if (!argv || !path.basename(argv[0] ?? '').startsWith('qemu-storage-daemon')) return null;
    return argv.some((a) => a.includes(`"mountpoint":${JSON.stringify(files.export)}`)) ? pid : null;
  }

  /**
   * Stops the machine's export: QMP `quit` (the daemon flushes the overlay and unmounts), then
   * SIGTERM/SIGKILL if it lingers, then `fusermount3 -u` if a mount is left. Idempotent.
   */
  async stop(name: MachineName): Promise<{ wasRunning: boolean }> {
    const f = this.files(name);
    let pid = this.daemonPid(f);
    const mountedBefore = fuseMounts(await readFile('/proc/self/mountinfo', 'utf8')).includes(f.export);
    const wasRunning = pid !== null || mountedBefore;
    if (pid !== null) {
      try {
        await qmpCommand(f.qmp, 'quit');
      } catch {
        /* fall through to signals */
      }
      const deadline = Date.now() + (this.opts.stopTimeoutMs ?? 10_000);
      while ((pid = this.daemonPid(f)) !== null && Date.now() < deadline) await sleep(50);
      if (pid !== null) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* gone */
        }
        const d2 = Date.now() + 3000;
        while (this.daemonPid(f) !== null && Date.now() < d2) await sleep(50);
        const still = this.daemonPid(f);
        if (still !== null) {
          try {
            process.kill(still, 'SIGKILL');
          } catch {
            /* gone */
          }
          await sleep(100);
        }
      }
    }
    if (fuseMounts(await readFile('/proc/self/mountinfo', 'utf8')).includes(f.export)) {
      try {
        await this.run.exec('fusermount3', ['-u', '-z', '--', f.export], { timeoutMs: 15_000 });
      } catch (e) {
        if (!(e instanceof ExecError)) throw e;
        if (fuseMounts(await readFile('/proc/self/mountinfo', 'utf8')).includes(f.export)) throw e;
      }
    }
    await rm(f.qmp, { force: true });
    await rm(f.pid, { force: true });
    try {
      if (statSync(f.export).isFile()) await rm(f.export, { force: true });
    } catch {
      /* absent */
    }
    return { wasRunning };
  }
}
