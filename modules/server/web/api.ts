import type { ApiData } from '@slipway/web';

/** Shapes of the server module's API, derived from the OpenAPI document (web/src/api/schema.d.ts; /api/docs, tags "server" and "hosts"). */
export type HostView = ApiData<'/api/v1/hosts', 'get'>['items'][number];
export type MetricsResponse = ApiData<'/api/v1/server/metrics', 'get'>;
export type MetricPoint = MetricsResponse['history'][number];
/** One sample; also each `sample` event of GET /api/v1/server/metrics/stream. */
export type MetricSample = NonNullable<MetricsResponse['current']>;
export type Overview = ApiData<'/api/v1/system/overview', 'get'>;
export type Alert = Overview['alerts'][number];
export type ServicesResponse = ApiData<'/api/v1/server/services', 'get'>;
export type UnitStatus = ServicesResponse['items'][number];
export type LogSource = ApiData<'/api/v1/server/logs', 'get'>['items'][number];

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
