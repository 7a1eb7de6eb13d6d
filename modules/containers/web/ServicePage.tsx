import { Alert, Anchor, Button, Card, Group, SegmentedControl, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useEffect, useMemo, useState } from 'react';
import type uPlot from 'uplot';
import {
  ConfirmDialog, LogViewer, PageHeader, StatusBadge, UPlotChart, api, call, formatBytes, formatRelative, formatTime, icons,
  LatestJob, PageError, notifyError, notifySuccess, streamSse, useCan, useLiveInvalidate, useLiveLog, usePageParams, useRunJob,
} from '@slipway/web';
import { STATE_LABEL, type ServiceState, type StatsPoint, type StatsSample, type WakeRecord } from './api';

/** One service: state, wake/sleep, cold-start history, live logs and stats. */
export default function ServicePage() {
  const { serviceId } = usePageParams() as { serviceId: string };
  const navigate = useNavigate();
  const qc = useQueryClient();
  const runJob = useRunJob();
  const canUpdate = useCan('containers.update');
  const canPower = useCan('containers.power');
  const canDelete = useCan('containers.delete');
  const [busy, setBusy] = useState<'wake' | 'sleep' | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  useLiveInvalidate(['container.', 'job.updated'], [['containers', serviceId], ['containers', serviceId, 'wakes']]);
  const service = useQuery({ queryKey: ['containers', serviceId], queryFn: () => call(api.GET('/api/v1/containers/{id}', { params: { path: { id: serviceId } } })) });
  const wakes = useQuery({ queryKey: ['containers', serviceId, 'wakes'], queryFn: () => call(api.GET('/api/v1/containers/{id}/wakes', { params: { path: { id: serviceId }, query: { limit: 100 } } })) });
  const s = service.data?.service;

  const act = async (what: 'wake' | 'sleep') => {
    setBusy(what);
    try {
      await call(what === 'wake' ? api.POST('/api/v1/containers/{id}/wake', { params: { path: { id: serviceId } } }) : api.POST('/api/v1/containers/{id}/sleep', { params: { path: { id: serviceId } } }));
      notifySuccess(what === 'wake' ? 'The service is running' : 'The service sleeps');
      await qc.invalidateQueries({ queryKey: ['containers', serviceId] });
    } catch (e) {
      notifyError(e);
    } finally {
      setBusy(null);
    }
  };

  if (service.error) return <PageError error={service.error} what="service" backTo="/containers" />;
  if (!s) return <PageHeader title="Service" description="Loading…" />;
  return (
    <>
      <PageHeader
        title={s.name}
        description={s.hostnames.join(', ')}
        actions={
          <Group gap="xs">
            <StatusBadge status={s.state} label={STATE_LABEL[s.state]} />
            {canPower && <Button leftSection={<icons.play size={16} />} loading={busy === 'wake'} disabled={s.state === 'running'} onClick={() => void act('wake')}>Wake</Button>}
            {canPower && <Button variant="default" leftSection={<icons.pause size={16} />} loading={busy === 'sleep'} disabled={s.state !== 'running'} onClick={() => void act('sleep')}>Sleep</Button>}
            {canUpdate && <Button variant="default" onClick={() => void navigate({ to: '/containers/$serviceId/edit', params: { serviceId } })}>Edit</Button>}
            {canDelete && <Button color="red" variant="light" leftSection={<icons.trash size={16} />} onClick={() => setConfirmDelete(true)}>Delete</Button>}
          </Group>
        }
      />
      <LatestJob resource={`container:${s.id}`} />
      {s.lastError && <Alert color="red" title="Last failure" mb="md">{s.lastError}</Alert>}
      <SimpleGrid cols={{ base: 2, md: 4 }} mb="md">
        <Fact label="Wakes" value={String(s.wakeCount)} />
        <Fact label="Sleeps" value={String(s.sleepCount)} />
        <Fact label="Last activity" value={s.lastActivityAt ? formatRelative(s.lastActivityAt) : '—'} />
        <Fact label="Last cold start" value={s.lastColdStart ? `${s.lastColdStart.startToReadyMs} ms ready · ${s.lastColdStart.firstByteMs ?? '—'} ms first byte` : '—'} />
      </SimpleGrid>
      <Card withBorder mb="md">
        <Stack gap={4}>
          <Text size="sm">Sleep policy: {s.sleep.mode === 'always-on' ? 'always on' : `${s.sleep.mode} after ${s.sleep.idleTimeoutSeconds} s without requests`}</Text>
          <Text size="sm">Visitors reach container <b>{s.http.container}</b> port {s.http.port} at {s.hostnames.map((h) => <Anchor key={h} href={`//${h}`} target="_blank" mr="xs" underline="always">{h}</Anchor>)}</Text>
          <Text size="sm">Containers: {s.containers.map((c) => `${c.name} (${c.image})`).join(', ')}</Text>
        </Stack>
      </Card>
      <ColdStartChart wakes={wakes.data?.items ?? []} />
      <ServiceStats serviceId={serviceId} state={s.state} />
      <Title order={4} mt="md" mb="xs">Logs</Title>
      <LiveLogs serviceId={serviceId} container={s.http.container} />
      <ConfirmDialog
        opened={confirmDelete}
        onClose={() => setConfirmDelete(false)}
        title={`Delete ${s.name}?`}
        message="Its containers and its Caddy route are removed. Named volumes are kept."
        typeToConfirm={s.name}
        confirmLabel="Delete"
        onConfirm={async () => {
          const job = await runJob(() => call(api.DELETE('/api/v1/containers/{id}', { params: { path: { id: serviceId } }, body: { confirm: s.name } })));
          if (job) setConfirmDelete(false);
        }}
      />
    </>
  );
}

