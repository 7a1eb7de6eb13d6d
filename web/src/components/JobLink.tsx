import { Anchor } from '@mantine/core';
import { Link, useNavigate } from '@tanstack/react-router';
import { notifications } from '@mantine/notifications';
import { useCallback } from 'react';
import { notifyError } from '../lib/notify';
import { issuesOf } from './fieldErrors';

/** Link to a job's page (progress and live log). */
/** `inheritColor`: the surrounding text colour, underlined (link blue is under 4.5:1 on a tinted alert). */
export function JobLink({ jobId, children, inheritColor = false }: { jobId: string; children?: React.ReactNode; inheritColor?: boolean }) {
  return (
    <Anchor component={Link} to={`/jobs/${encodeURIComponent(jobId)}`} size="sm" {...(inheritColor ? { c: 'inherit', underline: 'always' as const } : {})}>
      {children ?? 'View job'}
    </Anchor>
  );
}

/**
 * For actions answering 202 { job }: runs the request, toasts "started", and opens the job page
 * (`open: false` to stay). Errors toast the server's message; with `fields: true` the form shows
 * field problems next to its fields itself, so a validation error is not toasted again.
 */
export function useRunJob() {
  const navigate = useNavigate();
  return useCallback(
    async (start: () => Promise<{ job: { id: string; title: string } }>, opts: { open?: boolean; fields?: boolean } = {}) => {
      try {
        const { job } = await start();
        notifications.show({ color: 'blue', title: 'Started', message: job.title });
        if (opts.open !== false) void navigate({ to: '/jobs/$jobId', params: { jobId: job.id } });
        return job;
      } catch (e) {
        if (!(opts.fields && issuesOf(e).length)) notifyError(e);
        return undefined;
      }
    },
    [navigate],
  );
}
