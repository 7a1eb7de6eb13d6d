import { describe, expect, it } from 'vitest';
import type { StatsSample } from './docker.client.js';
import { StatsHistory } from './stats.history.js';

const sample = (at: number, rx: number, tx: number, cpu = 5): StatsSample => ({ at, cpuPercent: cpu, memoryBytes: 10_000_000, memoryLimitBytes: 512 * 2 ** 20, networkRxBytes: rx, networkTxBytes: tx });

describe('container stats history', () => {
  it('keeps one bounded ring per service: the last hour at the sampling interval, no growth', () => {
    const h = new StatsHistory(15_000);
    expect(h.capacity).toBe(241);
    for (let i = 0; i < 1000; i++) h.record('a', sample(i * 15_000, i * 1000, i * 10));
    const pts = h.points('a');
    expect(pts).toHaveLength(241);
    expect(pts[0]!.at).toBe((1000 - 241) * 15_000);
    expect(h.points('a', pts.at(-2)!.at)).toHaveLength(1);
    expect(h.points('other')).toEqual([]);
  });

  it('shows network as bytes per second against the previous sample; a counter reset (restart) is 0, not negative', () => {
    const h = new StatsHistory(10_000);
    expect(h.record('a', sample(0, 1000, 0))).toMatchObject({ rxBytesPerSec: 0, txBytesPerSec: 0 });
    expect(h.record('a', sample(10_000, 51_000, 2000))).toMatchObject({ rxBytesPerSec: 5000, txBytesPerSec: 200 });
    expect(h.record('a', sample(20_000, 100, 100))).toMatchObject({ rxBytesPerSec: 0, txBytesPerSec: 0 });
    // the same reading twice is one point
    h.record('a', sample(20_000, 100, 100));
    expect(h.points('a')).toHaveLength(3);
  });

  it('a sweep samples running services only, drops deleted ones, and never overlaps itself', async () => {
    const h = new StatsHistory(1000);
    h.record('gone', sample(1, 0, 0));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const asked: string[] = [];
    const first = h.sweep([{ id: 'a', running: true }, { id: 'b', running: false }], async (id) => {
      asked.push(id);
      await gate;
      return sample(Date.now(), 0, 0);
    });
    expect(await h.sweep([{ id: 'a', running: true }], async () => sample(5, 0, 0))).toBe(0); // still sweeping
    release();
    expect(await first).toBe(1);
    expect(asked).toEqual(['a']);
    expect(h.points('gone')).toEqual([]);
    expect(h.points('a')).toHaveLength(1);
    // a failing engine is no point, not a crash
    expect(await h.sweep([{ id: 'a', running: true }], async () => { throw new Error('docker down'); })).toBe(0);
  });
});