function Fact({ label, value }: { label: string; value: string }) {
  return (
    <Card withBorder padding="sm">
      <Text size="xs" c="dimmed">{label}</Text>
      <Text fw={600}>{value}</Text>
    </Card>
  );
}

const COLD_START_OPTS: Omit<uPlot.Options, 'width' | 'height'> = {
  series: [{}, { label: 'start → ready', stroke: '#228be6', points: { show: true } }, { label: 'first byte', stroke: '#fa5252', points: { show: true } }],
  axes: [{}, { label: 'ms' }],
};

/** Start-to-ready and first-byte time of each wake, oldest to newest. */
function ColdStartChart({ wakes }: { wakes: WakeRecord[] }) {
  const ready = wakes.filter((w) => w.outcome === 'ready').slice().reverse();
  const data = useMemo(
    () => [ready.map((w) => w.at / 1000), ready.map((w) => w.startToReadyMs), ready.map((w) => w.firstByteMs)] as [number[], (number | null)[], (number | null)[]],
    [ready],
  );
  if (!ready.length) return <Text size="sm" c="dimmed">No wakes yet: the cold-start chart appears after the first one.</Text>;
  return (
    <Card withBorder mb="md">
      <Text fw={600} mb="xs">Cold starts (ms)</Text>
      <UPlotChart
        label="Cold start time of each wake: container start to ready, and first request to first byte"
        data={data}
        options={COLD_START_OPTS}
      />
      <Text size="xs" c="dimmed">Last: {formatTime(ready[ready.length - 1]!.at)}</Text>
    </Card>
  );
}

const IDLE_WORDS: Partial<Record<ServiceState, string>> = { creating: 'The service is being created', sleeping: 'The service sleeps', failed: 'The service failed', deleting: 'The service is being deleted' };
const STATS_RANGES = [{ value: '900', label: '15 min' }, { value: '3600', label: '1 h' }];
const statsRate = (v: number) => `${formatBytes(v)}/s`;
const statsOptions = (series: { label: string; stroke: string }[], unit: (v: number) => string): Omit<uPlot.Options, 'width' | 'height'> => ({
  scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
  axes: [{}, { values: (_u, vals) => vals.map((v) => unit(v)) }],
  series: [{}, ...series.map((x) => ({ label: x.label, stroke: x.stroke, width: 1.5, value: (_u: uPlot, v: number | null) => (v === null ? '—' : unit(v)) }))],
});
const CPU_OPTS = statsOptions([{ label: 'CPU', stroke: '#228be6' }], (v) => `${v.toFixed(v < 10 ? 1 : 0)} %`);
const MEM_OPTS = statsOptions([{ label: 'Used', stroke: '#40c057' }, { label: 'Limit', stroke: '#adb5bd' }], (v) => formatBytes(v));
const NET_OPTS = statsOptions([{ label: 'Received', stroke: '#15aabf' }, { label: 'Sent', stroke: '#fd7e14' }], statsRate);

/**
 * CPU, memory and network of the service's HTTP container over time: the last hour the panel
 * sampled (GET …/stats/history) and, while it runs, the live stream appended as it comes.
 */
