import { describe, expect, it } from 'vitest';
import { place, type HostCapacity } from './placement.js';

const host = (id: string, over: Partial<HostCapacity> = {}, alloc: Partial<HostCapacity['allocated']> = {}): HostCapacity => ({
  hostId: id, name: id, cpus: 4, memoryMb: 8192, diskGb: 100, accepting: true,
  allocated: { vcpus: 0, memoryMb: 0, diskGb: 0, ...alloc }, ...over,
});

describe('placement', () => {
  it('picks the host that keeps the most memory free', () => {
    const r = place([host('a', {}, { memoryMb: 4096 }), host('b', {}, { memoryMb: 1024 })], { vcpus: 2, memoryMb: 2048, diskGb: 20 });
    expect(r).toEqual({ ok: true, hostId: 'b', headroom: { vcpus: 14, memoryMb: 8192 - 1024 - 2048, diskGb: 80 } });
  });
  it('CPU over-allocation ratio applies; memory is not over-allocated by default', () => {
    expect(place([host('a', {}, { vcpus: 15 })], { vcpus: 1, memoryMb: 512, diskGb: 1 }).ok).toBe(true);
    const r = place([host('a', {}, { vcpus: 16 })], { vcpus: 1, memoryMb: 512, diskGb: 1 });
    expect(r).toMatchObject({ ok: false, limit: 'vcpus', details: { requested: 1, largestFree: 0 } });
    expect(place([host('a')], { vcpus: 1, memoryMb: 8193, diskGb: 1 })).toMatchObject({ ok: false, limit: 'memoryMb', message: expect.stringMatching(/8193 MB of memory.*8192/) });
    expect(place([host('a')], { vcpus: 1, memoryMb: 8193, diskGb: 1 }, { cpu: 4, memory: 1.5, disk: 1 }).ok).toBe(true);
  });
  it('names the disk as the limit when only disk is short', () => {
    expect(place([host('a', {}, { diskGb: 90 }), host('b', {}, { diskGb: 95 })], { vcpus: 1, memoryMb: 512, diskGb: 20 })).toMatchObject({ ok: false, limit: 'diskGb', details: { largestFree: 10 } });
  });
  it('never places on a host that is not accepting; no hosts is its own reason', () => {
    expect(place([host('a', { accepting: false })], { vcpus: 1, memoryMb: 1, diskGb: 1 })).toMatchObject({ ok: false, limit: 'no_hosts' });
    expect(place([], { vcpus: 1, memoryMb: 1, diskGb: 1 })).toMatchObject({ ok: false, limit: 'no_hosts' });
  });
  it('refuses nonsense requests and ratios', () => {
    expect(() => place([host('a')], { vcpus: 0, memoryMb: 1, diskGb: 1 })).toThrow();
    expect(() => place([host('a')], { vcpus: 1.5, memoryMb: 1, diskGb: 1 })).toThrow();
    expect(() => place([host('a')], { vcpus: 1, memoryMb: 1, diskGb: 1 }, { cpu: 0, memory: 1, disk: 1 })).toThrow();
  });
});
