import type { JobStore } from './job.store.js';
import { truncateLine } from './job.store.js';
import type { JobLogLine, LogStream } from './types.js';

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
  private flushing: Promise<void> | null = null;

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
    const entry: JobLogLine = { seq: this.nextSeq++, at: Date.now(), stream, line: truncateLine(line) };
    this.unflushed.push(entry);
    if (this.unflushed.length > MAX_PENDING) this.unflushed.splice(0, this.unflushed.length - MAX_PENDING);
    this.onLine(entry);
    if (this.unflushed.length >= FLUSH_LINES) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_DELAY_MS);
    return entry;
  }

  /** Lines not yet committed, oldest first (a copy). */
  pending(): JobLogLine[] {
    return this.unflushed.slice();
  }

  /** Writes everything appended so far; resolves when it is committed (or failed and will be retried). */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.flushing) await this.flushing;
    if (!this.unflushed.length) return;
    const batch = this.unflushed.slice(0, 1000);
    this.flushing = this.store
      .insertLines(this.jobId, batch)
      .then(() => {
        // Drop exactly the committed lines; newer ones may have arrived meanwhile.
        const last = batch[batch.length - 1]!.seq;
        const i = this.unflushed.findIndex((l) => l.seq > last);
        this.unflushed.splice(0, i === -1 ? this.unflushed.length : i);
      })
      .catch((err: unknown) => {
        this.onError(err);
        this.timer ??= setTimeout(() => void this.flush(), 1000);
      })
      .finally(() => {
        this.flushing = null;
      });
    await this.flushing;
    if (this.unflushed.length && !this.timer) this.timer = setTimeout(() => void this.flush(), FLUSH_DELAY_MS);
  }

  /** Final flush; stops retrying afterwards. */
  async close(): Promise<void> {
    for (let i = 0; i < 5 && this.unflushed.length; i++) await this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
