import { constants, watch, type FSWatcher } from 'node:fs';
import { lstat, open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ExecError } from '../../infra/exec-error.js';
import type { ProcessRunner, StreamHandle } from '../../infra/process-runner.js';
import { DomainRuleError, NotFoundError, UnavailableError } from '../errors.js';

/**
 * The one adapter that reads files on a host (local or over SSH): tail, follow, "is it there",
 * and the journal. Modules never run `tail`, `ls` or `journalctl` themselves.
 *
 * Threat: a tenant's PHP runs as www-data and owns its webroot, so it can replace a log it can
 * write with a symbolic link (or a hard link) to /etc/shadow or the panel's secrets.json. Every
 * read here therefore
 * - takes a path the panel built (configuration, inventory), checked to lie under an allowed root
 *   and outside the denied ones (the panel's data dir);
 * - opens it without following a symbolic link and verifies the *opened* file, not the name:
 *   its real path (`/proc/self/fd/N`) must be the requested path below the root's real path (so a
 *   link anywhere in the path is refused too), it must be a regular file with one hard link.
 *   Checking the open descriptor leaves no window between check and read.
 */

export interface FilePolicy {
  /** Directories files may be read under (from configuration, never from a request). */
  roots: readonly string[];
  /** Never read at or under these, even inside a root (the panel's data dir: keys, database). */
  deny?: readonly string[];
}

/** The file is there but the panel refuses to read it (a link, not a regular file, outside its root). */
export class UnsafeFileError extends DomainRuleError {
  constructor(readonly file: string, reason: string) {
    super(`Refusing to read ${file}: ${reason}. The panel never follows links in log paths; ask an operator to check the file`, 'unsafe_file', { file });
  }
}

export class FileMissingError extends NotFoundError {
  constructor(readonly file: string) {
    super('File', file);
  }
}

const PLAIN = /^\/[^\0\n]*$/;

/** An absolute, normalised path with no `..` segment, no NUL and no newline. */
export function normalizeHostPath(p: string): string {
  if (typeof p !== 'string' || !PLAIN.test(p) || p.split('/').includes('..')) throw new TypeError(`refusing unsafe path ${JSON.stringify(p)}`);
  const n = path.posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

const within = (p: string, dir: string) => dir === '/' || p === dir || p.startsWith(`${dir}/`);

/** The root `file` lies under (the longest one), after checking the deny list lexically. */
export function rootFor(file: string, policy: FilePolicy): { file: string; root: string; rel: string } {
  const f = normalizeHostPath(file);
  for (const d of policy.deny ?? []) if (within(f, normalizeHostPath(d))) throw new UnsafeFileError(f, 'it lies in a directory the panel never reads');
  const root = policy.roots.map(normalizeHostPath).filter((r) => within(f, r) && r !== f).sort((a, b) => b.length - a.length)[0];
  if (!root) throw new UnsafeFileError(f, `it is not under an allowed directory (${policy.roots.join(', ') || 'none configured'})`);
  return { file: f, root, rel: path.posix.relative(root, f) };
}

/** A policy allowing exactly the files given (each under its own directory). */
export function policyForFiles(files: readonly string[], deny: readonly string[] = []): FilePolicy {
  return { roots: [...new Set(files.map((f) => path.posix.dirname(normalizeHostPath(f))))], deny };
}

// ---- local ---------------------------------------------------------------------------------

/**
 * Opens a local file for reading with O_NOFOLLOW and checks the opened descriptor (see above).
 * O_NONBLOCK: a FIFO planted at the name cannot hang the open; O_NOCTTY: a terminal is never adopted.
 */
export async function openNoFollow(file: string, policy: FilePolicy = policyForFiles([file])): Promise<FileHandle> {
  const { file: f, root, rel } = rootFor(file, policy);
  let fh: FileHandle;
  try {
    fh = await open(f, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'EMLINK') throw new UnsafeFileError(f, 'it is a symbolic link');
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new FileMissingError(f);
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new UnsafeFileError(f, 'it is not a regular file');
    if (st.nlink !== 1) throw new UnsafeFileError(f, 'it has other hard links');
    const rootReal = await realpath(root).catch(() => null);
    if (!rootReal) throw new FileMissingError(f);
    const expected = path.posix.join(rootReal, rel);
    const real = await readlink(`/proc/self/fd/${fh.fd}`).catch(async () => {
      // No /proc: fall back to the name's real path and make sure it is the inode we opened.
      const rp = await realpath(f);
      const again = await lstat(rp);
      return again.ino === st.ino && again.dev === st.dev ? rp : null;
    });
    if (real !== expected) throw new UnsafeFileError(f, 'it resolves to another file (a symbolic link in its path)');
    for (const d of policy.deny ?? []) {
      const dr = await realpath(d).catch(() => normalizeHostPath(d));
      if (within(real, dr)) throw new UnsafeFileError(f, 'it lies in a directory the panel never reads');
    }
    return fh;
  } catch (e) {
    await fh.close().catch(() => {});
    throw e;
  }
}

/** A line and the byte offset just after it (its newline): where a follow resumes after it. */
export interface LineAt {
  text: string;
  end: number;
}

/** The last `n` lines of an open file up to `end`, read backwards in chunks (a multi-GB log costs its last kilobytes). */
async function tailHandleAt(fh: FileHandle, n: number, end?: number): Promise<LineAt[]> {
  if (n <= 0) return [];
  const { size } = await fh.stat();
  const stop = Math.min(size, end ?? size);
  let pos = stop;
  let newlines = 0;
  const chunks: Buffer[] = [];
  const step = 64 * 1024;
  while (pos > 0 && newlines <= n) {
    const len = Math.min(step, pos);
    pos -= len;
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, pos);
    for (let i = 0; i < len; i++) if (buf[i] === 10) newlines++;
    chunks.unshift(buf);
  }
  const all = Buffer.concat(chunks);
  const out: LineAt[] = [];
  let start = 0;
  for (let i = 0; i < all.length; i++) {
    if (all[i] !== 10) continue;
    out.push({ text: all.subarray(start, i).toString('utf8'), end: pos + i + 1 });
    start = i + 1;
  }
  if (start < all.length) out.push({ text: all.subarray(start).toString('utf8'), end: stop });
  // When we stopped mid-file the first piece is a partial line.
  if (pos > 0) out.shift();
  return out.slice(-n);
}

