import { Alert, Card, Group, Progress, SegmentedControl, SimpleGrid, Stack, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { UPlotChart, api, call, formatBytes, formatTime, type ApiData } from '@slipway/web';
import type { Vps } from './api';

export const METRIC_RANGES = [
  { value: '1h', label: '1 hour' }, { value: '6h', label: '6 hours' }, { value: '24h', label: '24 hours' }, { value: '7d', label: '7 days' }, { value: '30d', label: '30 days' },
] as const;
type Range = (typeof METRIC_RANGES)[number]['value'];
type Point = ApiData<'/api/v1/vps/{id}/metrics', 'get'>['points'][number];

const rate = (v: number) => `${formatBytes(v)}/s`;
const RANGE_SECONDS: Record<Range, number> = { '1h': 3600, '6h': 21_600, '24h': 86_400, '7d': 604_800, '30d': 2_592_000 };

/** Usage graphs of one VPS (samples of `virsh domstats`) with a time-range picker, and the month's bandwidth. */
export default function VpsUsage({ vps }: { vps: Vps }) {
  const [range, setRange] = useState<Range>('1h');
  const q = useQuery({
    queryKey: ['vps', 'one', vps.id, 'metrics', range],
    queryFn: () => call(api.GET('/api/v1/vps/{id}/metrics', { params: { path: { id: vps.id }, query: { range } } })),
    refetchInterval: 60_000,
  });
  const points = q.data?.points ?? [];
  const xs = useMemo(() => points.map((p) => p.at / 1000), [points]);
  // Options stay the same object across refetches (UPlotChart re-creates the plot only when they change).
  const defs = useMemo(() => [
    { title: 'CPU (% of its vCPUs)', label: `CPU use of ${vps.hostname} in percent`, series: [{ label: 'CPU %', stroke: '#228be6' }], pick: (p: Point) => [p.cpuPct], unit: '%' },
    { title: 'Memory (MB)', label: `Memory of ${vps.hostname}: used and assigned, in MB`, series: [{ label: 'used', stroke: '#40c057' }, { label: 'assigned', stroke: '#adb5bd' }], pick: (p: Point) => [p.memoryUsedMb, p.memoryMb], unit: 'MB' },
    { title: 'Disk I/O', label: `Disk reads and writes of ${vps.hostname} per second`, series: [{ label: 'read', stroke: '#7950f2' }, { label: 'write', stroke: '#fa5252' }], pick: (p: Point) => [p.diskReadBps, p.diskWriteBps], unit: 'B/s' },
    { title: 'Network I/O', label: `Network traffic of ${vps.hostname} per second, in and out`, series: [{ label: 'in', stroke: '#15aabf' }, { label: 'out', stroke: '#fd7e14' }], pick: (p: Point) => [p.netRxBps, p.netTxBps], unit: 'B/s' },
  ].map((c) => ({
    ...c,
    options: {
      series: [{}, ...c.series.map((s) => ({ ...s, width: 1.5 }))],
      axes: [{}, { label: c.unit, values: (_u: unknown, ticks: number[]) => ticks.map((t) => (c.unit === 'B/s' ? rate(t) : String(t))) }],
    },
  })), [vps.hostname]);
  const charts = useMemo(() => defs.map((c) => ({ ...c, data: c.series.map((_s, i) => points.map((p) => c.pick(p)[i]!)) })), [defs, points]);
  const bw = q.data?.bandwidth;
  const pct = bw?.limitBytes ? Math.min(100, (bw.usedBytes / bw.limitBytes) * 100) : 0;

  return (
    <Stack>
      <Group justify="space-between">
        <SegmentedControl aria-label="Time range" value={range} onChange={(r) => setRange(r as Range)} data={METRIC_RANGES.map((r) => ({ ...r }))} />
        {points.length > 0 && <Text size="xs" c="dimmed">Last sample {formatTime(points[points.length - 1]!.at)}</Text>}
      </Group>
      {bw && (
        <Card withBorder>
          <Group justify="space-between" mb={4}>
            <Text fw={600}>Bandwidth in {bw.month}</Text>
            <Text size="sm">{formatBytes(bw.usedBytes)}{bw.limitBytes ? ` of ${formatBytes(bw.limitBytes)}` : ' (no limit in the plan)'}</Text>
          </Group>
          {bw.limitBytes !== null && <Progress value={pct} color={bw.overLimit ? 'red' : pct > 80 ? 'orange' : 'blue'} aria-label="Bandwidth used this month" />}
          <Text size="xs" c="dimmed" mt={4}>In {formatBytes(bw.rxBytes)} · out {formatBytes(bw.txBytes)}</Text>
          {bw.overLimit && <Alert color="red" mt="xs">This month's bandwidth allowance is used up.</Alert>}
        </Card>
      )}
      {q.error && <Alert color="red" title="Usage could not be loaded">{(q.error as Error).message}</Alert>}
      {!q.isLoading && !points.length ? (
        <Text size="sm" c="dimmed">No samples in this range yet. Usage is sampled while the server runs{q.data?.sampleIntervalMs ? `, every ${Math.round(q.data.sampleIntervalMs / 1000)} s` : ''}.</Text>
      ) : (
        <SimpleGrid cols={{ base: 1, lg: 2 }}>
          {charts.map((c) => (
            <Card withBorder key={c.title}>
              <Text fw={600} mb="xs">{c.title}</Text>
              <UPlotChart
                label={c.label}
                data={[xs, ...c.data]}
                height={180}
                windowSeconds={RANGE_SECONDS[range]}
                options={c.options}
              />
            </Card>
          ))}
        </SimpleGrid>
      )}
    </Stack>
  );
}
