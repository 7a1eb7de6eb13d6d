import { Badge, Button, Group, Tabs, Text } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ConfirmDialog, DataTable, PageHeader, StatusBadge, api, call, formatBytes, formatRelative, notifyError, notifySuccess, useCan, useCurrentHost } from '@slipway/web';
import type { DockerContainer } from './api';

/** Every container and image on the chosen host; Slipway's own are marked, the rest left alone. */
export default function DockerPage() {
  const host = useCurrentHost();
  const qc = useQueryClient();
  const canManage = useCan('containers.docker.manage');
  const [pending, setPending] = useState<{ c: DockerContainer; action: 'stop' | 'restart' } | null>(null);
  const containers = useQuery({ queryKey: ['docker', host, 'containers'], queryFn: () => call(api.GET('/api/v1/containers/hosts/{hostId}/docker/containers', { params: { path: { hostId: host } } })), refetchInterval: 5000 });
  const images = useQuery({ queryKey: ['docker', host, 'images'], queryFn: () => call(api.GET('/api/v1/containers/hosts/{hostId}/docker/images', { params: { path: { hostId: host } } })) });

  const act = async (c: DockerContainer, action: 'start' | 'stop' | 'restart') => {
    try {
      await call(api.POST(`/api/v1/containers/hosts/{hostId}/docker/containers/{containerId}/${action}`, { params: { path: { hostId: host, containerId: c.id } }, body: action === 'start' ? {} : { confirm: c.name } }));
      notifySuccess(`${c.name}: ${action} done`);
      await qc.invalidateQueries({ queryKey: ['docker', host] });
    } catch (e) {
      notifyError(e);
    }
  };

  return (
    <>
      <PageHeader title={`Containers on ${host}`} description="Everything Docker runs here. Slipway only changes what it created unless you act on a container yourself." />
      <Tabs defaultValue="containers">
        <Tabs.List mb="sm">
          <Tabs.Tab value="containers">Containers</Tabs.Tab>
          <Tabs.Tab value="images">Images</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="containers">
          <DataTable
            rows={containers.data?.items}
            loading={containers.isLoading}
            error={containers.error}
            rowKey={(c) => c.id}
            empty="No containers on this host."
            columns={[
              { key: 'name', header: 'Name', render: (c) => <Group gap={6}><Text fw={600}>{c.name}</Text>{c.managed ? <Badge size="xs" variant="light">Slipway</Badge> : <Badge size="xs" color="gray" variant="outline">not managed</Badge>}</Group> },
              { key: 'image', header: 'Image', render: (c) => c.image },
              { key: 'state', header: 'State', render: (c) => <StatusBadge status={c.state === 'exited' ? 'stopped' : c.state} label={c.status} /> },
              { key: 'ports', header: 'Ports', hideOnMobile: true, render: (c) => c.ports.filter((p) => p.hostPort).map((p) => `${p.hostIp}:${p.hostPort}→${p.containerPort}`).join(', ') || '—' },
              {
                key: 'actions', header: '', render: (c) => canManage && (
                  <Group gap={4}>
                    {c.state !== 'running' && <Button size="xs" variant="light" onClick={() => void act(c, 'start')}>Start</Button>}
                    {c.state === 'running' && <Button size="xs" variant="default" onClick={() => setPending({ c, action: 'restart' })}>Restart</Button>}
                    {c.state === 'running' && <Button size="xs" color="red" variant="light" onClick={() => setPending({ c, action: 'stop' })}>Stop</Button>}
                  </Group>
                ),
              },
            ]}
          />
        </Tabs.Panel>
        <Tabs.Panel value="images">
          <DataTable
            rows={images.data?.items}
            loading={images.isLoading}
            error={images.error}
            rowKey={(i) => i.id}
            empty="No images."
            columns={[
              { key: 'tags', header: 'Tags', render: (i) => i.tags.join(', ') || '<none>' },
              { key: 'size', header: 'Size', render: (i) => formatBytes(i.sizeBytes) },
              { key: 'created', header: 'Created', render: (i) => formatRelative(i.createdAt) },
            ]}
          />
        </Tabs.Panel>
      </Tabs>
      <ConfirmDialog
        opened={!!pending}
        onClose={() => setPending(null)}
        title={pending ? `${pending.action === 'stop' ? 'Stop' : 'Restart'} ${pending.c.name}?` : ''}
        message={pending?.c.managed ? 'A Slipway service: its route follows (it wakes again on the next request).' : 'This container is not managed by Slipway.'}
        typeToConfirm={pending?.c.name}
        confirmLabel={pending?.action === 'stop' ? 'Stop' : 'Restart'}
        onConfirm={async () => {
          if (pending) await act(pending.c, pending.action);
          setPending(null);
        }}
      />
    </>
  );
}
