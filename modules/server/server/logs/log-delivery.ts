import type { LogLine, LogMessage } from './log-line.js';

/** Where a follower's messages go: a WebSocket or an SSE response. */
export interface LogTransport {
  send(msg: LogMessage): void;
  /** True while the client's socket buffer is over its limit. */
  congested(): boolean;
  /** Resolves when the buffer has room again (or the client left). */
  drained(): Promise<void>;
  readonly closed: boolean;
}

/**
 * A bounded per-client queue. A slow client never makes the panel buffer more than `maxQueued`
 * lines: when the queue would overflow, the oldest unsent lines are dropped and the client gets
 * one `{ type: 'skipped', count }` marker at the gap before the newer lines.
 */
type Queued = LogLine | { notice: string };
const isNotice = (q: Queued): q is { notice: string } => 'notice' in q;

export class LogDelivery {
  private queue: Queued[] = [];
  private skipped = 0;
  private flushing = false;
  /** Totals, for tests and the benchmark. */
  readonly stats = { delivered: 0, skipped: 0, maxQueued: 0 };

  constructor(private readonly transport: LogTransport, private readonly maxQueued = 10_000, private readonly batch = 2_000) {}

  push(lines: LogLine[]): void {
    if (!lines.length || this.transport.closed) return;
    const overflow = this.queue.length + lines.length - this.maxQueued;
    if (overflow > 0) {
      const dropQueued = Math.min(overflow, this.queue.length);
      if (dropQueued) this.queue.splice(0, dropQueued);
      const dropNew = overflow - dropQueued;
      if (dropNew) lines = lines.slice(dropNew);
      this.skipped += overflow;
      this.stats.skipped += overflow;
    }
    for (const l of lines) this.queue.push(l);
    if (this.queue.length > this.stats.maxQueued) this.stats.maxQueued = this.queue.length;
    this.flush();
  }

  /** A notice (rotation, truncation) keeps its place between the lines around it. */
  notice(message: string): void {
    if (this.transport.closed) return;
    this.queue.push({ notice: message });
    this.flush();
  }

  get queued(): number {
    return this.queue.length;
  }

  private flush(): void {
    if (this.flushing) return;
    this.flushing = true;
    void this.run().finally(() => {
      this.flushing = false;
    });
  }

  private async run(): Promise<void> {
    while ((this.queue.length || this.skipped) && !this.transport.closed) {
      if (this.transport.congested()) {
        await this.transport.drained();
        continue;
      }
      if (this.skipped) {
        this.transport.send({ type: 'skipped', count: this.skipped, message: `${this.skipped} lines skipped (the connection could not keep up)` });
        this.skipped = 0;
      }
      const head = this.queue[0];
      if (head && isNotice(head)) {
        this.queue.shift();
        this.transport.send({ type: 'notice', message: head.notice });
        continue;
      }
      let n = 0;
      while (n < this.batch && n < this.queue.length && !isNotice(this.queue[n]!)) n++;
      const lines = this.queue.splice(0, n) as LogLine[];
      if (lines.length) {
        this.transport.send({ type: 'lines', lines });
        this.stats.delivered += lines.length;
      }
      // Let the follower add more (and the socket write) between batches.
      await new Promise<void>((r) => setImmediate(r));
    }
  }
}
