import { Alert, Code, Stack, Text } from '@mantine/core';
import type { ReactNode } from 'react';
import type { ModuleStatus } from '../platform/module-status';

/** Renders `code` spans (`caddy`) of a reason or fix as code. */
function withCode(text: string): ReactNode[] {
  return text.split(/(`[^`]+`)/).map((part, i) => (part.startsWith('`') && part.endsWith('`') ? <Code key={i}>{part.slice(1, -1)}</Code> : part));
}

/** A module that is not ready: what is missing and how to fix it (from GET /api/v1/modules). */
export function ModuleStatusBanner({ status }: { status: ModuleStatus }) {
  if (status.status === 'ready') return null;
  const unavailable = status.status === 'unavailable';
  return (
    <Alert
      color={unavailable ? 'red' : 'yellow'}
      title={unavailable ? `${status.title} is unavailable` : `${status.title} is running with limits`}
      data-testid={`module-status-${status.id}`}
      role="status"
      mb="md"
    >
      <Stack gap={4}>
        {status.reason ? <Text size="sm">{withCode(status.reason)}</Text> : null}
        {status.fix ? <Text size="sm"><b>How to fix:</b> {withCode(status.fix)}</Text> : null}
        {unavailable ? <Text size="xs" c="dimmed">The panel checks again by itself; this page works as soon as it is ready, without a restart.</Text> : null}
      </Stack>
    </Alert>
  );
}
