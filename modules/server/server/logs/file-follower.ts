import { watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';

const CHUNK = 1024 * 1024;

/**
 * The last `n` lines of a file, read backwards from its end in chunks (a multi-GB log costs as
 * much as its last few kilobytes).
 */
export async function tailFile(file: string, n: number, end?: number): Promise<string[]> {
  if (n <= 0) return [];
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    let pos = Math.min(size, end ?? size);
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
    const lines = Buffer.concat(chunks).toString('utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    // When we stopped mid-file the first piece is a partial line.
    if (pos > 0) lines.shift();
    return lines.slice(-n);
  } finally {
    await fh.close();
  }
}

export interface FollowerEvents {
  /** Complete lines, in order, in batches as large as one read. */
  onLines(lines: string[]): void;
  /** Rotation or truncation, said in words. */
  onNotice(message: string): void;
  onError?(e: Error): void;
}

/**
 * Follows a file like `tail -F`: new lines as they are written, surviving rotation (the name
 * points at a new inode: the old file is read to its end, then the new one from its start) and
 * truncation (the size shrinks below what was read: start again from 0). Woken by inotify on the
 * directory, with a poll as a fallback.
 */
export class FileFollower {
  private fh: FileHandle | null = null;
  private ino = -1;
  private pos = 0;
  private decoder = new StringDecoder('utf8');
  private partial = '';
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private again = false;
  private stopped = false;
  private readonly buf = Buffer.alloc(CHUNK);

  constructor(private readonly file: string, private readonly ev: FollowerEvents, private readonly pollMs = 500) {}

  /** Starts at the current end of the file and returns that offset (the caller tails up to it). */
  async start(): Promise<number> {
    await this.openCurrent(true).catch(() => this.ev.onNotice(`${this.file} does not exist yet; waiting for it`));
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
    const fh = await open(this.file, 'r');
    const st = await fh.stat();
    this.fh = fh;
    this.ino = st.ino;
    this.pos = atEnd ? st.size : 0;
    this.decoder = new StringDecoder('utf8');
    this.partial = '';
  }

  private async step(): Promise<void> {
    let named: { ino: number; size: number } | null = null;
    try {
      const s = await stat(this.file);
      named = { ino: s.ino, size: s.size };
    } catch {
      named = null; // rotated away and not yet recreated
    }
    if (!this.fh) {
      if (!named) return;
      await this.openCurrent(false);
      this.ev.onNotice(`${this.file} appeared; following it`);
    }
    if (named && named.ino !== this.ino) {
      await this.drain(); // what was written to the old file before the rename
      this.flushPartial();
      await this.fh!.close().catch(() => {});
      this.fh = null;
      await this.openCurrent(false);
      this.ev.onNotice(`${this.file} was rotated; following the new file`);
    } else if (named && named.size < this.pos) {
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
      this.pos += bytesRead;
      const text = this.partial + this.decoder.write(this.buf.subarray(0, bytesRead));
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      if (lines.length) this.ev.onLines(lines);
      if (bytesRead < CHUNK) return;
    }
  }

  private flushPartial(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest) this.ev.onLines([rest]);
  }
}
