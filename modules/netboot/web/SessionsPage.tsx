import { Anchor, Button, Code, Group, Switch, Text } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useState } from 'react';
import { DataTable, EmptyState, JobLink, PageHeader, StatusBadge, api, call, formatRelative, formatTime, notifyError, notifySuccess, useCan, useLiveInvalidate } from '@slipway/web';
import type { Session } from './api';
import { NetbootNav } from './components';

const ACTIVE = new Set(['starting', 'ready', 'stopping']);

/** Boot sessions: each machine's writeback, export and iSCSI target, with who is logged in. */
export default function SessionsPage() {
  const qc = useQueryClient();
  const canOperate = useCan('netboot.operate');
  const [all, setAll] = useState(false);
  const [stopping, setStopping] = useState<string | null>(null);
  useLiveInvalidate(['netboot.', 'job.updated'], [['netboot']]);
  const sessions = useQuery({
    queryKey: ['netboot', 'sessions', all],
    queryFn: () => call(api.GET('/api/v1/netboot/sessions', { params: { query: all ? { all: 'true' } : {} } })),
    refetchInterval: 5000,
  });
  const stop = async (s: Session) => {
    setStopping(s.id);
    try {
      const r = await call(api.DELETE('/api/v1/netboot/machines/{id}/session', { params: { path: { id: s.machineId } } }));
      notifySuccess(r.job.title);
      await qc.invalidateQueries({ queryKey: ['netboot'] });
    } catch (e) {
      notifyError(e);
    } finally {
      setStopping(null);
    }
  };
  return (
    <>
      <PageHeader title="Netboot" description="Boot sessions: a writeback, its export and an iSCSI target per machine" />
      <NetbootNav active="/netboot/sessions" />
      <Group mb="sm"><Switch label="Show ended sessions" checked={all} onChange={(e) => setAll(e.currentTarget.checked)} /></Group>
      <DataTable
        rows={sessions.data?.items}
        loading={sessions.isLoading}
        error={sessions.error}
        rowKey={(s) => s.id}
        empty={<EmptyState title={all ? 'No sessions yet' : 'No running sessions'} description="A session starts when a machine fetches its boot script, or from its page." />}
        columns={[
          { key: 'machine', header: 'Machine', render: (s) => <Anchor component={Link} to={`/netboot/machines/${encodeURIComponent(s.machineId)}`} fw={600} size="sm" style={{ whiteSpace: 'nowrap' }}>{s.machineName ?? s.machineId}</Anchor> },
          { key: 'state', header: 'State', width: 110, render: (s) => <StatusBadge status={s.state === 'ready' ? 'running' : s.state} label={s.state} /> },
          {
            key: 'conn', header: 'iSCSI login', render: (s) => (s.connections.length
              ? s.connections.map((c) => <Text key={`${c.initiator}-${c.address}`} size="sm" title={c.initiator}>{c.address} · since {formatRelative(c.since)}</Text>)
              : <Text size="sm" c="dimmed">{ACTIVE.has(s.state) ? 'waiting for the machine' : '—'}</Text>),
          },
          { key: 'target', header: 'Target', hideOnMobile: true, render: (s) => <div><Code>{s.targetIqn}</Code>{s.tid !== null && <Text size="xs" c="dimmed">tid {s.tid}</Text>}</div> },
          { key: 'started', header: 'Started', hideOnMobile: true, render: (s) => formatTime(s.startedAt) },
          { key: 'ready', header: 'Ready after', hideOnMobile: true, render: (s) => (s.readyAt ? `${((s.readyAt - s.startedAt) / 1000).toFixed(1)} s` : '—') },
          ...(all ? [{ key: 'ended', header: 'Ended', hideOnMobile: true, render: (s: Session) => formatTime(s.stoppedAt) }] : []),
          {
            key: 'actions', header: '', render: (s) => (
              <Group gap={6} wrap="nowrap" justify="flex-end">
                {s.error && <Text size="xs" c="red" lineClamp={2}>{s.error}</Text>}
                {s.jobId && <JobLink jobId={s.jobId}>job</JobLink>}
                {canOperate && (s.state === 'ready' || s.state === 'starting') && <Button size="compact-xs" variant="default" loading={stopping === s.id} onClick={() => void stop(s)}>Stop</Button>}
              </Group>
            ),
          },
        ]}
      />
    </>
  );
}
