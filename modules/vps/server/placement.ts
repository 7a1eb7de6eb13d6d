/**
 * Placement: which host gets a new VPS. A pure function: hosts' capacity and what is already
 * allocated on them in, one decision (or the limit that stopped every host) out. CPU and memory
 * may be over-allocated by a configurable ratio (e.g. 4.0 vCPU per core, 1.0 for RAM); disk is
 * counted by the plan's virtual size (thin qcow2 overlays, ratio configurable too).
 */

export interface HostCapacity {
  hostId: string;
  name: string;
  cpus: number;
  memoryMb: number;
  diskGb: number;
  /** Already allocated to VPSes placed there (running or not). */
  allocated: { vcpus: number; memoryMb: number; diskGb: number };
  /** Hosts being drained or in maintenance are never chosen. */
  accepting: boolean;
}

export interface PlacementRatios {
  cpu: number;
  memory: number;
  disk: number;
}

export interface PlacementRequest {
  vcpus: number;
  memoryMb: number;
  diskGb: number;
}

export type Resource = 'vcpus' | 'memoryMb' | 'diskGb';

export type PlacementResult =
  | { ok: true; hostId: string; headroom: Record<Resource, number> }
  | { ok: false; limit: Resource | 'no_hosts'; message: string; details: { resource: Resource | 'no_hosts'; requested: number; largestFree: number } };

export const DEFAULT_RATIOS: PlacementRatios = { cpu: 4, memory: 1, disk: 1 };

const LABEL: Record<Resource, string> = { vcpus: 'vCPUs', memoryMb: 'MB of memory', diskGb: 'GB of disk' };

/** Free room on a host per resource, after the over-allocation ratio. */
export function freeRoom(h: HostCapacity, r: PlacementRatios): Record<Resource, number> {
  return {
    vcpus: Math.floor(h.cpus * r.cpu) - h.allocated.vcpus,
    memoryMb: Math.floor(h.memoryMb * r.memory) - h.allocated.memoryMb,
    diskGb: Math.floor(h.diskGb * r.disk) - h.allocated.diskGb,
  };
}

/**
 * Picks the accepting host where the request fits and that keeps the most memory free afterwards
 * (ties: fewest allocated vCPUs, then hostId for determinism). When none fits, names the resource
 * that stopped the most promising host, with the largest free amount of it anywhere.
 */
export function place(hosts: readonly HostCapacity[], req: PlacementRequest, ratios: PlacementRatios = DEFAULT_RATIOS): PlacementResult {
  for (const [k, v] of Object.entries(ratios)) if (!(v > 0 && Number.isFinite(v))) throw new TypeError(`over-allocation ratio ${k} must be a positive number`);
  for (const [k, v] of Object.entries(req)) if (!Number.isSafeInteger(v) || v <= 0) throw new TypeError(`${k} must be a positive integer`);
  const candidates = hosts.filter((h) => h.accepting);
  if (!candidates.length) return { ok: false, limit: 'no_hosts', message: 'No host is accepting new VPSes', details: { resource: 'no_hosts', requested: 0, largestFree: 0 } };
  const resources: Resource[] = ['vcpus', 'memoryMb', 'diskGb'];
  const fits = candidates
    .map((h) => ({ h, free: freeRoom(h, ratios) }))
    .filter(({ free }) => resources.every((k) => free[k] >= req[k]))
    .sort((a, b) => b.free.memoryMb - req.memoryMb - (a.free.memoryMb - req.memoryMb) || a.h.allocated.vcpus - b.h.allocated.vcpus || a.h.hostId.localeCompare(b.h.hostId));
  const best = fits[0];
  if (best) {
    return { ok: true, hostId: best.h.hostId, headroom: { vcpus: best.free.vcpus - req.vcpus, memoryMb: best.free.memoryMb - req.memoryMb, diskGb: best.free.diskGb - req.diskGb } };
  }
  // the limit to report: the resource short on the most hosts, first in order of scarcity
  const shortCount = (k: Resource) => candidates.filter((h) => freeRoom(h, ratios)[k] < req[k]).length;
  const limit = [...resources].sort((a, b) => shortCount(b) - shortCount(a))[0]!;
  const largestFree = Math.max(0, ...candidates.map((h) => freeRoom(h, ratios)[limit]));
  return {
    ok: false,
    limit,
    message: `No host has room: the request needs ${req[limit]} ${LABEL[limit]}, the most any host has free is ${largestFree}`,
    details: { resource: limit, requested: req[limit], largestFree },
  };
}
