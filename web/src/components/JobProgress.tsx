import { Group, Progress, Stack, Text } from '@mantine/core';
import { jobTitle } from './JobTitle';
import { StatusBadge } from './StatusBadge';

export interface JobLike {
  id: string;
  title: string;
  state: string;
  progress: number;
  error?: string | null;
  cancelRequested?: boolean;
  steps: { name: string; state: string; progress: number }[];
  /** What the job works on (its name completes a title that lacks it). */
  target?: { type: string; id: string; name?: string } | null;
}

const ACTIVE = new Set(['queued', 'running']);

/** A job's overall progress and each named step's state and progress. */
export function JobProgress({ job, compact = false }: { job: JobLike; compact?: boolean }) {
  const color = job.state === 'failed' ? 'red' : job.state === 'succeeded' ? 'green' : job.state === 'cancelled' || job.state === 'interrupted' ? 'yellow' : 'blue';
  return (
    <Stack gap={6} data-testid="job-progress">
      <Group justify="space-between" gap="xs">
        <Text fw={600} size="sm">{jobTitle(job)}</Text>
        <Group gap={6}>
          {job.cancelRequested && ACTIVE.has(job.state) ? <Text size="xs" c="dimmed">cancelling…</Text> : null}
          <StatusBadge status={job.state} />
        </Group>
      </Group>
      <Progress value={Math.round(job.progress)} color={color} animated={job.state === 'running'} aria-label={`${jobTitle(job)}: ${Math.round(job.progress)}%`} />
      {compact ? null : (
        <Stack gap={4} component="ol" style={{ listStyle: 'none', padding: 0, margin: 0 }}>
          {job.steps.map((s, i) => (
            <Group key={`${i}-${s.name}`} component="li" gap="xs" wrap="nowrap">
              <Text size="xs" c="dimmed" w={18}>{i + 1}.</Text>
              <Text size="sm" style={{ flex: 1 }}>{s.name}</Text>
              {s.state === 'running' ? <Progress value={s.progress} w={80} size="sm" aria-label={`${s.name}: ${Math.round(s.progress)}%`} /> : null}
              <StatusBadge status={s.state} />
            </Group>
          ))}
        </Stack>
      )}
      {job.error ? <Text size="sm" c="red">{job.error}</Text> : null}
    </Stack>
  );
}
