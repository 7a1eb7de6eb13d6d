import { Alert, Button, Code, Group, Text } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useState } from 'react';
import { ConfirmDialog, DataTable, PageHeader, StatusBadge, api, call, formatBytes, formatRelative, notifySuccess, useCan, useCurrentHost } from '@slipway/web';
import type { UnitStatus } from './api';
import { ServerNav } from './ServerNav';

type Action = 'start' | 'stop' | 'restart' | 'reload';

/** Allow-listed systemd units of the chosen host, with confirmed start/stop/restart/reload. */
export default function ServicesPage() {
  const host = useCurrentHost();
  const qc = useQueryClient();
  const canRestart = useCan('server.services.restart');
  const canManage = useCan('server.services.manage');
  const services = useQuery({
    queryKey: ['server-services', host],
    queryFn: () => call(api.GET('/api/v1/server/services', { params: { query: { host } } })),
    refetchInterval: 15_000,
  });
  const [pending, setPending] = useState<{ unit: UnitStatus; action: Action } | null>(null);
  const data = services.data;

  const actions = (u: UnitStatus) => {
    const active = u.activeState === 'active';
    const list: Action[] = [];
    if (canRestart && active) list.push('restart', 'reload');
    if (canManage) list.push(active ? 'stop' : 'start');
    return list;
  };

  return (
    <>
      <PageHeader title="Services" description="The systemd units on the allow-list of this host." />
      <ServerNav active="/server/services" />
      {data && !data.systemd.live && (
        <Alert color="yellow" title="systemd is not running on this host" mb="md">
          This host was not booted with systemd as PID 1 (state: <Code>{data.systemd.state}</Code>), so there are no services to show or control here.
        </Alert>
      )}
      {data?.systemd.live && (
        <Text size="sm" c="dimmed" mb="xs">Allow-list: {data.allowlist.join(', ')}</Text>
      )}
      <DataTable
        rows={data?.items}
        loading={services.isLoading}
        error={services.error}
        rowKey={(u) => u.unit}
        columns={[
          { key: 'unit', header: 'Unit', render: (u) => <><Text fw={600}>{u.unit}</Text><Text size="xs" c="dimmed">{u.description}</Text></> },
          { key: 'state', header: 'State', render: (u) => <StatusBadge status={u.activeState} /> },
          { key: 'sub', header: 'Sub-state', render: (u) => u.subState },
          { key: 'since', header: 'Since', hideOnMobile: true, render: (u) => formatRelative(u.since) },
          { key: 'pid', header: 'Main PID', hideOnMobile: true, render: (u) => u.mainPid ?? '—' },
          { key: 'mem', header: 'Memory', hideOnMobile: true, render: (u) => formatBytes(u.memoryBytes) },
          {
            key: 'actions',
            header: '',
            render: (u) => (
              <Group gap="xs" wrap="nowrap">
                <Button size="xs" variant="subtle" component={Link} to="/server/logs" search={{ source: `journal-${u.unit.replace(/\.service$/, '')}` } as never}>Journal</Button>
                {actions(u).map((a) => (
                  <Button key={a} size="xs" variant={a === 'stop' ? 'light' : 'default'} color={a === 'stop' ? 'red' : undefined} onClick={() => setPending({ unit: u, action: a })}>
                    {a[0]!.toUpperCase() + a.slice(1)}
                  </Button>
                ))}
              </Group>
            ),
          },
        ]}
      />
      <ConfirmDialog
        opened={!!pending}
        onClose={() => setPending(null)}
        title={pending ? `${pending.action[0]!.toUpperCase()}${pending.action.slice(1)} ${pending.unit.unit}?` : ''}
        message={pending?.action === 'stop' ? 'Whatever depends on this service stops working until it is started again.' : 'The service is briefly interrupted.'}
        danger={pending?.action === 'stop'}
        confirmLabel={pending?.action ?? 'Confirm'}
        onConfirm={async () => {
          const { unit, action } = pending!;
          await call(api.POST('/api/v1/server/services/{name}/{action}', { params: { path: { name: unit.unit, action }, query: { host } } }));
          notifySuccess(`${unit.unit}: ${action} done`);
          await qc.invalidateQueries({ queryKey: ['server-services', host] });
        }}
      />
    </>
  );
}
