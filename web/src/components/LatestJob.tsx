import { Alert, Group, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { JobLink } from './JobLink';
import { JobProgress } from './JobProgress';
import { useLiveInvalidate } from './useLiveEvents';

/**
 * The newest job on one resource (lock key such as `container:<id>`): its progress while it runs,
 * its error when it failed, with a link to its page. Nothing once it succeeded long ago. Lets a page
 * the operator lands on after starting a change show that change (issue 18, item 9).
 */
export function LatestJob({ resource }: { resource: string }) {
  useLiveInvalidate(['job.updated'], [['jobs', 'resource', resource]]);
  const q = useQuery({
    queryKey: ['jobs', 'resource', resource],
    queryFn: () => call(api.GET('/api/v1/jobs', { params: { query: { resource, limit: 1 } } })),
  });
  const job = q.data?.items[0];
  if (!job) return null;
  const active = job.state === 'queued' || job.state === 'running';
  const failed = job.state === 'failed' || job.state === 'interrupted' || job.state === 'cancelled';
  const recent = job.finishedAt !== null && Date.now() - job.finishedAt < 10 * 60_000;
  if (!active && !(failed && recent) && !(job.state === 'succeeded' && recent)) return null;
  return (
    <Alert color={failed ? 'red' : active ? 'blue' : 'green'} mb="md" data-testid="latest-job">
      <JobProgress job={job} compact />
      <Group justify="flex-end" mt={4}>
        {/* the alert's own text colour: dimmed grey and link blue fall under 4.5:1 on its tinted background */}
        <Text size="xs">started by {job.actor.name ?? 'the system'}</Text>
        <JobLink jobId={job.id} inheritColor>Open the job and its log</JobLink>
      </Group>
    </Alert>
  );
}
