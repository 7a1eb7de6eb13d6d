import { Alert, Button, Group, Modal, Stack, Text, Title, Tooltip } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import { ApiError, DataTable, JobLink, LogBuffer, LogViewer, StatusBadge, api, call, errorText, formatRelative, formatTime } from '@slipway/web';
import { appKey, appParams, formatDuration, type App, type Build } from './api';

/**
 * Dokku's own build records (`builds:list`): every build of the app, also those started outside
 * the panel (git push, the dokku CLI), each with the output Dokku kept (`builds:output`).
 */
export function BuildsPanel({ app: a, onOutput }: { app: App; onOutput(build: Build): void }) {
  const key = appKey(a.host, a.name);
  const builds = useQuery({ queryKey: [...key, 'builds'], queryFn: () => call(api.GET('/api/v1/apps/{name}/builds', { params: appParams(a.name, a.host) })).then((r) => r.items) });
  return (
    <Stack gap="xs">
      <Title order={4} mt="md">Builds on Dokku</Title>
      <Text size="sm" c="dimmed">What Dokku recorded (<code>builds:list</code>), also builds started outside Slipway. Open a finished build's output as Dokku kept it.</Text>
      <DataTable
        rows={builds.data}
        loading={builds.isLoading}
        error={builds.error}
        rowKey={(b) => b.id}
        empty={<Text p="md" size="sm" c="dimmed">Dokku has no build recorded for this app.</Text>}
        columns={[
          { key: 'id', header: 'Build', render: (b) => <Text size="sm" ff="monospace">{b.id}</Text> },
          { key: 'status', header: 'Status', render: (b) => <StatusBadge status={b.status === 'canceled' ? 'cancelled' : b.status} label={b.status} /> },
          { key: 'when', header: 'Started', render: (b) => <Tooltip label={formatTime(b.startedAt)}><Text size="sm">{formatRelative(b.startedAt)}</Text></Tooltip> },
          { key: 'took', header: 'Took', hideOnMobile: true, render: (b) => (b.finishedAt ? formatDuration(b.finishedAt - b.startedAt) : '—') },
          { key: 'by', header: 'Deploy', hideOnMobile: true, render: (b) => (b.jobId ? <Group gap={6} wrap="nowrap">{b.releaseNumber ? <Text size="sm">release #{b.releaseNumber}</Text> : null}<JobLink jobId={b.jobId}>job</JobLink></Group> : <Text size="sm" c="dimmed">outside Slipway</Text>) },
          {
            key: 'actions', header: '', render: (b) => (b.status === 'running'
              ? <Text size="xs" c="dimmed">running: see its live log</Text>
              : <Button size="compact-xs" variant="light" onClick={() => onOutput(b)} aria-label={`Output of build ${b.id}`}>Output</Button>),
          },
        ]}
      />
    </Stack>
  );
}

/** One finished build's output from Dokku, in the log viewer (search, download). */
export function BuildOutputModal({ app: a, buildId, onClose }: { app: App; buildId: string | null; onClose(): void }) {
  const key = appKey(a.host, a.name);
  const out = useQuery({
    enabled: !!buildId,
    queryKey: [...key, 'build-output', buildId],
    queryFn: () => call(api.GET('/api/v1/apps/{name}/builds/{buildId}/output', { params: { path: { name: a.name, buildId: buildId! }, query: appParams(a.name, a.host).query } })),
    retry: false,
  });
  const buffer = useMemo(() => {
    const b = new LogBuffer(20_000, (fn) => fn());
    b.push(...(out.data?.lines ?? []).map((line, i) => ({ seq: i + 1, line })));
    return b;
  }, [out.data]);
  const running = out.error instanceof ApiError && out.error.code === 'build_running';
  const runningJob = running ? ((out.error as ApiError).details as { jobId?: string } | undefined)?.jobId : undefined;
  return (
    <Modal opened={!!buildId} onClose={onClose} title={`Build ${buildId ?? ''} of ${a.name}`} size="xl" centered>
      <Stack gap="sm" data-testid="build-output">
        {out.data && (
          <Group gap="md">
            <StatusBadge status={out.data.build.status === 'canceled' ? 'cancelled' : out.data.build.status} label={out.data.build.status} />
            <Text size="sm" c="dimmed">started {formatTime(out.data.build.startedAt)}{out.data.build.finishedAt ? ` · took ${formatDuration(out.data.build.finishedAt - out.data.build.startedAt)}` : ''}</Text>
            {out.data.build.jobId && <JobLink jobId={out.data.build.jobId}>deploy job</JobLink>}
          </Group>
        )}
        {out.data?.truncated && <Alert color="yellow">Only the newest {out.data.lines.length.toLocaleString()} lines are shown.</Alert>}
        {out.error && (
          <Alert color={running ? 'blue' : 'red'} title={running ? 'Still running' : 'Could not read the output'}>
            {running ? <>This build is still running: its output is live in the deploy's log{runningJob ? <> (<JobLink jobId={runningJob}>open it</JobLink>)</> : null}.</> : errorText(out.error)}
          </Alert>
        )}
        {!out.error && <LogViewer buffer={buffer} status={out.isLoading ? 'loading…' : 'from Dokku'} fileName={`${a.name}-build-${buildId ?? ''}.log`} height="min(60vh, 520px)" emptyText={out.isLoading ? 'Reading the output from Dokku…' : 'Dokku kept no output for this build.'} />}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>Close</Button>
        </Group>
      </Stack>
    </Modal>
  );
}
