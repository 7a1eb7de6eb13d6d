import { Alert, Badge, Group, Paper, Progress, SegmentedControl, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useMemo, useState } from 'react';
import type uPlot from 'uplot';
import { PageHeader, UPlotChart, api, call, formatBytes, streamSse, useCurrentHost } from '@slipway/web';
import { formatUptime, pointOf, type MetricPoint, type MetricSample } from './api';
import { NetdataCard } from './NetdataCard';
import { ServerNav } from './ServerNav';

const RANGES = [
  { value: '900', label: '15 min' },
  { value: '3600', label: '1 h' },
  { value: '21600', label: '6 h' },
  { value: '86400', label: '24 h' },
  { value: '604800', label: '7 d' },
];

function chartOptions(series: { label: string; stroke: string }[], unit: (v: number) => string, percent = false): Omit<uPlot.Options, 'width' | 'height'> {
  return {
    scales: { x: { time: true }, ...(percent ? { y: { range: [0, 100] as [number, number] } } : {}) },
    axes: [{}, { values: (_u, vals) => vals.map((v) => unit(v)) }],
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 1.5, value: (_u: uPlot, v: number | null) => (v === null ? '—' : unit(v)) }))],
    legend: { show: true },
  };
}

const pct = (v: number) => `${v.toFixed(0)} %`;
const rate = (v: number) => `${formatBytes(v)}/s`;
const num = (v: number) => v.toFixed(2);

