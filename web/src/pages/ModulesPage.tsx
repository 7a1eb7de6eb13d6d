import { Alert, Card, Group, Skeleton, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { useCan } from '../lib/hooks';
import { StatusBadge } from '../components/StatusBadge';
import { ScrollTable } from '../components/DataTable';
import { usePageTitle } from '../components/PageHeader';
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
                {/* nowrap: at phone width the engine's name wraps, its badge is never cut to "ANSWE…" */}
                <Table.Td style={{ whiteSpace: 'nowrap', minWidth: 104 }}><StatusBadge status={e.ok ? 'ok' : e.optional ? 'warning' : 'down'} label={e.ok ? 'answers' : 'missing'} /></Table.Td>
                <Table.Td style={{ whiteSpace: 'nowrap' }}>{e.version ?? '—'}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      ) : null}
      {m.schedules.length ? (
        <ScrollTable label={`${m.title} schedules`} minWidth={480}>
        <Table withRowBorders={false} verticalSpacing={2} aria-label={`${m.title} schedules`}>
          <Table.Thead><Table.Tr><Table.Th>Schedule</Table.Th><Table.Th>Runs</Table.Th><Table.Th>Last run</Table.Th><Table.Th>Last error</Table.Th></Table.Tr></Table.Thead>
          <Table.Tbody>
            {m.schedules.map((s) => (
              <Table.Tr key={s.name}>
                <Table.Td><Text size="sm">{s.name}</Text><Text size="xs" c="dimmed">{every(s.everyMs)}{s.scope === 'replica' ? ' · on every replica' : s.held ? ' · runs on this replica' : ' · runs on another replica'}</Text></Table.Td>
                <Table.Td>{s.runs}</Table.Td>
                <Table.Td>{s.lastRunAt ? <>{formatRelative(s.lastRunAt)} {s.lastOk === false ? <StatusBadge status="failed" /> : null}</> : 'not yet'}</Table.Td>
                <Table.Td><Text size="sm" c={s.lastError ? 'red' : 'dimmed'}>{s.lastError ? `${s.lastError}${s.lastErrorAt ? ` (${formatRelative(s.lastErrorAt)})` : ''}` : '—'}</Text></Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        </ScrollTable>
      ) : null}
    </Card>
  );
}

/** The panel processes on this database (GET /api/v1/cluster, admins): one row per replica. */
function ReplicasCard() {
  const q = useQuery({ queryKey: ['cluster'], queryFn: () => call(api.GET('/api/v1/cluster')), refetchInterval: 10_000 });
  if (q.error) return <Alert color="red" title="Could not load the replicas">{q.error instanceof Error ? q.error.message : String(q.error)}</Alert>;
  if (!q.data) return <Skeleton h={60} />;
  return (
    <Card withBorder padding="md" data-testid="replicas">
      <Group justify="space-between" mb="xs">
        <Text fw={600}>Replicas</Text>
        <Text size="sm" c="dimmed">{q.data.shared ? 'PostgreSQL: shared by every replica' : 'SQLite: this process only'}</Text>
      </Group>
      <ScrollTable label="Replicas" minWidth={640}>
      <Table withRowBorders={false} verticalSpacing={2} aria-label="Replicas">
        <Table.Thead><Table.Tr><Table.Th>Replica</Table.Th><Table.Th>State</Table.Th><Table.Th>Version</Table.Th><Table.Th>Started</Table.Th><Table.Th>Heartbeat</Table.Th><Table.Th>Holds</Table.Th></Table.Tr></Table.Thead>
        <Table.Tbody>
          {q.data.replicas.map((r) => (
            <Table.Tr key={r.id}>
              <Table.Td><Text size="sm">{r.address}{r.current ? <Text span size="xs" c="dimmed"> (this one)</Text> : null}</Text><Text size="xs" c="dimmed">{r.id}</Text></Table.Td>
              <Table.Td><StatusBadge status={r.state === 'alive' ? 'ok' : r.state === 'lost' ? 'down' : 'warning'} label={r.state} /></Table.Td>
              <Table.Td>{r.version}</Table.Td>
              <Table.Td>{formatRelative(r.startedAt)}</Table.Td>
              <Table.Td>{formatRelative(r.lastHeartbeatAt)}</Table.Td>
              <Table.Td><Text size="xs">{[...r.leases, ...(r.jobs ? [`${r.jobs} job${r.jobs > 1 ? 's' : ''}`] : []), ...r.localDuties.map((d) => `${d} (local)`)].join(', ') || '—'}</Text></Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      </ScrollTable>
    </Card>
  );
}

/** Every enabled module: ready, degraded or unavailable, why, how to fix it, engines and schedules. */
export default function ModulesPage() {
  const q = useModules();
  const admin = useCan('core.cluster.read');
  usePageTitle('Modules');
  return (
    <Stack>
      <Title order={1} size="h2">Modules</Title>
      <Text c="dimmed" size="sm">What each module needs from this machine and whether it answers. A module becomes ready by itself once its engine appears.</Text>
      {q.error ? <Alert color="red" title="Could not load the modules">{q.error instanceof Error ? q.error.message : String(q.error)}</Alert> : null}
      {q.isLoading ? <Skeleton h={120} /> : null}
      {q.data?.map((m) => <ModuleCard key={m.id} m={m} />)}
      {admin ? <ReplicasCard /> : null}
    </Stack>
  );
}
