import { Alert, Badge, Button, Group, Modal, Stack, Text, Tooltip } from '@mantine/core';
import { JobLink, JobProgress, LogViewer, StatusBadge, formatRelative, formatTime, useJobLog } from '@slipway/web';
import { APP_STATUSES, statusLabel, type App, type JobSummary } from './api';

/** running (green) / stopped (grey) / not deployed (yellow) / unknown (orange); `data-status` for tests. */
export function AppStatusBadge({ status, pending }: { status: string; pending?: boolean }) {
  if (pending) return <Badge color="gray" variant="light" radius="sm" data-status="pending" style={{ minWidth: 'max-content' }}>creating…</Badge>;
  const color = APP_STATUSES.find((s) => s.value === status)?.color ?? 'gray';
  return <Badge color={color} variant="light" radius="sm" data-status={status} style={{ minWidth: 'max-content' }}>{statusLabel(status)}</Badge>;
}

/** The last deploy's outcome and when; "running…" while it has none yet. */
export function LastDeploy({ app }: { app: Pick<App, 'lastDeploy' | 'status'> }) {
  const d = app.lastDeploy;
  // Deployed before Slipway knew the app (git push, the dokku CLI): no deploy to show, but not "never".
  if (!d) {
    return app.status === 'not_deployed' ? <Text size="sm" c="dimmed">never</Text> : (
      <Tooltip label="Deployed outside Slipway (git push or the dokku CLI): no deploy recorded here">
        <Text size="sm" c="dimmed" style={{ whiteSpace: 'nowrap' }}>outside Slipway</Text>
      </Tooltip>
    );
  }
  return (
    <Group gap={4} style={{ whiteSpace: 'nowrap', columnGap: 6 }}>
      <span style={{ minWidth: 'max-content', display: 'inline-flex' }}><StatusBadge status={d.outcome ?? 'running'} label={d.outcome ?? 'in progress'} /></span>
      {d.at ? (
        <Tooltip label={formatTime(d.at)}>
          <Text size="sm" c="dimmed">{formatRelative(d.at)}</Text>
        </Tooltip>
      ) : null}
    </Group>
  );
}

/** A job's progress and live log (SSE), shown the moment the job is queued. */
export function JobLogPanel({ jobId, fileName, height = 360 }: { jobId: string; fileName: string; height?: number | string }) {
  const { buffer, job, status } = useJobLog<JobSummary>(jobId);
  return (
    <Stack gap="sm" data-testid="job-log-panel">
      {job ? <JobProgress job={job} compact /> : <Text size="sm" c="dimmed">Queued: waiting for the job to start…</Text>}
      {job?.state === 'failed' && job.error ? <Alert color="red" title="Failed">{job.error}</Alert> : null}
      <LogViewer buffer={buffer} status={status} fileName={fileName} height={height} />
      <Group justify="space-between">
        <JobLink jobId={jobId}>Open the job page</JobLink>
      </Group>
    </Stack>
  );
}

/** A modal around JobLogPanel (deploys, rollbacks, config and runtime changes). */
export function JobLogModal({ jobId, title, fileName, onClose }: { jobId: string | null; title: string; fileName: string; onClose(): void }) {
  return (
    <Modal opened={!!jobId} onClose={onClose} title={title} size="xl" centered>
      {jobId ? <JobLogPanel jobId={jobId} fileName={fileName} /> : null}
      <Group justify="flex-end" mt="sm">
        <Button variant="default" onClick={onClose}>Close</Button>
      </Group>
    </Modal>
  );
}

export function Fact({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <Stack gap={2}>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>{label}</Text>
      <div>{children}</div>
    </Stack>
  );
}