/** Live charts of one host: CPU, memory, load, network, disk I/O, with a time-range picker. */
export default function DashboardPage() {
  const host = useCurrentHost();
  const [range, setRange] = useState('900');
  const live = Number(range) <= 3600;
  const metrics = useQuery({
    queryKey: ['server-metrics', host, range],
    queryFn: () => call(api.GET('/api/v1/server/metrics', { params: { query: { host, from: -Number(range) } } })),
    refetchInterval: live ? false : 60_000,
  });
  const overview = useQuery({ queryKey: ['system-overview'], queryFn: () => call(api.GET('/api/v1/system/overview')), refetchInterval: 10_000 });
  const [livePoints, setLivePoints] = useState<MetricPoint[]>([]);
  const [current, setCurrent] = useState<MetricSample | null>(null);

  useEffect(() => {
    setLivePoints([]);
    setCurrent(null);
    if (!live) return;
    const ctl = new AbortController();
    void streamSse(`/api/v1/server/metrics/stream?host=${encodeURIComponent(host)}`, {
      signal: ctl.signal,
      onMessage: (m) => {
        if (m.event !== 'sample') return;
        const s = JSON.parse(m.data) as MetricSample;
        setCurrent(s);
        setLivePoints((prev) => [...prev.slice(-2000), pointOf(s)]);
      },
    });
    return () => ctl.abort();
  }, [host, live]);

  const points = useMemo(() => {
    const hist = metrics.data?.history ?? [];
    const last = hist.at(-1)?.at ?? 0;
    const cutoff = Date.now() - Number(range) * 1000;
    return [...hist, ...livePoints.filter((p) => p.at > last)].filter((p) => p.at >= cutoff);
  }, [metrics.data, livePoints, range]);

  const xs = points.map((p) => p.at / 1000);
  const col = (f: keyof MetricPoint) => points.map((p) => p[f]);
  const sample = current ?? metrics.data?.current ?? null;
  const alerts = (overview.data?.alerts ?? []).filter((a) => a.hostId === host);

  const cpuOpts = useMemo(() => chartOptions([{ label: 'CPU', stroke: '#228be6' }], pct, true), []);
  const memOpts = useMemo(() => chartOptions([{ label: 'Memory', stroke: '#40c057' }, { label: 'Swap', stroke: '#fab005' }], pct, true), []);
  const loadOpts = useMemo(() => chartOptions([{ label: 'Load (1 min)', stroke: '#7950f2' }], num), []);
  const netOpts = useMemo(() => chartOptions([{ label: 'Received', stroke: '#15aabf' }, { label: 'Sent', stroke: '#fd7e14' }], rate), []);
  const ioOpts = useMemo(() => chartOptions([{ label: 'Read', stroke: '#12b886' }, { label: 'Write', stroke: '#e64980' }], rate), []);

  return (
    <>
      <PageHeader
        title="Server"
        description="How each host is doing, sampled from /proc every few seconds."
        actions={<SegmentedControl aria-label="Time range" size="xs" data={RANGES} value={range} onChange={setRange} />}
      />
      <ServerNav active="/server" />
      <Stack>
        {metrics.data?.sampler?.state === 'error' && <Alert color="red" title="This host is not reporting">{metrics.data.sampler.error}</Alert>}
        {metrics.error && <Alert color="red" title="The history could not be loaded">{(metrics.error as Error).message}. The charts show live samples only.</Alert>}
        {alerts.map((a) => (
          <Alert key={a.id} color="red" title={`${a.kind} alert`}>{a.message}</Alert>
        ))}
        {sample && (
          <SimpleGrid cols={{ base: 2, md: 4 }}>
            <Tile title="CPU" value={pct(sample.cpu.percent)} hint={`${sample.cpu.cores} cores · iowait ${pct(sample.cpu.iowait)}`} progress={sample.cpu.percent} />
            <Tile title="Memory" value={pct(sample.memory.usedPercent)} hint={`${formatBytes(sample.memory.usedBytes)} of ${formatBytes(sample.memory.totalBytes)}`} progress={sample.memory.usedPercent} />
            <Tile title="Load" value={`${num(sample.load.load1)} / ${num(sample.load.load5)} / ${num(sample.load.load15)}`} hint="1, 5, 15 minutes" />
            <Tile title="Uptime" value={formatUptime(sample.uptimeSeconds)} hint={live ? 'live' : 'latest sample'} />
          </SimpleGrid>
        )}
        {sample && sample.cpu.perCore.length > 1 && (
          <Paper withBorder p="sm">
            <Text size="sm" fw={600} mb={4}>Per core</Text>
            <SimpleGrid cols={{ base: 2, md: 8 }} spacing="xs">
              {sample.cpu.perCore.map((c, i) => (
                <div key={i}>
                  <Text size="xs">cpu{i} {pct(c)}</Text>
                  <Progress value={c} size="sm" aria-label={`cpu${i} use`} />
                </div>
              ))}
            </SimpleGrid>
          </Paper>
        )}
        <SimpleGrid cols={{ base: 1, lg: 2 }}>
          <ChartCard title="CPU"><UPlotChart label="CPU use over time" windowSeconds={Number(range)} options={cpuOpts} data={[xs, col('cpuPercent')]} /></ChartCard>
          <ChartCard title="Memory"><UPlotChart label="Memory and swap use over time" windowSeconds={Number(range)} options={memOpts} data={[xs, col('memUsedPercent'), col('swapUsedPercent')]} /></ChartCard>
          <ChartCard title="Load"><UPlotChart label="Load average over time" windowSeconds={Number(range)} options={loadOpts} data={[xs, col('load1')]} /></ChartCard>
          <ChartCard title="Network"><UPlotChart label="Network traffic over time" windowSeconds={Number(range)} options={netOpts} data={[xs, col('netRxBytesPerSec'), col('netTxBytesPerSec')]} /></ChartCard>
          <ChartCard title="Disk I/O"><UPlotChart label="Disk reads and writes over time" windowSeconds={Number(range)} options={ioOpts} data={[xs, col('diskReadBytesPerSec'), col('diskWriteBytesPerSec')]} /></ChartCard>
          {sample && (
            <ChartCard title="Disk usage">
              <Stack gap="xs">
                {sample.disks.map((d) => (
                  <div key={d.mount}>
                    <Group justify="space-between"><Text size="sm">{d.mount}</Text><Text size="sm" c="dimmed">{formatBytes(d.usedBytes)} of {formatBytes(d.usedBytes + d.availableBytes)}</Text></Group>
                    <Progress value={d.usedPercent} color={d.usedPercent > 90 ? 'red' : d.usedPercent > 75 ? 'yellow' : 'blue'} aria-label={`${d.mount} used`} />
                  </div>
                ))}
              </Stack>
            </ChartCard>
          )}
        </SimpleGrid>
        <NetdataCard host={host} seconds={Number(range)} />
      </Stack>
    </>
  );
}

function Tile({ title, value, hint, progress }: { title: string; value: string; hint: string; progress?: number }) {
  return (
    <Paper withBorder p="sm">
      <Group justify="space-between"><Text size="sm" c="dimmed">{title}</Text>{progress !== undefined && progress > 90 && <Badge color="red" variant="light" size="xs">high</Badge>}</Group>
      <Title order={3} data-testid={`tile-${title.toLowerCase()}`}>{value}</Title>
      <Text size="xs" c="dimmed">{hint}</Text>
      {progress !== undefined && <Progress value={progress} size="xs" mt={4} aria-label={`${title} use`} />}
    </Paper>
  );
}

function ChartCard({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <Paper withBorder p="sm">
      <Text size="sm" fw={600} mb={4}>{title}</Text>
      {children}
    </Paper>
  );
}