function ServiceStats({ serviceId, state }: { serviceId: string; state: ServiceState }) {
  const running = state === 'running';
  const [range, setRange] = useState('900');
  const history = useQuery({
    queryKey: ['containers', serviceId, 'stats-history'],
    queryFn: () => call(api.GET('/api/v1/containers/{id}/stats/history', { params: { path: { id: serviceId } } })),
    refetchInterval: running ? false : 60_000,
  });
  const [live, setLive] = useState<StatsPoint[]>([]);
  const [last, setLast] = useState<StatsSample | null>(null);
  useEffect(() => {
    setLive([]);
    setLast(null);
    if (!running) return;
    const abort = new AbortController();
    let prev: StatsSample | null = null;
    void streamSse(`/api/v1/containers/${serviceId}/stats`, {
      signal: abort.signal,
      onMessage: (m) => {
        if (m.event !== 'stats') return;
        const cur = JSON.parse(m.data) as StatsSample;
        setLast(cur);
        const seconds = prev ? (cur.at - prev.at) / 1000 : 0;
        if (prev && seconds > 0) {
          const before = prev;
          const rate = (a: number, b: number) => (a >= b ? Math.round((a - b) / seconds) : 0);
          const p: StatsPoint = { at: cur.at, cpuPercent: cur.cpuPercent, memoryBytes: cur.memoryBytes, memoryLimitBytes: cur.memoryLimitBytes, rxBytesPerSec: rate(cur.networkRxBytes, before.networkRxBytes), txBytesPerSec: rate(cur.networkTxBytes, before.networkTxBytes) };
          setLive((xs) => [...xs.slice(-3600), p]);
        }
        prev = cur;
      },
    });
    return () => abort.abort();
  }, [serviceId, running]);

  const points = useMemo(() => {
    const hist = history.data?.points ?? [];
    const lastAt = hist.at(-1)?.at ?? 0;
    const cutoff = Date.now() - Number(range) * 1000;
    return [...hist, ...live.filter((p) => p.at > lastAt)].filter((p) => p.at >= cutoff);
  }, [history.data, live, range]);
  const xs = points.map((p) => p.at / 1000);
  const col = (f: keyof StatsPoint) => points.map((p) => p[f]);
  const windowSec = Number(range);
  const interval = history.data?.intervalMs ? Math.round(history.data.intervalMs / 1000) : null;

  return (
    <Card withBorder mb="md" data-testid="service-stats">
      <Group justify="space-between" mb="xs">
        <Title order={4}>Usage</Title>
        <SegmentedControl aria-label="Usage time range" size="xs" data={STATS_RANGES} value={range} onChange={setRange} />
      </Group>
      {last && (
        <SimpleGrid cols={{ base: 2, md: 4 }} mb="md" data-testid="live-stats">
          <Fact label="CPU" value={`${last.cpuPercent.toFixed(1)} %`} />
          <Fact label="Memory" value={`${formatBytes(last.memoryBytes)}${last.memoryLimitBytes ? ` / ${formatBytes(last.memoryLimitBytes)}` : ''}`} />
          <Fact label="Received (total)" value={formatBytes(last.networkRxBytes)} />
          <Fact label="Sent (total)" value={formatBytes(last.networkTxBytes)} />
        </SimpleGrid>
      )}
      {history.error ? (
        <Alert color="red" title="Usage history could not be loaded">{(history.error as Error).message}</Alert>
      ) : !running && !points.length ? (
        <Text size="sm" c="dimmed">{IDLE_WORDS[state] ?? `The service is ${STATE_LABEL[state]}`}: its usage is charted while it runs{interval ? ` (a sample every ${interval} s, the last hour kept)` : ''}.</Text>
      ) : (
        <SimpleGrid cols={{ base: 1, lg: 3 }}>
          <div><Text size="sm" fw={600} mb={4}>CPU</Text><UPlotChart label="CPU use of the service over time" height={180} windowSeconds={windowSec} options={CPU_OPTS} data={[xs, col('cpuPercent')]} /></div>
          <div><Text size="sm" fw={600} mb={4}>Memory</Text><UPlotChart label="Memory of the service over time, used and limit" height={180} windowSeconds={windowSec} options={MEM_OPTS} data={[xs, col('memoryBytes'), col('memoryLimitBytes')]} /></div>
          <div><Text size="sm" fw={600} mb={4}>Network</Text><UPlotChart label="Network traffic of the service over time, received and sent" height={180} windowSeconds={windowSec} options={NET_OPTS} data={[xs, col('rxBytesPerSec'), col('txBytesPerSec')]} /></div>
        </SimpleGrid>
      )}
      {!running && points.length > 0 && <Text size="xs" c="dimmed" mt={4}>{IDLE_WORDS[state] ?? `The service is ${STATE_LABEL[state]}`}: no new samples until it runs again.</Text>}
    </Card>
  );
}

function LiveLogs({ serviceId, container }: { serviceId: string; container: string }) {
  // Resumes from the last line on reconnect; a stopped container ends the follow (no re-appended tail).
  const live = useLiveLog(`/api/v1/containers/${serviceId}/logs?container=${encodeURIComponent(container)}&tail=500`, { maxLines: 20_000 });
  return (
    <>
      {live.end ? (
        <Group justify="space-between" mb="xs" data-testid="log-ended">
          <Text size="sm" c={live.end.reason === 'stopped' || live.end.reason === 'finished' ? 'dimmed' : 'red'}>{live.end.message ?? `Log ended (${live.end.reason})`}</Text>
          <Button size="xs" variant="light" onClick={live.restart}>Follow again</Button>
        </Group>
      ) : null}
      <LogViewer buffer={live.buffer} fileName={`${container}.log`} status={live.status === 'ended' ? (live.end?.reason === 'stopped' ? 'container stopped' : 'ended') : live.label} />
    </>
  );
}
