import { Anchor, Button, Card, Group, Stack, Text } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useState } from 'react';
import { api, call, type ApiData } from '../api/client';
import { AuditTarget } from '../components/AuditTarget';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { JobProgress } from '../components/JobProgress';
import { LogViewer } from '../components/LogViewer';
import { formatLogLine, type LogLine } from '../components/log-buffer';
import { useJobLog } from '../components/useJobLog';
import { formatTime } from '../lib/format';
import { useCan, usePageParams } from '../lib/hooks';
import { notifyError, notifySuccess } from '../lib/notify';
import { corePermissions } from '../shell/nav';
import { PageError } from '../shell/NotFound';

type Job = ApiData<'/api/v1/jobs/{id}', 'get'>['job'];

/** One job: progress per step, its live log, cancel. */
export default function JobPage() {
  const { jobId } = usePageParams();
  const canCancel = useCan(corePermissions.jobsCancel);
  const qc = useQueryClient();
  const [confirmCancel, setConfirmCancel] = useState(false);
  const q = useQuery({ queryKey: ['jobs', 'one', jobId], queryFn: () => call(api.GET('/api/v1/jobs/{id}', { params: { path: { id: jobId! } } })) });
  const live = useJobLog<Job>(jobId);
  // The live stream's job carries no target (named when listed): keep the one the page loaded.
  const job = live.job ? { ...live.job, target: live.job.target ?? q.data?.job.target } : q.data?.job;

  const downloadAll = async () => {
    try {
      const out: string[] = [];
      let after = 0;
      for (;;) {
        const page = await call(api.GET('/api/v1/jobs/{id}/log-lines', { params: { path: { id: jobId! }, query: { after, limit: 5000 } } }));
        for (const l of page.items as LogLine[]) out.push(formatLogLine(l));
        if (page.items.length < 5000) break;
        after = page.items.at(-1)!.seq;
      }
      const url = URL.createObjectURL(new Blob([out.join('\n') + '\n'], { type: 'text/plain' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `job-${jobId}.log`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (e) {
      notifyError(e, 'Could not download the log');
    }
  };

  if (q.error && !job) return <PageError error={q.error} what="job" backTo="/jobs" />;
  return (
    <Stack>
      <Anchor component={Link} to="/jobs" size="sm">← Jobs</Anchor>
      {job ? (
        <Card withBorder>
          <JobProgress job={job} />
          <Group justify="space-between" mt="sm">
            <Text size="xs" c="dimmed">
              {job.target ? <>On <AuditTarget target={job.target} size="xs" /> · </> : null}{job.type} · by {job.actor.name ?? 'system'} · created {formatTime(job.createdAt)}
              {job.finishedAt ? ` · finished ${formatTime(job.finishedAt)}` : ''}
            </Text>
            {canCancel && (job.state === 'queued' || job.state === 'running') && !job.cancelRequested ? (
              <Button size="xs" color="red" variant="light" onClick={() => setConfirmCancel(true)}>Cancel job</Button>
            ) : null}
          </Group>
        </Card>
      ) : <Card withBorder h={120} />}
      <LogViewer buffer={live.buffer} status={live.status} fileName={`job-${jobId}.log`} onDownload={() => void downloadAll()} height="min(60vh, 560px)" />
      <ConfirmDialog
        opened={confirmCancel}
        onClose={() => setConfirmCancel(false)}
        title="Cancel job?"
        message="Steps already done are undone where they can be."
        confirmLabel="Cancel job"
        onConfirm={async () => {
          await call(api.POST('/api/v1/jobs/{id}/cancel', { params: { path: { id: jobId! } } }));
          notifySuccess('Cancellation requested');
          await qc.invalidateQueries({ queryKey: ['jobs'] });
        }}
      />
    </Stack>
  );
}
