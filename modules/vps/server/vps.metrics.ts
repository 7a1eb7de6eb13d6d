import type { Kysely, Migration } from 'kysely';
import type { Virsh } from './libvirt.virsh.js';

/**
 * Usage of each VPS from `virsh domstats --raw` (one call per host for all running domains):
 * CPU %, memory, disk and network throughput as points in `vps_metrics` (one row per VPS and
 * sample), the last raw counters per VPS in `vps_metric_counters` (so rates and bandwidth survive a
 * panel restart), and bytes in + out per calendar month (UTC) in `vps_bandwidth`, counted against
 * the plan's `bandwidthGb`.
 */

export const vpsMetricsMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.createTable('vps_metrics')
      .addColumn('vps_id', 'text', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('cpu_pct', 'double precision', (c) => c.notNull())
      .addColumn('memory_used_mb', 'double precision', (c) => c.notNull())
      .addColumn('memory_mb', 'double precision', (c) => c.notNull())
      .addColumn('disk_read_bps', 'double precision', (c) => c.notNull())
      .addColumn('disk_write_bps', 'double precision', (c) => c.notNull())
      .addColumn('net_rx_bps', 'double precision', (c) => c.notNull())
      .addColumn('net_tx_bps', 'double precision', (c) => c.notNull())
      .addPrimaryKeyConstraint('vps_metrics_pk', ['vps_id', 'at'])
      .execute();
    await db.schema.createIndex('vps_metrics_at').on('vps_metrics').column('at').execute();
    await db.schema.createTable('vps_metric_counters')
      .addColumn('vps_id', 'text', (c) => c.primaryKey())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('cpu_ns', 'bigint', (c) => c.notNull())
      .addColumn('rd_bytes', 'bigint', (c) => c.notNull())
      .addColumn('wr_bytes', 'bigint', (c) => c.notNull())
      .addColumn('rx_bytes', 'bigint', (c) => c.notNull())
      .addColumn('tx_bytes', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createTable('vps_bandwidth')
      .addColumn('vps_id', 'text', (c) => c.notNull())
      .addColumn('month', 'text', (c) => c.notNull())
      .addColumn('rx_bytes', 'bigint', (c) => c.notNull())
      .addColumn('tx_bytes', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('vps_bandwidth_pk', ['vps_id', 'month'])
      .execute();
  },
  async down(db: Kysely<any>) {
    for (const t of ['vps_bandwidth', 'vps_metric_counters', 'vps_metrics']) await db.schema.dropTable(t).execute();
  },
};

export interface Counters { at: number; cpuNs: number; rdBytes: number; wrBytes: number; rxBytes: number; txBytes: number }
export interface MetricPoint {
  at: number; cpuPct: number; memoryUsedMb: number; memoryMb: number; diskReadBps: number; diskWriteBps: number; netRxBps: number; netTxBps: number;
}

const num = (v: number | string | undefined) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Sums `<prefix>.<n>.<field>` over the `<prefix>.count` devices of one domain's stats. */
function sum(s: Record<string, number | string>, prefix: 'block' | 'net', field: string): number {
  let t = 0;
  for (let i = 0; i < num(s[`${prefix}.count`]); i++) t += num(s[`${prefix}.${i}.${field}`]);
  return t;
}

/** The raw counters of one domain's `domstats --raw` record. */
export function countersOf(s: Record<string, number | string>, at: number): Counters {
  return { at, cpuNs: num(s['cpu.time']), rdBytes: sum(s, 'block', 'rd.bytes'), wrBytes: sum(s, 'block', 'wr.bytes'), rxBytes: sum(s, 'net', 'rx.bytes'), txBytes: sum(s, 'net', 'tx.bytes') };
}

/** A counter that went down was reset (the domain restarted): the new value is what happened since. */
const delta = (now: number, before: number) => (now >= before ? now - before : now);

/**
 * One point from two samples of the same domain. CPU is a percentage of the VPS's vCPUs; memory
 * used is what the guest's balloon driver reports (available − unused), else QEMU's resident size.
 */
export function pointOf(s: Record<string, number | string>, now: Counters, prev: Counters, vcpus: number): MetricPoint | null {
  const dt = now.at - prev.at;
  if (dt <= 0) return null;
  const sec = dt / 1000;
  const memoryMb = num(s['balloon.current']) / 1024;
  const avail = num(s['balloon.available']);
  const used = avail > 0 && s['balloon.unused'] !== undefined ? avail - num(s['balloon.unused']) : num(s['balloon.rss']);
  const cpu = (delta(now.cpuNs, prev.cpuNs) / (dt * 1e6)) * 100 / Math.max(1, vcpus);
  return {
    at: now.at,
    cpuPct: Math.min(100, Math.max(0, Math.round(cpu * 100) / 100)),
    memoryUsedMb: Math.round((Math.min(used, avail > 0 ? avail : Number.POSITIVE_INFINITY) / 1024) * 10) / 10,
    memoryMb: Math.round(memoryMb),
    diskReadBps: Math.round(delta(now.rdBytes, prev.rdBytes) / sec),
    diskWriteBps: Math.round(delta(now.wrBytes, prev.wrBytes) / sec),
    netRxBps: Math.round(delta(now.rxBytes, prev.rxBytes) / sec),
    netTxBps: Math.round(delta(now.txBytes, prev.txBytes) / sec),
  };
}

/** Averages points into `stepMs` buckets (for long ranges). */
export function downsample(points: MetricPoint[], stepMs: number): MetricPoint[] {
  const out: MetricPoint[] = [];
  let bucket: MetricPoint[] = [];
  const flush = () => {
    if (!bucket.length) return;
    const avg = (k: keyof MetricPoint) => bucket.reduce((a, p) => a + p[k], 0) / bucket.length;
    out.push({
      at: Math.floor(bucket[0]!.at / stepMs) * stepMs, cpuPct: Math.round(avg('cpuPct') * 100) / 100, memoryUsedMb: Math.round(avg('memoryUsedMb') * 10) / 10, memoryMb: Math.round(avg('memoryMb')),
      diskReadBps: Math.round(avg('diskReadBps')), diskWriteBps: Math.round(avg('diskWriteBps')), netRxBps: Math.round(avg('netRxBps')), netTxBps: Math.round(avg('netTxBps')),
    });
    bucket = [];
  };
  for (const p of points) {
    if (bucket.length && Math.floor(bucket[0]!.at / stepMs) !== Math.floor(p.at / stepMs)) flush();
    bucket.push(p);
  }
  flush();
  return out;
}

export const monthOf = (at: number) => new Date(at).toISOString().slice(0, 7);

export const METRIC_RANGES = { '1h': 3_600_000, '6h': 6 * 3_600_000, '24h': 24 * 3_600_000, '7d': 7 * 24 * 3_600_000, '30d': 30 * 24 * 3_600_000 } as const;
export type MetricRange = keyof typeof METRIC_RANGES;
/** At most this many points per answer. */
const MAX_POINTS = 360;

export interface SampledVps { id: string; domainName: string; vcpus: number }

export class VpsMetricsStore {
  constructor(private readonly db: Kysely<any>) {}

  private async counters(vpsId: string): Promise<Counters | undefined> {
    const r = await this.db.selectFrom('vps_metric_counters').selectAll().where('vps_id', '=', vpsId).executeTakeFirst();
    return r ? { at: Number(r.at), cpuNs: Number(r.cpu_ns), rdBytes: Number(r.rd_bytes), wrBytes: Number(r.wr_bytes), rxBytes: Number(r.rx_bytes), txBytes: Number(r.tx_bytes) } : undefined;
  }

  /**
   * One `domstats` for the host's running domains; for each of `vpses` that is running: a point
   * (when an earlier sample exists) and the month's bandwidth. Returns the number of points stored.
   */
  async sample(virsh: Virsh, vpses: SampledVps[], now = Date.now()): Promise<{ points: number; bandwidth: Map<string, number> }> {
    const grown = new Map<string, number>();
    if (!vpses.length) return { points: 0, bandwidth: grown };
    const stats = await virsh.domstats([], ['cpu-total', 'balloon', 'interface', 'block'], { activeOnly: true });
    let points = 0;
    for (const v of vpses) {
      const s = stats.get(v.domainName);
      if (!s) continue;
      const cur = countersOf(s, now);
      const prev = await this.counters(v.id);
      const p = prev ? pointOf(s, cur, prev, v.vcpus) : null;
      if (p) {
        await this.db.insertInto('vps_metrics').values({
          vps_id: v.id, at: p.at, cpu_pct: p.cpuPct, memory_used_mb: p.memoryUsedMb, memory_mb: p.memoryMb, disk_read_bps: p.diskReadBps, disk_write_bps: p.diskWriteBps, net_rx_bps: p.netRxBps, net_tx_bps: p.netTxBps,
        }).onConflict((oc) => oc.columns(['vps_id', 'at']).doNothing()).execute();
        points++;
      }
      // Bandwidth: everything since the previous sample (or since the domain started, for the first).
      const rx = delta(cur.rxBytes, prev?.rxBytes ?? 0);
      const tx = delta(cur.txBytes, prev?.txBytes ?? 0);
      if (rx || tx) {
        const month = monthOf(now);
        const r = await this.db.updateTable('vps_bandwidth')
          .set((eb) => ({ rx_bytes: eb('rx_bytes', '+', rx), tx_bytes: eb('tx_bytes', '+', tx) }))
          .where('vps_id', '=', v.id).where('month', '=', month).executeTakeFirst();
        if (!Number(r.numUpdatedRows)) await this.db.insertInto('vps_bandwidth').values({ vps_id: v.id, month, rx_bytes: rx, tx_bytes: tx }).execute();
        grown.set(v.id, rx + tx);
      }
      const row = { at: cur.at, cpu_ns: cur.cpuNs, rd_bytes: cur.rdBytes, wr_bytes: cur.wrBytes, rx_bytes: cur.rxBytes, tx_bytes: cur.txBytes };
      await this.db.insertInto('vps_metric_counters').values({ vps_id: v.id, ...row }).onConflict((oc) => oc.column('vps_id').doUpdateSet(row)).execute();
    }
    return { points, bandwidth: grown };
  }

  async history(vpsId: string, range: MetricRange, now = Date.now()): Promise<{ stepMs: number; points: MetricPoint[] }> {
    const span = METRIC_RANGES[range];
    const rows = await this.db.selectFrom('vps_metrics').selectAll().where('vps_id', '=', vpsId).where('at', '>=', now - span).where('at', '<=', now).orderBy('at').execute();
    const points: MetricPoint[] = rows.map((r) => ({
      at: Number(r.at), cpuPct: Number(r.cpu_pct), memoryUsedMb: Number(r.memory_used_mb), memoryMb: Number(r.memory_mb), diskReadBps: Number(r.disk_read_bps),
      diskWriteBps: Number(r.disk_write_bps), netRxBps: Number(r.net_rx_bps), netTxBps: Number(r.net_tx_bps),
    }));
    const stepMs = Math.max(60_000, Math.ceil(span / MAX_POINTS / 60_000) * 60_000);
    return { stepMs, points: points.length > MAX_POINTS ? downsample(points, stepMs) : points };
  }

  async bandwidth(vpsId: string, month: string): Promise<{ rxBytes: number; txBytes: number }> {
    const r = await this.db.selectFrom('vps_bandwidth').selectAll().where('vps_id', '=', vpsId).where('month', '=', month).executeTakeFirst();
    return { rxBytes: Number(r?.rx_bytes ?? 0), txBytes: Number(r?.tx_bytes ?? 0) };
  }

  /** Counters are reset when the disk is replaced (reinstall) or the VPS is deleted. */
  async forget(vpsId: string, o: { all?: boolean } = {}): Promise<void> {
    await this.db.deleteFrom('vps_metric_counters').where('vps_id', '=', vpsId).execute();
    if (o.all) {
      await this.db.deleteFrom('vps_metrics').where('vps_id', '=', vpsId).execute();
      await this.db.deleteFrom('vps_bandwidth').where('vps_id', '=', vpsId).execute();
    }
  }

  async prune(retentionDays: number, now = Date.now()): Promise<number> {
    const r = await this.db.deleteFrom('vps_metrics').where('at', '<', now - retentionDays * 24 * 3_600_000).executeTakeFirst();
    return Number(r.numDeletedRows ?? 0);
  }
}
