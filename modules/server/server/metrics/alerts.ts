import type { MetricSample } from './proc-parser.js';

export interface AlertThresholds {
  diskPercent: number;
  memoryPercent: number;
  /** Load above the core count for this long raises an alert. */
  loadMinutes: number;
}

export interface Alert {
  /** Stable per host, kind and subject, e.g. `local:disk:/var`. */
  id: string;
  hostId: string;
  kind: 'disk' | 'memory' | 'load';
  subject: string;
  message: string;
  value: number;
  threshold: number;
  since: number;
}

/**
 * Turns samples into raised and cleared alerts. Disk and memory fire on the sample that crosses
 * the threshold; load must stay above the core count for `loadMinutes` first.
 */
export class AlertEvaluator {
  private readonly active = new Map<string, Alert>();
  private loadAboveSince: number | null = null;

  constructor(private readonly hostId: string, private readonly t: AlertThresholds) {}

  list(): Alert[] {
    return [...this.active.values()];
  }

  evaluate(s: MetricSample): { raised: Alert[]; cleared: Alert[] } {
    const firing = new Map<string, Omit<Alert, 'id' | 'hostId' | 'since'>>();
    for (const d of s.disks) {
      if (d.usedPercent > this.t.diskPercent) {
        firing.set(`disk:${d.mount}`, { kind: 'disk', subject: d.mount, value: d.usedPercent, threshold: this.t.diskPercent, message: `Disk ${d.mount} is ${d.usedPercent}% full (threshold ${this.t.diskPercent}%)` });
      }
    }
    if (s.memory.usedPercent > this.t.memoryPercent) {
      firing.set('memory:ram', { kind: 'memory', subject: 'ram', value: s.memory.usedPercent, threshold: this.t.memoryPercent, message: `Memory is ${s.memory.usedPercent}% used (threshold ${this.t.memoryPercent}%)` });
    }
    if (s.load.load1 > s.cpu.cores) {
      this.loadAboveSince ??= s.at;
      if (s.at - this.loadAboveSince >= this.t.loadMinutes * 60_000) {
        firing.set('load:load1', { kind: 'load', subject: 'load1', value: s.load.load1, threshold: s.cpu.cores, message: `Load ${s.load.load1} has been above ${s.cpu.cores} cores for ${this.t.loadMinutes} minutes` });
      }
    } else this.loadAboveSince = null;

    const raised: Alert[] = [];
    const cleared: Alert[] = [];
    for (const [key, f] of firing) {
      const id = `${this.hostId}:${key}`;
      const existing = this.active.get(id);
      if (existing) Object.assign(existing, { value: f.value, message: f.message });
      else {
        const a: Alert = { id, hostId: this.hostId, since: s.at, ...f };
        this.active.set(id, a);
        raised.push(a);
      }
    }
    for (const [id, a] of this.active) {
      if (!firing.has(id.slice(this.hostId.length + 1))) {
        this.active.delete(id);
        cleared.push(a);
      }
    }
    return { raised, cleared };
  }
}
