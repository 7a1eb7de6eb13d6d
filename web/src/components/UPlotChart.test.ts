import { describe, expect, it } from 'vitest';
import { timeRange } from './UPlotChart';
import { jobTitle } from './JobTitle';

describe('chart time range', () => {
  const now = Date.parse('2026-12-03T18:00:00Z') / 1000;
  it('a single point gets ten minutes around it, not years (uPlot pads a lone epoch value from 2027 to 2029)', () => {
    const [min, max] = timeRange(now, now, undefined, now);
    expect(max - min).toBe(600);
    expect(min).toBeLessThan(now);
    expect(max).toBeGreaterThan(now);
    expect(new Date(min * 1000).getUTCFullYear()).toBe(2026);
    expect(new Date(max * 1000).getUTCFullYear()).toBe(2026);
  });
  it('a chart of "the last 15 minutes" spans 15 minutes ending now, however few points it has', () => {
    expect(timeRange(now - 5, now - 5, 900, now)).toEqual([now - 900, now]);
    expect(timeRange(null, null, 3600, now)).toEqual([now - 3600, now]);
  });
  it('without a window the data\'s own span is kept', () => {
    expect(timeRange(now - 7200, now, undefined, now)).toEqual([now - 7200, now]);
  });
});

describe('job titles name their resource', () => {
  it('adds the name a title lacks, once', () => {
    expect(jobTitle({ title: 'Create VPS', target: { name: 'web-1' } })).toBe('Create VPS web-1');
    expect(jobTitle({ title: 'Create container service shop', target: { name: 'shop' } })).toBe('Create container service shop');
    expect(jobTitle({ title: 'Create VPS' })).toBe('Create VPS');
  });
});
