import { Badge, Card, Group, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { api, call } from '@slipway/web';

/** Dashboard card: how many machines, how many are online or waiting for approval. */
export function NetbootCard() {
  const q = useQuery({ queryKey: ['netboot', 'machines'], queryFn: () => call(api.GET('/api/v1/netboot/machines')), refetchInterval: 30_000 });
  const items = q.data?.items ?? [];
  const online = items.filter((m) => m.status === 'online').length;
  const pending = items.filter((m) => m.state === 'pending').length;
  return (
    <Card withBorder>
      <Group justify="space-between" mb="xs">
        <Text fw={600} component={Link} to="/netboot">Netboot</Text>
        {q.data && <Badge color={online ? 'green' : 'gray'} variant="light">{online} online</Badge>}
      </Group>
      <Text size="sm">{q.data ? `${items.length} machine${items.length === 1 ? '' : 's'}` : 'Loading…'}</Text>
      {pending > 0 && <Text size="sm" c="orange" component={Link} to="/netboot">{pending} waiting for approval</Text>}
    </Card>
  );
}
