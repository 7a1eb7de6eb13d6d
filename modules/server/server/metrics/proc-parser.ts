/**
 * Parsers for the Linux /proc files the sampler reads. Pure functions: the same code parses files
 * read locally and the output of one `tail -n +1 -- <files>` over a remote host's SSH connection.
 */

export interface CpuTimes {
  user: number; nice: number; system: number; idle: number; iowait: number; irq: number; softirq: number; steal: number;
}
export interface DiskCounters { device: string; readsCompleted: number; sectorsRead: number; writesCompleted: number; sectorsWritten: number }
export interface NetCounters { iface: string; rxBytes: number; rxPackets: number; txBytes: number; txPackets: number }
export interface MountEntry { device: string; mount: string; fstype: string }
export interface FsUsage { mount: string; totalBytes: number; usedBytes: number; availableBytes: number }

/** One reading of the raw counters; rates come from the difference of two readings. */
export interface ProcSnapshot {
  at: number;
  cpuTotal: CpuTimes;
  cpuPerCore: CpuTimes[];
  load: [number, number, number];
  memory: { totalBytes: number; availableBytes: number; freeBytes: number; swapTotalBytes: number; swapFreeBytes: number };
  disks: DiskCounters[];
  net: NetCounters[];
  uptimeSeconds: number;
  mounts: MountEntry[];
  filesystems: FsUsage[];
}

export const PROC_FILES = ['/proc/stat', '/proc/loadavg', '/proc/meminfo', '/proc/diskstats', '/proc/net/dev', '/proc/uptime', '/proc/mounts'] as const;
export type ProcFile = (typeof PROC_FILES)[number];

const num = (s: string | undefined): number => {
  const n = Number(s);
  return Number.isFinite(n) ? n : 0;
};

function cpuTimes(fields: string[]): CpuTimes {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields.map(num);
  return { user: user ?? 0, nice: nice ?? 0, system: system ?? 0, idle: idle ?? 0, iowait: iowait ?? 0, irq: irq ?? 0, softirq: softirq ?? 0, steal: steal ?? 0 };
}

export function parseStat(text: string): { total: CpuTimes; perCore: CpuTimes[] } {
  let total: CpuTimes | undefined;
  const perCore: CpuTimes[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) continue;
    const [name, ...rest] = line.trim().split(/\s+/);
    if (name === 'cpu') total = cpuTimes(rest);
    else if (/^cpu\d+$/.test(name ?? '')) perCore[Number(name!.slice(3))] = cpuTimes(rest);
  }
  if (!total) throw new Error('/proc/stat has no cpu line');
  return { total, perCore: perCore.filter(Boolean) };
}

export function parseLoadavg(text: string): [number, number, number] {
  const [a, b, c] = text.trim().split(/\s+/);
  return [num(a), num(b), num(c)];
}

export function parseMeminfo(text: string): ProcSnapshot['memory'] {
  const kb = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9_()]+):\s+(\d+)/.exec(line);
    if (m) kb.set(m[1]!, Number(m[2]));
  }
  const total = kb.get('MemTotal') ?? 0;
  const free = kb.get('MemFree') ?? 0;
  // Kernels before 3.14 lack MemAvailable: approximate it the way `free` does.
  const available = kb.get('MemAvailable') ?? free + (kb.get('Buffers') ?? 0) + (kb.get('Cached') ?? 0);
  return {
    totalBytes: total * 1024,
    availableBytes: available * 1024,
    freeBytes: free * 1024,
    swapTotalBytes: (kb.get('SwapTotal') ?? 0) * 1024,
    swapFreeBytes: (kb.get('SwapFree') ?? 0) * 1024,
  };
}

/** Whole disks only (partitions, loop and ram devices are left out so I/O is not double counted). */
export function isWholeDisk(device: string): boolean {
  if (/^(loop|ram|zram|dm-|sr|fd)\d*/.test(device)) return false;
  if (/^(nvme\d+n\d+|mmcblk\d+)$/.test(device)) return true;
  if (/^(nvme|mmcblk)/.test(device)) return false;
  return /^(sd|vd|xvd|hd)[a-z]+$/.test(device) || /^md\d+$/.test(device);
}

