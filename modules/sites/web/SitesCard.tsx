import { Badge, Card, Group, Stack, Text } from '@mantine/core';
import { Link } from '@tanstack/react-router';
import { useQuery } from '@tanstack/react-query';
import { api, call } from '@slipway/web';

/** Dashboard card: how many sites, and every certificate that needs attention (WordOps warns nobody). */
export function SitesCard() {
  const sites = useQuery({ queryKey: ['sites', 'card'], queryFn: () => call(api.GET('/api/v1/sites', { params: { query: { limit: 1 } } })), refetchInterval: 60_000 });
  const alerts = useQuery({ queryKey: ['sites-alerts'], queryFn: () => call(api.GET('/api/v1/sites/alerts')), refetchInterval: 60_000 });
  const items = alerts.data?.items ?? [];
  return (
    <Card withBorder>
      <Group justify="space-between" mb="xs">
        <Text fw={600} component={Link} to="/sites">Sites</Text>
        {alerts.data && <Badge color={items.length ? 'orange' : 'green'}>{items.length ? `${items.length} certificate${items.length > 1 ? 's' : ''}` : 'certificates OK'}</Badge>}
      </Group>
      <Stack gap={4}>
        <Text size="sm">{sites.data ? `${sites.data.total} site${sites.data.total === 1 ? '' : 's'}` : 'Loading…'}</Text>
        {items.slice(0, 4).map((a) => (
          <Text key={a.id} size="sm" c={a.kind === 'expiring' ? 'orange' : 'red'}>{a.message}</Text>
        ))}
      </Stack>
    </Card>
  );
}
