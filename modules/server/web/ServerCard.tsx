import { Badge, Card, Group, Stack, Text } from '@mantine/core';
import { Link } from '@tanstack/react-router';
import { useQuery } from '@tanstack/react-query';
import { api, call, formatBytes } from '@slipway/web';

/** Dashboard card: hosts online, memory and disk totals, active alerts. */
export function ServerCard() {
  const o = useQuery({ queryKey: ['system-overview'], queryFn: () => call(api.GET('/api/v1/system/overview')), refetchInterval: 10_000 });
  const d = o.data;
  return (
    <Card withBorder>
      <Group justify="space-between" mb="xs">
        <Text fw={600} component={Link} to="/server">Servers</Text>
        {d && <Badge color={d.alerts.length ? 'red' : 'green'}>{d.alerts.length ? `${d.alerts.length} alert${d.alerts.length > 1 ? 's' : ''}` : 'healthy'}</Badge>}
      </Group>
      {d ? (
        <Stack gap={4}>
          <Text size="sm">{d.totals.online} of {d.totals.hosts} hosts reporting · {d.totals.cores} cores</Text>
          <Text size="sm">Memory {formatBytes(d.totals.memoryUsedBytes)} / {formatBytes(d.totals.memoryTotalBytes)}</Text>
          <Text size="sm">Disk {formatBytes(d.totals.diskUsedBytes)} / {formatBytes(d.totals.diskTotalBytes)}</Text>
          {d.alerts.slice(0, 3).map((a) => (
            <Text key={a.id} size="sm" c="red">{a.message}</Text>
          ))}
        </Stack>
      ) : (
        <Text size="sm" c="dimmed">Loading…</Text>
      )}
    </Card>
  );
}