export function parseDiskstats(text: string): DiskCounters[] {
  const out: DiskCounters[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !f[2] || !isWholeDisk(f[2])) continue;
    out.push({ device: f[2], readsCompleted: num(f[3]), sectorsRead: num(f[5]), writesCompleted: num(f[7]), sectorsWritten: num(f[9]) });
  }
  return out;
}

export function parseNetDev(text: string): NetCounters[] {
  const out: NetCounters[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.includes('|')) continue;
    const iface = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/);
    if (!iface || f.length < 10) continue;
    out.push({ iface, rxBytes: num(f[0]), rxPackets: num(f[1]), txBytes: num(f[8]), txPackets: num(f[9]) });
  }
  return out;
}

export function parseUptime(text: string): number {
  return num(text.trim().split(/\s+/)[0]);
}

/** Filesystems that hold data; pseudo and in-memory filesystems are not disk usage. */
const DATA_FS = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'zfs', 'f2fs', 'jfs', 'reiserfs', 'vfat', 'exfat', 'ntfs', 'ntfs3', 'nfs', 'nfs4', 'cifs', 'fuseblk']);

/** /proc/mounts escapes spaces and tabs in paths as octal (\040, \011). */
const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMounts(text: string): MountEntry[] {
  const seen = new Set<string>();
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const [device, mount, fstype] = line.trim().split(/\s+/);
    if (!device || !mount || !fstype || !DATA_FS.has(fstype)) continue;
    const m = unescapeMount(mount);
    // The same device bind-mounted in several places is one filesystem.
    if (seen.has(device) || seen.has(`m:${m}`)) continue;
    seen.add(device);
    seen.add(`m:${m}`);
    out.push({ device: unescapeMount(device), mount: m, fstype });
  }
  return out;
}

/** `df -P -k` output (POSIX format, 1024-byte blocks). The mount point is everything after the capacity column. */
export function parseDfPosix(text: string): FsUsage[] {
  const out: FsUsage[] = [];
  for (const line of text.split('\n').slice(1)) {
    const m = /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+%\s+(.+)$/.exec(line.trim());
    if (!m) continue;
    out.push({ mount: m[5]!, totalBytes: Number(m[2]) * 1024, usedBytes: Number(m[3]) * 1024, availableBytes: Number(m[4]) * 1024 });
  }
  return out;
}

/** Splits `tail -n +1 -- a b c` output (`==> a <==` headers) into each file's text. */
export function splitTailOutput(text: string): Map<string, string> {
  const files = new Map<string, string>();
  let current: string | undefined;
  let buf: string[] = [];
  for (const line of text.split('\n')) {
    const h = /^==> (.+) <==$/.exec(line);
    if (h) {
      if (current) files.set(current, buf.join('\n'));
      current = h[1]!;
      buf = [];
    } else if (current) buf.push(line);
  }
  if (current) files.set(current, buf.join('\n'));
  return files;
}

export function snapshotFromFiles(files: ReadonlyMap<string, string>, filesystems: FsUsage[], at: number): ProcSnapshot {
  const get = (f: ProcFile) => {
    const t = files.get(f);
    if (t === undefined) throw new Error(`${f} was not read`);
    return t;
  };
  const stat = parseStat(get('/proc/stat'));
  const mem = parseMeminfo(get('/proc/meminfo'));
  return {
    at,
    cpuTotal: stat.total,
    cpuPerCore: stat.perCore,
    load: parseLoadavg(get('/proc/loadavg')),
    memory: mem,
    disks: parseDiskstats(get('/proc/diskstats')),
    net: parseNetDev(get('/proc/net/dev')),
    uptimeSeconds: parseUptime(get('/proc/uptime')),
    mounts: parseMounts(get('/proc/mounts')),
    filesystems,
  };
}

