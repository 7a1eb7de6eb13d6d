import { Alert, Card, Group, Skeleton, Stack, Table, Text, Title } from '@mantine/core';
import { StatusBadge } from '../components/StatusBadge';
import { formatRelative } from '../lib/format';
import { useModules, type ModuleStatus } from '../platform/module-status';
import { ModuleStatusBanner } from '../shell/ModuleStatusBanner';

function every(ms: number): string {
  if (ms <= 0) return 'off';
  if (ms % 3_600_000 === 0) return `every ${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `every ${ms / 60_000} min`;
  if (ms % 1000 === 0) return `every ${ms / 1000} s`;
  return `every ${ms} ms`;
}

function ModuleCard({ m }: { m: ModuleStatus }) {
  return (
    <Card withBorder padding="md" data-testid={`module-${m.id}`}>
      <Group justify="space-between" mb="xs">
        <Text fw={600}>{m.title}</Text>
        <StatusBadge status={m.status} />
      </Group>
      <ModuleStatusBanner status={m} />
      {m.engines.length ? (
        <Table withRowBorders={false} verticalSpacing={2} mb="xs" aria-label={`${m.title} engines`}>
          <Table.Thead><Table.Tr><Table.Th>Engine</Table.Th><Table.Th>Status</Table.Th><Table.Th>Version</Table.Th></Table.Tr></Table.Thead>
          <Table.Tbody>
            {m.engines.map((e) => (
              <Table.Tr key={e.id}>
                <Table.Td>{e.title}{e.optional ? <Text span size="xs" c="dimmed"> (optional)</Text> : null}</Table.Td>
                <Table.Td><StatusBadge status={e.ok ? 'ok' : e.optional ? 'warning' : 'down'} label={e.ok ? 'answers' : 'missing'} /></Table.Td>
                <Table.Td>{e.version ?? '—'}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      ) : null}
      {m.schedules.length ? (
        <Table withRowBorders={false} verticalSpacing={2} aria-label={`${m.title} schedules`}>
          <Table.Thead><Table.Tr><Table.Th>Schedule</Table.Th><Table.Th>Runs</Table.Th><Table.Th>Last run</Table.Th><Table.Th>Last error</Table.Th></Table.Tr></Table.Thead>
          <Table.Tbody>
            {m.schedules.map((s) => (
              <Table.Tr key={s.name}>
                <Table.Td><Text size="sm">{s.name}</Text><Text size="xs" c="dimmed">{every(s.everyMs)}</Text></Table.Td>
                <Table.Td>{s.runs}</Table.Td>
                <Table.Td>{s.lastRunAt ? <>{formatRelative(s.lastRunAt)} {s.lastOk === false ? <StatusBadge status="failed" /> : null}</> : 'not yet'}</Table.Td>
                <Table.Td><Text size="sm" c={s.lastError ? 'red' : 'dimmed'}>{s.lastError ? `${s.lastError}${s.lastErrorAt ? ` (${formatRelative(s.lastErrorAt)})` : ''}` : '—'}</Text></Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      ) : null}
    </Card>
  );
}

/** Every enabled module: ready, degraded or unavailable, why, how to fix it, engines and schedules. */
export default function ModulesPage() {
  const q = useModules();
  return (
    <Stack>
      <Title order={2}>Modules</Title>
      <Text c="dimmed" size="sm">What each module needs from this machine and whether it answers. A module becomes ready by itself once its engine appears.</Text>
      {q.error ? <Alert color="red" title="Could not load the modules">{q.error instanceof Error ? q.error.message : String(q.error)}</Alert> : null}
      {q.isLoading ? <Skeleton h={120} /> : null}
      {q.data?.map((m) => <ModuleCard key={m.id} m={m} />)}
    </Stack>
  );
}