async function tailHandle(fh: FileHandle, n: number, end?: number): Promise<string[]> {
  return (await tailHandleAt(fh, n, end)).map((l) => l.text);
}

/** Like `tailFile`, with each line's end offset and the file's inode (a cursor to resume after a line). */
export async function tailFileAt(file: string, n: number, end?: number, policy?: FilePolicy): Promise<{ ino: number; lines: LineAt[] }> {
  const fh = await openNoFollow(file, policy);
  try {
    const { ino } = await fh.stat();
    return { ino, lines: await tailHandleAt(fh, n, end) };
  } finally {
    await fh.close();
  }
}

/** The last `n` lines of a local file (opened with no-follow semantics), optionally up to offset `end`. */
export async function tailFile(file: string, n: number, end?: number, policy?: FilePolicy): Promise<string[]> {
  // Opened (and checked) even for n = 0: that is how `check` asks "is this file safe to read?".
  const fh = await openNoFollow(file, policy);
  try {
    return await tailHandle(fh, n, end);
  } finally {
    await fh.close();
  }
}

export interface FollowEvents {
  /**
   * Complete lines, in order, in batches. `at` (local files): the inode they were read from and
   * each line's end offset, so a follower can resume exactly after a line.
   */
  onLines(lines: string[], at?: { ino: number; ends: number[] }): void;
  /** Rotation, truncation, a refused or missing file, said in words. */
  onNotice(message: string): void;
  onError?(e: Error): void;
}

const CHUNK = 1024 * 1024;

/** The lines a follow starts with: the last `last` (of the last `scan`, when `match` filters them). */
export interface InitialTail {
  last: number;
  scan?: number;
  match?: (text: string) => boolean;
}

/**
 * Follows a local file like `tail -F`: new lines as they are written, surviving rotation (the name
 * points at a new inode: the old file is read to its end, then the new one from its start) and
 * truncation. The name is checked with lstat and every (re)open goes through `openNoFollow`, so a
 * rotation into a symbolic link is refused and announced, never followed. Woken by inotify on the
 * directory, with a poll as a fallback.
 */