// ---- derived values -------------------------------------------------------------------------

export interface CpuUsage { percent: number; user: number; system: number; iowait: number; steal: number }

const busyOf = (t: CpuTimes) => t.user + t.nice + t.system + t.irq + t.softirq + t.steal;
const allOf = (t: CpuTimes) => busyOf(t) + t.idle + t.iowait;
const round1 = (n: number) => Math.round(n * 10) / 10;

export function cpuUsage(prev: CpuTimes, cur: CpuTimes): CpuUsage {
  const total = allOf(cur) - allOf(prev);
  if (total <= 0) return { percent: 0, user: 0, system: 0, iowait: 0, steal: 0 };
  const pct = (n: number) => round1(Math.max(0, Math.min(100, (n / total) * 100)));
  return {
    percent: pct(busyOf(cur) - busyOf(prev)),
    user: pct(cur.user + cur.nice - prev.user - prev.nice),
    system: pct(cur.system + cur.irq + cur.softirq - prev.system - prev.irq - prev.softirq),
    iowait: pct(cur.iowait - prev.iowait),
    steal: pct(cur.steal - prev.steal),
  };
}

/** Everything the dashboard shows for one moment, computed from two snapshots. */
export interface MetricSample {
  at: number;
  intervalMs: number;
  cpu: CpuUsage & { perCore: number[]; cores: number };
  load: { load1: number; load5: number; load15: number };
  memory: { totalBytes: number; usedBytes: number; availableBytes: number; usedPercent: number; swapTotalBytes: number; swapUsedBytes: number; swapUsedPercent: number };
  disks: { mount: string; device: string; fstype: string; totalBytes: number; usedBytes: number; availableBytes: number; usedPercent: number }[];
  diskIo: { device: string; readBytesPerSec: number; writeBytesPerSec: number; readsPerSec: number; writesPerSec: number }[];
  network: { iface: string; rxBytesPerSec: number; txBytesPerSec: number; rxPacketsPerSec: number; txPacketsPerSec: number }[];
  uptimeSeconds: number;
}

/** Counters that went backwards (reboot, counter wrap, device re-added) count as zero, not negative. */
const rate = (cur: number, prev: number, seconds: number) => (cur >= prev && seconds > 0 ? round1((cur - prev) / seconds) : 0);

