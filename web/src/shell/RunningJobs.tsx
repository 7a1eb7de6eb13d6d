import { ActionIcon, Indicator, Popover, Stack, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { api, call } from '../api/client';
import { icons } from '../components/icons';
import { JobProgress } from '../components/JobProgress';
import { useLiveInvalidate } from '../components/useLiveEvents';
import { useCan } from '../lib/hooks';
import { corePermissions } from './nav';

/** Top-bar indicator of queued and running jobs, with their progress in a popover. */
export function RunningJobs() {
  const canRead = useCan(corePermissions.jobsRead);
  const q = useQuery({
    queryKey: ['jobs', 'active'],
    enabled: canRead,
    refetchInterval: 15_000,
    queryFn: () => call(api.GET('/api/v1/jobs', { params: { query: { state: 'queued,running', limit: 20 } } })),
  });
  useLiveInvalidate(['job'], [['jobs']]);
  if (!canRead) return null;
  const items = q.data?.items ?? [];
  return (
    // The popover's target is the button itself (its aria-expanded/aria-haspopup belong on a button, not the indicator's div).
    <Popover position="bottom-end" width={320} shadow="md">
      <Indicator label={items.length} size={16} disabled={!items.length} processing={items.length > 0}>
        <Popover.Target>
          <ActionIcon variant="default" size="lg" aria-label={`Running jobs: ${items.length}`} title={items.length ? `${items.length} running job${items.length === 1 ? '' : 's'}` : 'No running jobs'} data-testid="running-jobs">
            <icons.jobs />
          </ActionIcon>
        </Popover.Target>
      </Indicator>
      <Popover.Dropdown>
        <Stack gap="sm">
          {items.length ? items.map((j) => (
            <Link key={j.id} to="/jobs/$jobId" params={{ jobId: j.id }} style={{ textDecoration: 'none', color: 'inherit' }}>
              <JobProgress job={j} compact />
            </Link>
          )) : <Text size="sm" c="dimmed">Nothing is running.</Text>}
          <Text component={Link} to="/jobs" size="sm" c="indigo">All jobs</Text>
        </Stack>
      </Popover.Dropdown>
    </Popover>
  );
}