export class FileFollower {
  private fh: FileHandle | null = null;
  private ino = -1;
  private pos = 0;
  /** Bytes after the last newline read (a line still being written). */
  private partial: Buffer = Buffer.alloc(0);
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private again = false;
  private stopped = false;
  private lastNotice = '';
  private readonly buf = Buffer.alloc(CHUNK);
  private readonly policy: FilePolicy;

  constructor(private readonly file: string, private readonly ev: FollowEvents, private readonly pollMs = 500, policy?: FilePolicy) {
    this.policy = policy ?? policyForFiles([file]);
    rootFor(file, this.policy);
  }

  private notice(m: string): void {
    if (m === this.lastNotice) return;
    this.lastNotice = m;
    this.ev.onNotice(m);
  }

  /**
   * Starts at the current end of the file and returns that offset (the caller tails up to it).
   * `from`: resume after a line delivered before (its inode and end offset): the same file is read
   * on from there; a file rotated or truncated since is read from its start, and that is announced.
   */
  async start(from?: { ino: number; offset: number }, tail?: InitialTail): Promise<number> {
    await this.openCurrent(true).catch((e: unknown) => {
      if (e instanceof UnsafeFileError) throw e;
      this.notice(`${this.file} does not exist yet; waiting for it`);
    });
    // The first lines come from the descriptor just opened, before anything can wake the follower,
    // so they always precede the new ones.
    if (!from && tail && tail.last > 0 && this.fh) {
      let lines = await tailHandleAt(this.fh, Math.max(tail.scan ?? tail.last, tail.last), this.pos).catch(() => [] as LineAt[]);
      if (tail.match) lines = lines.filter((l) => tail.match!(l.text));
      lines = lines.slice(-tail.last);
      if (lines.length) this.ev.onLines(lines.map((l) => l.text), { ino: this.ino, ends: lines.map((l) => l.end) });
    }
    if (from && this.fh) {
      const size = this.pos;
      if (from.ino === this.ino && from.offset <= size) this.pos = from.offset;
      else {
        this.pos = 0;
        this.ev.onNotice(from.ino === this.ino
          ? `${this.file} was truncated since you last read it; reading it from its start`
          : `${this.file} was rotated since you last read it; reading the new file from its start`);
      }
    }
    const base = path.basename(this.file);
    try {
      this.watcher = watch(path.dirname(this.file), { persistent: false }, (_e, name) => {
        if (!name || name === base) this.check();
      });
      this.watcher.on('error', () => {});
    } catch {
      /* no inotify: the poll below still works */
    }
    this.timer = setInterval(() => this.check(), this.pollMs);
    this.timer.unref();
    if (from) this.check();
    return this.pos;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
    await this.fh?.close().catch(() => {});
    this.fh = null;
  }

  /** Reads whatever is new; runs one at a time, re-running if woken while busy. */
  check(): void {
    if (this.stopped) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    void this.step()
      .catch((e: unknown) => this.ev.onError?.(e as Error))
      .finally(() => {
        this.busy = false;
        if (this.again && !this.stopped) {
          this.again = false;
          this.check();
        }
      });
  }

  private async openCurrent(atEnd: boolean): Promise<void> {
    const fh = await openNoFollow(this.file, this.policy);
    const st = await fh.stat();
    this.fh = fh;
    this.ino = st.ino;
    this.pos = atEnd ? st.size : 0;
    this.partial = Buffer.alloc(0);
    this.lastNotice = '';
  }

