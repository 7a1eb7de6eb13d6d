import { Button, Chip, Group, Progress, Stack, Text, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useEffect, useState } from 'react';
import { api, call, type ApiData } from '../api/client';
import { AuditTarget } from '../components/AuditTarget';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { jobTitle } from '../components/JobTitle';
import { DataTable } from '../components/DataTable';
import { EmptyState } from '../components/EmptyState';
import { icons } from '../components/icons';
import { useRunJob } from '../components/JobLink';
import { PageHeader } from '../components/PageHeader';
import { StatusBadge } from '../components/StatusBadge';
import { useLiveInvalidate } from '../components/useLiveEvents';
import { formatRelative } from '../lib/format';
import { useCan } from '../lib/hooks';
import { notifySuccess } from '../lib/notify';
import { corePermissions } from '../shell/nav';
import { NoAccess } from '../shell/NotFound';
import { useUrlFilters } from '../components/useUrlFilters';

type Job = ApiData<'/api/v1/jobs', 'get'>['items'][number];
const STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted'] as const;
const ACTIVE = new Set(['queued', 'running']);

/** The job queue: state filters, progress, cancel, and the admin's self-test. */
export default function JobsPage() {
  const canRead = useCan(corePermissions.jobsRead);
  const canCancel = useCan(corePermissions.jobsCancel);
  const canSelftest = useCan(corePermissions.jobsSelftest);
  // Filters live in the address: reload and shared links keep them.
  const url = useUrlFilters(['state', 'type'] as const);
  const states = url.values.state ? url.values.state.split(',').filter(Boolean) : [];
  const [type, setTypeText] = useState(url.values.type);
  const [debouncedType] = useDebouncedValue(type.trim(), 300);
  useEffect(() => { if (debouncedType !== url.values.type) url.set('type', debouncedType); }, [debouncedType]);
  useEffect(() => { if (url.values.type !== debouncedType) setTypeText(url.values.type); }, [url.values.type]);
  const setStates = (v: string[]) => url.set('state', v.join(','));
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const before = cursors.at(-1);
  const [cancelling, setCancelling] = useState<Job | null>(null);
  const navigate = useNavigate();
  const qc = useQueryClient();
  const runJob = useRunJob();
  useLiveInvalidate(['job'], [['jobs']]);

  const q = useQuery({
    queryKey: ['jobs', 'list', states, debouncedType, before],
    enabled: canRead,
    placeholderData: (prev) => prev,
    queryFn: () => call(api.GET('/api/v1/jobs', { params: { query: { ...(states.length ? { state: states.join(',') } : {}), ...(debouncedType ? { type: debouncedType } : {}), ...(before ? { before } : {}), limit: 25 } } })),
  });
  if (!canRead) return <NoAccess what="the job list" />;

  const resetPaging = () => setCursors([undefined]);
  return (
    <Stack>
      <PageHeader
        title="Jobs"
        description="Long operations run as jobs of named steps; open one to follow its live log."
        actions={canSelftest ? (
          <Button leftSection={<icons.play size={14} />} onClick={() => void runJob(() => call(api.POST('/api/v1/jobs/selftest', {})))}>Run self-test</Button>
        ) : null}
      />
      <Group gap="sm" wrap="wrap">
        <Chip.Group multiple value={states} onChange={(v) => { setStates(v); resetPaging(); }}>
          <Group gap={6} role="group" aria-label="Filter by state">
            {STATES.map((s) => <Chip key={s} value={s} size="xs">{s}</Chip>)}
          </Group>
        </Chip.Group>
        <TextInput size="xs" placeholder="Type, e.g. sites. or sites.create" aria-label="Filter by job type" value={type} onChange={(e) => { setTypeText(e.currentTarget.value); resetPaging(); }} w={220} />
        {url.active ? <Button size="xs" variant="subtle" onClick={() => { setTypeText(''); url.clear(); resetPaging(); }}>Clear filters</Button> : null}
      </Group>
      <DataTable<Job>
        rows={q.data?.items}
        loading={q.isFetching}
        error={q.error}
        rowKey={(j) => j.id}
        onRowClick={(j) => void navigate({ to: '/jobs/$jobId', params: { jobId: j.id } })}
        empty={url.active
          ? <EmptyState title="No matches" description="No job matches these filters." action={<Button size="xs" variant="default" onClick={() => { setTypeText(''); url.clear(); resetPaging(); }}>Clear filters</Button>} />
          : <EmptyState title="No jobs" description="Jobs appear here when you start long operations." />}
        cursor={{ hasPrevious: cursors.length > 1, hasNext: !!q.data?.nextBefore, onPrevious: () => setCursors((c) => c.slice(0, -1)), onNext: () => setCursors((c) => [...c, q.data?.nextBefore ?? undefined]) }}
        columns={[
          { key: 'title', header: 'Job', render: (j) => <Stack gap={0}><Text size="sm" fw={500}>{jobTitle(j)}</Text><Text size="xs" c="dimmed">{j.type}{j.target ? <> · <AuditTarget target={j.target} size="xs" /></> : null}</Text></Stack> },
          { key: 'state', header: 'State', render: (j) => <StatusBadge status={j.state} /> },
          { key: 'progress', header: 'Progress', hideOnMobile: true, render: (j) => <Group gap={6} wrap="nowrap"><Progress value={j.progress} w={90} size="sm" aria-label={`${Math.round(j.progress)}%`} /><Text size="xs" c="dimmed">{j.steps[j.currentStep]?.name ?? ''}</Text></Group> },
          { key: 'actor', header: 'By', hideOnMobile: true, render: (j) => <Text size="sm">{j.actor.name ?? 'system'}</Text> },
          { key: 'created', header: 'Started', hideOnMobile: true, render: (j) => <Text size="sm" c="dimmed">{formatRelative(j.createdAt)}</Text> },
          {
            key: 'actions', header: '', render: (j) => canCancel && ACTIVE.has(j.state) && !j.cancelRequested ? (
              <Button size="compact-xs" variant="light" color="red" onClick={(e) => { e.stopPropagation(); setCancelling(j); }} aria-label={`Cancel ${j.title}`}>Cancel</Button>
            ) : null,
          },
        ]}
      />
      <ConfirmDialog
        opened={!!cancelling}
        onClose={() => setCancelling(null)}
        title="Cancel job?"
        message={<>Cancel <b>{cancelling?.title}</b>? Steps already done are undone where they can be.</>}
        confirmLabel="Cancel job"
        onConfirm={async () => {
          await call(api.POST('/api/v1/jobs/{id}/cancel', { params: { path: { id: cancelling!.id } } }));
          notifySuccess('Cancellation requested');
          await qc.invalidateQueries({ queryKey: ['jobs'] });
        }}
      />
    </Stack>
  );
}
