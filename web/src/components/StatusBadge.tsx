import { Badge } from '@mantine/core';

const COLORS: Record<string, string> = {
  succeeded: 'green', success: 'green', running: 'blue', active: 'green', ok: 'green', online: 'green', up: 'green', enabled: 'green',
  queued: 'gray', pending: 'gray', started: 'blue', sleeping: 'indigo', stopped: 'gray', skipped: 'gray', undone: 'yellow',
  failed: 'red', failure: 'red', error: 'red', denied: 'orange', broken: 'red', offline: 'red', down: 'red',
  cancelled: 'yellow', interrupted: 'orange', suspended: 'orange', warning: 'yellow', degraded: 'yellow', disabled: 'gray',
};

/** A coloured state label; knows the job, audit and common resource states, grey for anything else. */
export function StatusBadge({ status, label }: { status: string; label?: string }) {
  return (
    <Badge color={COLORS[status] ?? 'gray'} variant="light" radius="sm" data-status={status}>
      {label ?? status}
    </Badge>
  );
}