  private async step(): Promise<void> {
    let named: { ino: number; size: number; regular: boolean } | null = null;
    try {
      const s = await lstat(this.file);
      named = { ino: s.ino, size: s.size, regular: s.isFile() };
    } catch {
      named = null; // rotated away and not yet recreated
    }
    if (!this.fh) {
      if (!named) return;
      try {
        await this.openCurrent(false);
      } catch (e) {
        if (e instanceof UnsafeFileError) return this.notice(e.message);
        if (e instanceof FileMissingError) return;
        throw e;
      }
      this.ev.onNotice(`${this.file} appeared; following it`);
    }
    if (named && named.ino !== this.ino) {
      await this.drain(); // what was written to the old file before the rename
      this.flushPartial();
      await this.fh!.close().catch(() => {});
      this.fh = null;
      try {
        await this.openCurrent(false);
      } catch (e) {
        if (e instanceof UnsafeFileError) return this.notice(e.message);
        if (e instanceof FileMissingError) return;
        throw e;
      }
      this.ev.onNotice(`${this.file} was rotated; following the new file`);
    } else if (named && named.regular && named.size < this.pos) {
      this.flushPartial();
      this.pos = 0;
      this.ev.onNotice(`${this.file} was truncated; reading from its start`);
    }
    await this.drain();
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.stopped || !this.fh) return;
      const { bytesRead } = await this.fh.read(this.buf, 0, CHUNK, this.pos);
      if (bytesRead <= 0) return;
      // Lines are cut at newline bytes (never inside a UTF-8 sequence), so each line's end offset is exact.
      const base = this.pos - this.partial.length;
      const data = this.partial.length ? Buffer.concat([this.partial, this.buf.subarray(0, bytesRead)]) : this.buf.subarray(0, bytesRead);
      this.pos += bytesRead;
      const lines: string[] = [];
      const ends: number[] = [];
      let start = 0;
      for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) {
        lines.push(data.subarray(start, i).toString('utf8'));
        ends.push(base + i + 1);
        start = i + 1;
      }
      this.partial = Buffer.from(data.subarray(start));
      if (lines.length) this.ev.onLines(lines, { ino: this.ino, ends });
      if (bytesRead < CHUNK) return;
    }
  }

  private flushPartial(): void {
    const rest = this.partial;
    this.partial = Buffer.alloc(0);
    if (rest.length) this.ev.onLines([rest.toString('utf8')], { ino: this.ino, ends: [this.pos] });
  }
}

// ---- over a process runner (SSH) ------------------------------------------------------------

/**
 * POSIX sh programs run as `sh -c PROGRAM sh ROOT REL N`: the program text is a constant, the
 * path and count arrive as positional arguments (argv only, quoted by the SSH runner), so no value
 * is ever parsed as shell syntax. The file is opened on fd 3 and the *opened descriptor* is
 * checked: `readlink /proc/self/fd/3` (in the child, which inherits fd 3) must equal the root's
 * real path + REL, `[ -f /dev/fd/3 ]` and one hard link. Only then does `tail` read from fd 3.
 *
 * Residual race: `sh` cannot open with O_NOFOLLOW, so a link swapped in between the `-L` test and
 * the open makes the shell *open* (never read) the link's target; the descriptor check then
 * refuses it. Opening a device or FIFO that way could have a side effect or block until the
 * command's timeout; the panel reads none of its content.
 */
const SH_CHECK = [
  'root=$1; rel=$2; p="$root/$rel"',
  'refuse() { echo "slipway: refusing $p: $1" >&2; exit 65; }',
  'check() {',
  '  rr=$(realpath -e -- "$root" 2>/dev/null) || return 2',
  '  [ "$rr" = / ] && rr=',
  '  real=$(readlink /proc/self/fd/3 2>/dev/null) || return 1',
  '  [ "$real" = "$rr/$rel" ] || return 1',
  '  [ -f /dev/fd/3 ] || return 1',
  '  [ "$(stat -L -c %h /dev/fd/3 2>/dev/null)" = 1 ] || return 3',
  '}',
].join('\n');

const SH_OPEN_CHECKED = [
  SH_CHECK,
  'n=$3',
  'if [ -L "$p" ]; then refuse "it is a symbolic link"; fi',
  'if [ ! -e "$p" ]; then echo "slipway: $p does not exist" >&2; exit 66; fi',
  'if [ ! -f "$p" ]; then refuse "it is not a regular file"; fi',
  'command exec 3<"$p" || exit 66',
  'check; c=$?',
  'if [ $c = 2 ]; then exit 66; fi',
  'if [ $c = 3 ]; then refuse "it has other hard links"; fi',
  'if [ $c != 0 ]; then refuse "it resolves to another file (a symbolic link in its path)"; fi',
].join('\n');

