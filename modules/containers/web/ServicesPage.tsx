import { Button, Group, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { DataTable, PageHeader, StatusBadge, api, call, formatRelative, icons, useCan, useLiveInvalidate } from '@slipway/web';
import { STATE_LABEL } from './api';

/** Every service with a live state badge (updated from container.* events). */
export default function ServicesPage() {
  const navigate = useNavigate();
  const canCreate = useCan('containers.create');
  const canDocker = useCan('containers.docker.read');
  useLiveInvalidate(['container.', 'job.updated'], [['containers']]);
  const services = useQuery({ queryKey: ['containers'], queryFn: () => call(api.GET('/api/v1/containers')) });
  return (
    <>
      <PageHeader
        title="Containers"
        description="Docker services behind Caddy: they sleep when idle and wake on the first request"
        actions={
          <Group gap="xs">
            {canDocker && <Button variant="default" leftSection={<icons.server size={16} />} onClick={() => void navigate({ to: '/containers/docker' })}>Containers on host</Button>}
            {canCreate && <Button leftSection={<icons.plus size={16} />} onClick={() => void navigate({ to: '/containers/new' })}>New service</Button>}
          </Group>
        }
      />
      <DataTable
        rows={services.data?.items}
        loading={services.isLoading}
        error={services.error}
        rowKey={(s) => s.id}
        empty="No services yet."
        onRowClick={(s) => void navigate({ to: '/containers/$serviceId', params: { serviceId: s.id } })}
        columns={[
          { key: 'name', header: 'Service', render: (s) => <Text fw={600}>{s.name}</Text> },
          { key: 'state', header: 'State', render: (s) => <StatusBadge status={s.state} label={STATE_LABEL[s.state]} /> },
          { key: 'hosts', header: 'Hostnames', render: (s) => s.hostnames.join(', ') },
          { key: 'sleep', header: 'Sleep', hideOnMobile: true, render: (s) => (s.sleep.mode === 'always-on' ? 'always on' : `${s.sleep.mode} after ${s.sleep.idleTimeoutSeconds}s idle`) },
          { key: 'activity', header: 'Last activity', hideOnMobile: true, render: (s) => (s.lastActivityAt ? formatRelative(s.lastActivityAt) : '—') },
          { key: 'cold', header: 'Last cold start', hideOnMobile: true, render: (s) => (s.lastColdStart ? `${s.lastColdStart.startToReadyMs} ms` : '—') },
        ]}
      />
    </>
  );
}
