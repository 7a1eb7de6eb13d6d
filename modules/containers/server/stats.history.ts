import type { StatsSample } from './docker.client.js';

/** One point of a service's usage over time (network as rates, as the server's charts show it). */
export interface StatsPoint {
  at: number;
  cpuPercent: number;
  memoryBytes: number;
  memoryLimitBytes: number;
  rxBytesPerSec: number;
  txBytesPerSec: number;
}

/**
 * The last hour of each running service's CPU, memory and network, in memory: one bounded ring
 * per service (capacity = retention / interval), filled by a sweep that asks Docker for one stats
 * sample of each running service's HTTP container. A panel restart forgets it; a deleted service's
 * ring is dropped at the next sweep.
 */
export class StatsHistory {
  private readonly rings = new Map<string, StatsPoint[]>();
  private readonly last = new Map<string, StatsSample>();
  private sweeping = false;
  readonly capacity: number;

  constructor(readonly intervalMs: number, retentionMs = 3_600_000) {
    this.capacity = Math.max(2, Math.ceil(retentionMs / intervalMs) + 1);
  }

  /** Adds a sample; network counters become rates against the previous sample (a counter reset is 0). */
  record(serviceId: string, s: StatsSample): StatsPoint {
    const prev = this.last.get(serviceId);
    const seconds = prev ? (s.at - prev.at) / 1000 : 0;
    const rate = (cur: number, before: number | undefined) => (before === undefined || seconds <= 0 || cur < before ? 0 : (cur - before) / seconds);
    const point: StatsPoint = {
      at: s.at,
      cpuPercent: Math.round(s.cpuPercent * 10) / 10,
      memoryBytes: s.memoryBytes,
      memoryLimitBytes: s.memoryLimitBytes,
      rxBytesPerSec: Math.round(rate(s.networkRxBytes, prev?.networkRxBytes)),
      txBytesPerSec: Math.round(rate(s.networkTxBytes, prev?.networkTxBytes)),
    };
    this.last.set(serviceId, s);
    const ring = this.rings.get(serviceId) ?? [];
    if (ring.length && ring[ring.length - 1]!.at >= point.at) return point; // Docker answered the same reading twice
    ring.push(point);
    if (ring.length > this.capacity) ring.splice(0, ring.length - this.capacity);
    this.rings.set(serviceId, ring);
    return point;
  }

  /** Points newer than `since` (all of the last hour without it), oldest first. */
  points(serviceId: string, since?: number): StatsPoint[] {
    const ring = this.rings.get(serviceId) ?? [];
    return since === undefined ? [...ring] : ring.filter((p) => p.at > since);
  }

  /** A service that stopped: the next sample's rates start over (its history stays until it ages out). */
  paused(serviceId: string): void {
    this.last.delete(serviceId);
  }

  forget(serviceId: string): void {
    this.rings.delete(serviceId);
    this.last.delete(serviceId);
  }

  /**
   * One sweep: a sample of each running service, one at a time (a slow Docker never piles up
   * sweeps: a sweep still running makes the next one a no-op). Services no longer listed are dropped.
   */
  async sweep(services: { id: string; running: boolean }[], sample: (serviceId: string) => Promise<StatsSample | null>): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    let n = 0;
    try {
      const known = new Set(services.map((s) => s.id));
      for (const id of this.rings.keys()) if (!known.has(id)) this.forget(id);
      for (const s of services) {
        if (!s.running) {
          this.paused(s.id);
          continue;
        }
        const got = await sample(s.id).catch(() => null);
        if (got) {
          this.record(s.id, got);
          n++;
        } else this.paused(s.id);
      }
    } finally {
      this.sweeping = false;
    }
    return n;
  }
}
