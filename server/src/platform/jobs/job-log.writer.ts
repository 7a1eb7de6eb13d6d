import type { JobStore } from './job.store.js';
import { truncateLine } from './job.store.js';
import type { JobLogLine, LogStream } from './types.js';
import { redactSecrets } from '../redact.js';

const FLUSH_DELAY_MS = 50;
const FLUSH_LINES = 200;
/** If the database stays unwritable, keep at most this many lines waiting (the oldest go first). */
const MAX_PENDING = 20000;

/**
 * The log of one running job: numbers lines, hands them to live followers at once and writes them
 * in batches (every 50 ms or 200 lines, one transaction each). Lines stay in `unflushed` until
 * their batch committed, so a reader that merges `unflushed` with the table never sees a gap.
 */
export class JobLogWriter {
  private nextSeq: number;
  private unflushed: JobLogLine[] = [];
  private timer: NodeJS.Timeout | null = null;
  private draining: Promise<void> | null = null;
  /** The last write failed: lines are held (up to MAX_PENDING) and retried. */
  private failing = false;

  constructor(
    private readonly store: JobStore,
    readonly jobId: string,
    lastSeq: number,
    private readonly onLine: (line: JobLogLine) => void,
    private readonly onError: (err: unknown) => void,
  ) {
    this.nextSeq = lastSeq + 1;
  }

  append(line: string, stream: LogStream = 'info'): JobLogLine {
    const entry: JobLogLine = { seq: this.nextSeq++, at: Date.now(), stream, line: truncateLine(redactSecrets(line)) };
    this.unflushed.push(entry);
    if (this.failing && this.unflushed.length > MAX_PENDING) this.unflushed.splice(0, this.unflushed.length - MAX_PENDING);
    this.onLine(entry);
    this.schedule(this.unflushed.length >= FLUSH_LINES ? 0 : FLUSH_DELAY_MS);
    return entry;
  }

  /** Lines not yet committed, oldest first (a copy). */
  pending(): JobLogLine[] {
    return this.unflushed.slice();
  }

  private schedule(delayMs: number): void {
    if (this.draining) return; // the running drain picks up new lines
    if (delayMs === 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.draining = this.drain();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.draining ??= this.drain();
    }, delayMs);
  }

  /** Writes batches until nothing is pending; on a database error, retries a second later. */
  private async drain(): Promise<void> {
    try {
      while (this.unflushed.length) {
        const batch = this.unflushed.slice(0, 1000);
        try {
          await this.store.insertLines(this.jobId, batch);
          this.failing = false;
        } catch (err) {
          this.failing = true;
          this.onError(err);
          this.timer ??= setTimeout(() => {
            this.timer = null;
            this.draining ??= this.drain();
          }, 1000);
          return;
        }
        // Drop exactly the committed lines (the oldest may have been dropped meanwhile).
        const last = batch[batch.length - 1]!.seq;
        const i = this.unflushed.findIndex((l) => l.seq > last);
        this.unflushed.splice(0, i === -1 ? this.unflushed.length : i);
      }
    } finally {
      this.draining = null;
    }
  }

  /** Writes everything appended so far; resolves when committed (or when the write failed). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.unflushed.length) {
      this.draining = this.drain();
      await this.draining;
    }
  }

  /** Final flush, a few tries; stops retrying afterwards. */
  async close(): Promise<void> {
    for (let i = 0; i < 5 && this.unflushed.length; i++) {
      await this.flush();
      if (this.unflushed.length) await new Promise((r) => setTimeout(r, 200));
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
