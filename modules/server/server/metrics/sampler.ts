import { computeSample, toPoint, type MetricPoint, type MetricSample, type ProcSnapshot } from './proc-parser.js';
import type { ProcSource } from './proc-source.js';

/** Fixed-size ring: the last hour of samples at full resolution, no growth. */
export class Ring<T> {
  private readonly items: (T | undefined)[];
  private start = 0;
  private size = 0;
  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }
  push(item: T): void {
    const end = (this.start + this.size) % this.capacity;
    this.items[end] = item;
    if (this.size < this.capacity) this.size++;
    else this.start = (this.start + 1) % this.capacity;
  }
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.size; i++) out.push(this.items[(this.start + i) % this.capacity]!);
    return out;
  }
  get length(): number {
    return this.size;
  }
  last(): T | undefined {
    return this.size ? this.items[(this.start + this.size - 1) % this.capacity] : undefined;
  }
}

export interface SamplerStatus {
  state: 'starting' | 'ok' | 'error';
  error: string | null;
  lastSampleAt: number | null;
}

/**
 * Samples one host on a timer. Each tick reads a snapshot, computes rates against the previous
 * one, keeps the sample in the ring and hands it to `onSample`. A failing host (SSH down) is
 * retried with backoff up to a minute and reported in `status`, never crashing the panel.
 */
export class HostSampler {
  readonly ring: Ring<MetricSample>;
  readonly status: SamplerStatus = { state: 'starting', error: null, lastSampleAt: null };
  private prev: ProcSnapshot | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failures = 0;
  private readonly abort = new AbortController();

  constructor(
    readonly hostId: string,
    private readonly source: ProcSource,
    private readonly intervalMs: number,
    private readonly onSample: (s: MetricSample) => void,
    retentionMs = 3_600_000,
  ) {
    this.ring = new Ring(Math.ceil(retentionMs / intervalMs) + 1);
  }

  start(): void {
    void this.tick();
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
    clearTimeout(this.timer);
  }

  latest(): MetricSample | undefined {
    return this.ring.last();
  }

  points(from: number, to: number): MetricPoint[] {
    return this.ring.toArray().filter((s) => s.at >= from && s.at <= to).map(toPoint);
  }

  /** Reads once now (tests and the first sample use it). */
  async tick(): Promise<MetricSample | undefined> {
    if (this.stopped) return undefined;
    clearTimeout(this.timer);
    let sample: MetricSample | undefined;
    try {
      const snap = await this.source.read(this.abort.signal);
      if (this.prev) {
        sample = computeSample(this.prev, snap);
        this.ring.push(sample);
        this.status.lastSampleAt = sample.at;
        this.status.state = 'ok';
        this.status.error = null;
      }
      this.prev = snap;
      this.failures = 0;
      if (sample) this.onSample(sample);
    } catch (e) {
      this.failures++;
      this.status.state = 'error';
      this.status.error = e instanceof Error ? e.message : String(e);
      this.prev = undefined;
    }
    if (!this.stopped) {
      // The very first reading only primes the counters: take the second one soon after.
      const delay = this.failures ? Math.min(60_000, this.intervalMs * 2 ** this.failures) : sample ? this.intervalMs : Math.min(1000, this.intervalMs);
      this.timer = setTimeout(() => void this.tick(), delay);
      this.timer.unref();
    }
    return sample;
  }
}
