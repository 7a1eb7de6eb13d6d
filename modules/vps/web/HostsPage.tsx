import { Card, Group, Progress, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { DataTable, EmptyState, PageHeader, StatusBadge, api, call } from '@slipway/web';
import { memoryText, type HostCapacity, type UnmanagedDomain } from './api';
import { VpsNav } from './components';

function Meter({ label, used, total, unit }: { label: string; used: number; total: number; unit: (n: number) => string }) {
  const pct = total > 0 ? Math.min(100, Math.round((used / total) * 100)) : 0;
  return (
    <Stack gap={2}>
      <Group justify="space-between"><Text size="sm">{label}</Text><Text size="sm" c="dimmed">{unit(used)} of {unit(total)} ({pct} %)</Text></Group>
      <Progress value={pct} color={pct > 90 ? 'red' : pct > 75 ? 'orange' : 'blue'} aria-label={`${label} allocated`} />
    </Stack>
  );
}

/** Capacity of each VPS host (allocation against the over-allocation limits) and domains Slipway does not manage. */
export default function HostsPage() {
  const hosts = useQuery({ queryKey: ['vps', 'hosts'], queryFn: () => call(api.GET('/api/v1/vps/hosts')), refetchInterval: 30_000 });
  const foreign = useQuery({ queryKey: ['vps', 'unmanaged'], queryFn: () => call(api.GET('/api/v1/vps/unmanaged')) });
  return (
    <>
      <PageHeader title="VPS hosts" description="Room left for new servers on each host (placement refuses a create that does not fit, naming the limit)" />
      <VpsNav active="/vps/hosts" />
      <SimpleGrid cols={{ base: 1, md: 2 }} mb="lg">
        {(hosts.data?.items ?? []).map((h) => {
          const limit = { vcpus: h.allocated.vcpus + h.free.vcpus, memoryMb: h.allocated.memoryMb + h.free.memoryMb, diskGb: h.allocated.diskGb + h.free.diskGb };
          return (
            <Card withBorder key={h.hostId}>
              <Group justify="space-between" mb="sm">
                <Title order={4}>{h.name}</Title>
                <Text size="sm" c="dimmed">{h.cpus} cores · {memoryText(h.memoryMb)} · {h.diskGb} GB{h.accel ? ` · ${h.accel}` : ''}</Text>
              </Group>
              <Stack gap="sm">
                <Meter label="vCPUs" used={h.allocated.vcpus} total={limit.vcpus} unit={(n) => String(n)} />
                <Meter label="Memory" used={h.allocated.memoryMb} total={limit.memoryMb} unit={memoryText} />
                <Meter label="Disk" used={h.allocated.diskGb} total={limit.diskGb} unit={(n) => `${n} GB`} />
              </Stack>
            </Card>
          );
        })}
      </SimpleGrid>
      {hosts.error && <Text c="red">{(hosts.error as Error).message}</Text>}
      <Title order={4} mb="xs">Other domains on the hosts</Title>
      <DataTable
        rows={foreign.data?.items}
        loading={foreign.isLoading}
        error={foreign.error}
        rowKey={(d) => `${d.hostId}/${d.name}`}
        empty={<EmptyState title="None" description="Every libvirt domain on the hosts is a Slipway server." />}
        columns={[
          { key: 'name', header: 'Domain', render: (d) => <Text ff="monospace" size="sm">{d.name}</Text> },
          { key: 'host', header: 'Host', render: (d) => d.hostId },
          { key: 'state', header: 'State', render: (d) => <StatusBadge status={d.state === 'running' ? 'running' : 'stopped'} label={d.state} /> },
          { key: 'managed', header: '', render: () => <Text size="xs" c="dimmed">not managed: listed, never changed</Text> },
        ]}
      />
    </>
  );
}