export const REMOTE_TAIL_SCRIPT = [SH_OPEN_CHECKED, 'exec tail -n "$n" <&3'].join('\n');
/**
 * The first N bytes of the checked descriptor (a whole small file: a certificate). With a 4th
 * argument `link`, a name that is a symbolic link prints its target (readlink never follows)
 * and exits 67 instead: the caller checks that target against its policy and reads it.
 */
export const REMOTE_READ_SCRIPT = [
  'if [ "$4" = link ] && [ -L "$1/$2" ]; then readlink -- "$1/$2"; exit 67; fi',
  SH_OPEN_CHECKED,
  'exec head -c "$n" <&3',
].join('\n');

export const REMOTE_FOLLOW_SCRIPT = [
  SH_CHECK,
  'n=$3; first=1; said=; t=',
  'say() { [ "$said" = "$1" ] || { echo "slipway: $1" >&2; said=$1; }; }',
  "trap '[ -n \"$t\" ] && kill $t 2>/dev/null; exit 0' TERM HUP INT",
  'while :; do',
  '  if [ -L "$p" ]; then say "refusing to follow $p: it is a symbolic link"; sleep 1; continue; fi',
  '  if [ ! -f "$p" ]; then say "$p does not exist yet; waiting for it"; sleep 1; continue; fi',
  '  if ! command exec 3<"$p"; then sleep 1; continue; fi',
  '  if ! check; then exec 3<&-; say "refusing to follow $p: it resolves to another file or has other links"; sleep 1; continue; fi',
  '  ino=$(stat -L -c %i /dev/fd/3)',
  '  if [ $first = 0 ]; then say "$p was rotated; following the new file"; fi',
  '  said=',
  '  if [ $first = 1 ]; then tail -n "$n" -s 0.5 -f <&3 & else tail -n +1 -s 0.5 -f <&3 & fi',
  '  t=$!; exec 3<&-; first=0',
  '  while sleep 1; do',
  '    kill -0 $t 2>/dev/null || break',
  // lstat (no -L): a rename, a removal or a link put in its place changes the inode.
  '    cur=$(stat -c %i -- "$p" 2>/dev/null) || cur=',
  '    [ "$cur" = "$ino" ] || break',
  '  done',
  '  sleep 1; kill $t 2>/dev/null; wait $t 2>/dev/null; t=',
  'done',
].join('\n');

const UNIT = /^[A-Za-z0-9][A-Za-z0-9:_.@-]{0,250}$/;
/** journald's `__CURSOR` (`s=…;i=…;b=…;m=…;t=…;x=…`): never an option, no shell syntax. */
export const JOURNAL_CURSOR = /^[A-Za-z0-9][A-Za-z0-9=;_.:+-]{0,511}$/;

export interface FollowHandle {
  stop(): Promise<void>;
}

/**
 * Files of one host through its ProcessRunner. Locally it uses node's fs (O_NOFOLLOW); elsewhere
 * the constant sh programs above over the runner (`sh`, `realpath`, `readlink`, `stat`, `tail`
 * from coreutils).
 */
export class HostFiles {
  readonly local: boolean;

  constructor(private readonly runner: ProcessRunner, private readonly policy: FilePolicy, opts: { forceRemote?: boolean } = {}) {
    this.local = runner.host === 'local' && !opts.forceRemote;
  }

  get host(): string {
    return this.runner.host;
  }

  /** The last `lines` lines; FileMissingError (404) when absent, UnsafeFileError (422) when refused. */
  async tail(file: string, lines: number, opts: { timeoutMs?: number } = {}): Promise<string[]> {
    const { file: f, root, rel } = rootFor(file, this.policy);
    const n = Math.max(0, Math.floor(lines));
    if (this.local) return tailFile(f, n, undefined, this.policy);
    let out: string;
    try {
      out = (await this.runner.exec('sh', ['-c', REMOTE_TAIL_SCRIPT, 'sh', root, rel, String(n)], { timeoutMs: opts.timeoutMs ?? 15_000 })).stdout;
    } catch (e) {
      throw this.mapError(e, f);
    }
    return out.split('\n').filter((l, i, a) => i < a.length - 1 || l !== '');
  }