export function computeSample(prev: ProcSnapshot, cur: ProcSnapshot): MetricSample {
  const seconds = (cur.at - prev.at) / 1000;
  const mem = cur.memory;
  const used = mem.totalBytes - mem.availableBytes;
  const swapUsed = mem.swapTotalBytes - mem.swapFreeBytes;
  const pct = (a: number, b: number) => (b > 0 ? round1((a / b) * 100) : 0);
  const usage = new Map(cur.filesystems.map((f) => [f.mount, f]));
  const prevDisks = new Map(prev.disks.map((d) => [d.device, d]));
  const prevNet = new Map(prev.net.map((n) => [n.iface, n]));
  return {
    at: cur.at,
    intervalMs: cur.at - prev.at,
    cpu: {
      ...cpuUsage(prev.cpuTotal, cur.cpuTotal),
      perCore: cur.cpuPerCore.map((c, i) => (prev.cpuPerCore[i] ? cpuUsage(prev.cpuPerCore[i]!, c).percent : 0)),
      cores: cur.cpuPerCore.length || 1,
    },
    load: { load1: cur.load[0], load5: cur.load[1], load15: cur.load[2] },
    memory: {
      totalBytes: mem.totalBytes, usedBytes: used, availableBytes: mem.availableBytes, usedPercent: pct(used, mem.totalBytes),
      swapTotalBytes: mem.swapTotalBytes, swapUsedBytes: swapUsed, swapUsedPercent: pct(swapUsed, mem.swapTotalBytes),
    },
    disks: cur.mounts.flatMap((m) => {
      const u = usage.get(m.mount);
      if (!u || u.totalBytes === 0) return [];
      // Like df: the share of the space non-root users can use (reserved blocks excluded).
      return [{ mount: m.mount, device: m.device, fstype: m.fstype, totalBytes: u.totalBytes, usedBytes: u.usedBytes, availableBytes: u.availableBytes, usedPercent: pct(u.usedBytes, u.usedBytes + u.availableBytes) }];
    }),
    diskIo: cur.disks.map((d) => {
      const p = prevDisks.get(d.device) ?? d;
      return {
        device: d.device,
        readBytesPerSec: rate(d.sectorsRead * 512, p.sectorsRead * 512, seconds),
        writeBytesPerSec: rate(d.sectorsWritten * 512, p.sectorsWritten * 512, seconds),
        readsPerSec: rate(d.readsCompleted, p.readsCompleted, seconds),
        writesPerSec: rate(d.writesCompleted, p.writesCompleted, seconds),
      };
    }),
    network: cur.net.map((n) => {
      const p = prevNet.get(n.iface) ?? n;
      return {
        iface: n.iface,
        rxBytesPerSec: rate(n.rxBytes, p.rxBytes, seconds),
        txBytesPerSec: rate(n.txBytes, p.txBytes, seconds),
        rxPacketsPerSec: rate(n.rxPackets, p.rxPackets, seconds),
        txPacketsPerSec: rate(n.txPackets, p.txPackets, seconds),
      };
    }),
    uptimeSeconds: cur.uptimeSeconds,
  };
}

/** The numbers charted over time (history and the 7-day table keep only these). */
export interface MetricPoint {
  at: number;
  cpuPercent: number;
  load1: number;
  memUsedPercent: number;
  swapUsedPercent: number;
  netRxBytesPerSec: number;
  netTxBytesPerSec: number;
  diskReadBytesPerSec: number;
  diskWriteBytesPerSec: number;
  diskMaxUsedPercent: number;
}
export const POINT_FIELDS = ['cpuPercent', 'load1', 'memUsedPercent', 'swapUsedPercent', 'netRxBytesPerSec', 'netTxBytesPerSec', 'diskReadBytesPerSec', 'diskWriteBytesPerSec', 'diskMaxUsedPercent'] as const;

export function toPoint(s: MetricSample): MetricPoint {
  const external = s.network.filter((n) => n.iface !== 'lo');
  const sum = (xs: number[]) => round1(xs.reduce((a, b) => a + b, 0));
  return {
    at: s.at,
    cpuPercent: s.cpu.percent,
    load1: s.load.load1,
    memUsedPercent: s.memory.usedPercent,
    swapUsedPercent: s.memory.swapUsedPercent,
    netRxBytesPerSec: sum(external.map((n) => n.rxBytesPerSec)),
    netTxBytesPerSec: sum(external.map((n) => n.txBytesPerSec)),
    diskReadBytesPerSec: sum(s.diskIo.map((d) => d.readBytesPerSec)),
    diskWriteBytesPerSec: sum(s.diskIo.map((d) => d.writeBytesPerSec)),
    diskMaxUsedPercent: s.disks.reduce((m, d) => Math.max(m, d.usedPercent), 0),
  };
}

/** Averages points into buckets of `stepMs` (bucket start as `at`). */
export function downsample(points: readonly MetricPoint[], stepMs: number): MetricPoint[] {
  const buckets = new Map<number, MetricPoint[]>();
  for (const p of points) {
    const key = Math.floor(p.at / stepMs) * stepMs;
    let b = buckets.get(key);
    if (!b) buckets.set(key, (b = []));
    b.push(p);
  }
  return [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([at, ps]) => {
    const out = { at } as MetricPoint;
    for (const f of POINT_FIELDS) out[f] = round1(ps.reduce((a, p) => a + p[f], 0) / ps.length);
    return out;
  });
}
