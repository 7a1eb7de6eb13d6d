export { getJson, sendJson } from '@slipway/web';

/** Shapes of the server module's API (see /api/docs, tag "server" and "hosts"). */
export interface HostView {
  id: string;
  name: string;
  kind: 'local' | 'ssh';
  address: string | null;
  port: number | null;
  username: string | null;
  hostKeyFingerprint: string | null;
  capabilities: Record<string, boolean>;
  status: string;
  lastCheckedAt: number | null;
}

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

export interface MetricSample {
  at: number;
  cpu: { percent: number; perCore: number[]; cores: number; iowait: number };
  load: { load1: number; load5: number; load15: number };
  memory: { totalBytes: number; usedBytes: number; usedPercent: number; swapTotalBytes: number; swapUsedBytes: number; swapUsedPercent: number };
  disks: { mount: string; device: string; totalBytes: number; usedBytes: number; availableBytes: number; usedPercent: number }[];
  diskIo: { device: string; readBytesPerSec: number; writeBytesPerSec: number }[];
  network: { iface: string; rxBytesPerSec: number; txBytesPerSec: number }[];
  uptimeSeconds: number;
}

export interface MetricsResponse {
  hostId: string;
  intervalMs: number;
  sampler: { state: string; error: string | null; lastSampleAt: number | null } | null;
  current: MetricSample | null;
  history: MetricPoint[];
}

export interface Alert { id: string; hostId: string; kind: string; subject: string; message: string; since: number }

export interface Overview {
  hosts: { id: string; name: string; status: string; metrics: { cpuPercent: number; memUsedPercent: number; diskMaxUsedPercent: number } | null }[];
  totals: { hosts: number; online: number; cores: number; memoryTotalBytes: number; memoryUsedBytes: number; diskTotalBytes: number; diskUsedBytes: number };
  alerts: Alert[];
}

export interface UnitStatus {
  unit: string;
  description: string;
  activeState: string;
  subState: string;
  mainPid: number | null;
  memoryBytes: number | null;
  since: number | null;
}

export interface ServicesResponse { hostId: string; systemd: { live: boolean; state: string }; allowlist: string[]; items: UnitStatus[] }

export interface LogSource { id: string; title: string; kind: 'file' | 'journal' | 'command'; path?: string; unit?: string; command?: string; available: boolean }


/** The point a live sample adds to the charts (same sums as the server's history). */
export function pointOf(s: MetricSample): MetricPoint {
  const ext = s.network.filter((n) => n.iface !== 'lo');
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return {
    at: s.at,
    cpuPercent: s.cpu.percent,
    load1: s.load.load1,
    memUsedPercent: s.memory.usedPercent,
    swapUsedPercent: s.memory.swapUsedPercent,
    netRxBytesPerSec: sum(ext.map((n) => n.rxBytesPerSec)),
    netTxBytesPerSec: sum(ext.map((n) => n.txBytesPerSec)),
    diskReadBytesPerSec: sum(s.diskIo.map((d) => d.readBytesPerSec)),
    diskWriteBytesPerSec: sum(s.diskIo.map((d) => d.writeBytesPerSec)),
    diskMaxUsedPercent: Math.max(0, ...s.disks.map((d) => d.usedPercent)),
  };
}

export function formatUptime(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m`;
}