  /**
   * A small file's text (at most `maxBytes`), read no-follow like `tail`. `resolveLink`: when the
   * name itself is a symbolic link (certbot's `live/<name>/cert.pem` → `../../archive/…`), its
   * target is read instead, one level, and only if it lies under an allowed root as well; use it
   * only for roots that tenants cannot write. FileMissingError (404) / UnsafeFileError (422).
   */
  async read(file: string, opts: { maxBytes?: number; resolveLink?: boolean; timeoutMs?: number } = {}): Promise<string> {
    const { file: f, root, rel } = rootFor(file, this.policy);
    const max = Math.max(0, Math.floor(opts.maxBytes ?? 1024 * 1024));
    const target = (t: string) => {
      if (!t || t.includes('\0') || t.includes('\n')) throw new UnsafeFileError(f, 'its link target is not a plain path');
      return rootFor(path.posix.resolve(path.posix.dirname(f), t), this.policy).file;
    };
    if (this.local) {
      if (opts.resolveLink && (await lstat(f).catch(() => null))?.isSymbolicLink()) return this.read(target(await readlink(f)), { ...opts, resolveLink: false });
      const fh = await openNoFollow(f, this.policy);
      try {
        const buf = Buffer.alloc(max);
        let got = 0;
        while (got < max) {
          const { bytesRead } = await fh.read(buf, got, max - got, got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return buf.subarray(0, got).toString('utf8');
      } finally {
        await fh.close().catch(() => {});
      }
    }
    let r;
    try {
      r = await this.runner.exec('sh', ['-c', REMOTE_READ_SCRIPT, 'sh', root, rel, String(max), ...(opts.resolveLink ? ['link'] : [])], { timeoutMs: opts.timeoutMs ?? 15_000, okExitCodes: [0, 67] });
    } catch (e) {
      throw this.mapError(e, f);
    }
    if (r.exitCode === 67) return this.read(target(r.stdout.replace(/\n$/, '')), { ...opts, resolveLink: false });
    return r.stdout;
  }

  /**
   * Bytes used under a directory (`du -sbP`): never follows a link (also not `dir` itself). Null
   * when `du` cannot read it (gone, no permission).
   */
  async diskUsage(dir: string, opts: { timeoutMs?: number } = {}): Promise<number | null> {
    const { file: d } = rootFor(dir, this.policy);
    try {
      const r = await this.runner.exec('du', ['-sbP', '--', d], { timeoutMs: opts.timeoutMs ?? 120_000 });
      const n = Number(r.stdout.trim().split(/\s+/)[0]);
      return Number.isFinite(n) ? n : null;
    } catch (e) {
      if (e instanceof ExecError && e.reason === 'exit') return null;
      throw e;
    }
  }

  /** Throws UnsafeFileError when the file is there but refused; a missing file is fine (it may appear). */
  async check(file: string): Promise<void> {
    await this.tail(file, 0).catch((e: unknown) => {
      if (e instanceof FileMissingError) return;
      throw e;
    });
  }

  /**
   * The last `lines` lines, then new ones until stopped; survives rotation and truncation and
   * never follows a link (a rotation into one is announced and waited out). A file refused at the
   * start throws before anything is sent.
   */
  async follow(file: string, lines: number, ev: FollowEvents, opts: { pollMs?: number; from?: { ino: number; offset: number }; scan?: number; match?: (text: string) => boolean } = {}): Promise<FollowHandle> {
    const { file: f, root, rel } = rootFor(file, this.policy);
    const n = Math.max(0, Math.floor(lines));
    if (this.local) {
      const follower = new FileFollower(f, ev, opts.pollMs ?? 500, this.policy);
      await follower.start(opts.from, { last: n, ...(opts.scan ? { scan: opts.scan } : {}), ...(opts.match ? { match: opts.match } : {}) });
      return { stop: () => follower.stop() };
    }
    await this.check(f);
    // Over SSH a filter cannot look further back than the lines asked for.
    const handle = this.runner.stream('sh', ['-c', REMOTE_FOLLOW_SCRIPT, 'sh', root, rel, String(n)]);
    pump(handle, ev, (l) => l.replace(/^(slipway|tail): /, ''));
    return { stop: () => stopHandle(handle) };
  }

  /** Which of `files` are there and readable under the policy (regular, not links). */
  async available(files: readonly string[]): Promise<Set<string>> {
    const ok = new Set<string>();
    const checked = files.flatMap((f) => {
      try {
        return [rootFor(f, this.policy).file];
      } catch {
        return [];
      }
    });
    if (!checked.length) return ok;
    if (this.local) {
      await Promise.all(checked.map(async (f) => {
        const st = await lstat(f).catch(() => null);
        if (st?.isFile() && st.nlink === 1) ok.add(f);
      }));
      return ok;
    }
    // -P: never follow a link; only regular files with one link count.
    const r = await this.runner.exec('find', ['-P', ...checked, '-maxdepth', '0', '-type', 'f', '-links', '1', '-print'], { timeoutMs: 10_000, okExitCodes: [0, 1] }).catch(() => ({ stdout: '' }));
    for (const l of r.stdout.split('\n')) if (checked.includes(l.trim())) ok.add(l.trim());
    return ok;
  }

  /** The last `lines` journal entries of an allow-listed unit, as journalctl's JSON lines. */
  async journal(unit: string, lines: number): Promise<string[]> {
    if (!UNIT.test(unit)) throw new TypeError(`refusing unit ${JSON.stringify(unit)}`);
    const r = await this.runner.exec('journalctl', [`--unit=${unit}`, '-o', 'json', '-n', String(Math.max(0, Math.floor(lines))), '--no-pager'], { timeoutMs: 15_000 }).catch((e: unknown) => {
      throw new UnavailableError(`Could not read the journal on this host: ${(e as Error).message}`);
    });
    return r.stdout.split('\n').filter(Boolean);
  }

  /** `afterCursor`: resume after a journal entry delivered before (its `__CURSOR`) instead of the last `lines`. */
  followJournal(unit: string, lines: number, ev: FollowEvents, opts: { afterCursor?: string } = {}): FollowHandle {
    if (!UNIT.test(unit)) throw new TypeError(`refusing unit ${JSON.stringify(unit)}`);
    if (opts.afterCursor !== undefined && !JOURNAL_CURSOR.test(opts.afterCursor)) throw new TypeError('refusing journal cursor');
    const from = opts.afterCursor !== undefined ? [`--after-cursor=${opts.afterCursor}`] : ['-n', String(Math.max(0, Math.floor(lines)))];
    const handle = this.runner.stream('journalctl', [`--unit=${unit}`, '-o', 'json', ...from, '-f', '--no-pager']);
    pump(handle, ev, (l) => l);
    return { stop: () => stopHandle(handle) };
  }

  private mapError(e: unknown, f: string): Error {
    if (e instanceof ExecError && e.reason === 'exit') {
      if (e.exitCode === 65) return new UnsafeFileError(f, e.stderr.trim().split('\n').pop()?.replace(/^slipway: refusing [^:]*: /, '') || 'refused');
      if (e.exitCode === 66) return new FileMissingError(f);
    }
    return new UnavailableError(`Could not read ${f} on ${this.runner.host}: ${(e as Error).message}`);
  }
}

/** Lines of a stream into `ev`, batched per event-loop turn; stderr lines become notices. */
function pump(handle: StreamHandle, ev: FollowEvents, notice: (l: string) => string): void {
  void (async () => {
    let batch: string[] = [];
    let scheduled = false;
    const ship = () => {
      scheduled = false;
      const b = batch;
      batch = [];
      if (b.length) ev.onLines(b);
    };
    try {
      for await (const { line, stream } of handle.lines) {
        if (stream === 'stderr') {
          if (batch.length) ship();
          ev.onNotice(notice(line));
          continue;
        }
        batch.push(line);
        if (!scheduled) {
          scheduled = true;
          setImmediate(ship);
        }
      }
      ship();
    } catch (e) {
      ev.onError?.(e as Error);
    }
  })();
}

async function stopHandle(handle: StreamHandle): Promise<void> {
  handle.stop();
  await Promise.race([handle.done, new Promise((r) => setTimeout(r, 3000))]);
}
