import { Group, Paper, Select, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import type uPlot from 'uplot';
import { UPlotChart, api, call } from '@slipway/web';

const CHARTS = ['system.cpu', 'system.load', 'system.ram', 'system.net', 'system.io', 'system.processes'];
const COLORS = ['#228be6', '#40c057', '#fab005', '#fa5252', '#7950f2', '#15aabf', '#fd7e14', '#e64980', '#12b886', '#868e96'];

/** The host's Netdata agent as a richer source, when it runs one (API v1, or v2/v3 when served). */
export function NetdataCard({ host, seconds }: { host: string; seconds: number }) {
  const [chart, setChart] = useState('system.cpu');
  const info = useQuery({ queryKey: ['netdata-info', host], queryFn: () => call(api.GET('/api/v1/server/netdata/info', { params: { query: { host } } })), staleTime: 60_000 });
  const series = useQuery({
    queryKey: ['netdata', host, chart, seconds],
    enabled: !!info.data?.available,
    queryFn: () => call(api.GET('/api/v1/server/netdata', { params: { query: { host, chart, seconds, points: 120 } } })),
    refetchInterval: 5000,
  });
  const labels = series.data?.labels.join(',') ?? '';
  const options = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(
    () => ({ scales: { x: { time: true } }, series: [{}, ...labels.split(',').filter(Boolean).map((l, i) => ({ label: l, stroke: COLORS[i % COLORS.length]!, width: 1.2 }))] }),
    [labels],
  );
  if (!info.data?.available) return null;
  const pts = series.data?.points ?? [];
  const data = [pts.map((p) => p.at / 1000), ...(series.data?.labels ?? []).map((_l, i) => pts.map((p) => p.values[i] ?? null))] as uPlot.AlignedData;
  return (
    <Paper withBorder p="sm">
      <Group justify="space-between" mb={4}>
        <Text size="sm" fw={600}>Netdata {info.data.agentVersion} (API v{info.data.apiVersion})</Text>
        <Select aria-label="Netdata chart" size="xs" w={180} data={CHARTS} value={chart} onChange={(v) => v && setChart(v)} allowDeselect={false} />
      </Group>
      {series.data && <UPlotChart label={`Netdata chart ${chart}`} windowSeconds={seconds} options={options} data={data} />}
    </Paper>
  );
}
