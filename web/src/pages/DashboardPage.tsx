import { Anchor, Card, Group, SimpleGrid, Skeleton, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import type { ReactNode } from 'react';
import { api, authedFetch, call } from '../api/client';
import { AuditTarget } from '../components/AuditTarget';
import { StatusBadge } from '../components/StatusBadge';
import { usePageTitle } from '../components/PageHeader';
import { useLiveInvalidate } from '../components/useLiveEvents';
import { formatRelative } from '../lib/format';
import { useCan, useMe } from '../lib/hooks';
import { webModules } from '../modules';
import { useModules } from '../platform/module-status';
import { corePermissions } from '../shell/nav';

function StatCard({ title, value, hint, to, testId }: { title: string; value: ReactNode; hint?: ReactNode; to?: string; testId?: string }) {
  return (
    <Card withBorder padding="md" data-testid={testId}>
      <Text size="xs" c="dimmed" tt="uppercase" fw={700}>{title}</Text>
      <Text fz={32} fw={700} lh={1.2}>{value}</Text>
      <Group justify="space-between">
        <Text size="xs" c="dimmed">{hint}</Text>
        {to ? <Anchor component={Link} to={to} size="xs">View</Anchor> : null}
      </Group>
    </Card>
  );
}

/** The number, a skeleton while loading, or a dash with the reason when the request failed. */
const count = (n: number | undefined, more: boolean, error?: unknown) =>
  error && n === undefined ? <Text component="span" fz={32} fw={700} c="dimmed" title={error instanceof Error ? error.message : 'Could not load'}>—</Text> : n === undefined ? <Skeleton h={36} w={40} /> : more ? `${n}+` : n;

/** Overview: hosts, running and failed jobs, recent audit events and module cards, live. */
export default function DashboardPage() {
  const me = useMe();
  usePageTitle('Dashboard');
  const canJobs = useCan(corePermissions.jobsRead);
  const canAudit = useCan(corePermissions.auditRead);
  const canHosts = useCan(corePermissions.hostsRead);
  useLiveInvalidate(['job', 'audit', 'host'], [['jobs'], ['audit'], ['hosts-count']]);

  const hosts = useQuery({
    queryKey: ['hosts-count'],
    enabled: canHosts,
    queryFn: async () => {
      try {
        const body = (await (await authedFetch('/api/v1/hosts')).json()) as { items?: unknown[] } | unknown[];
        return Array.isArray(body) ? body.length : (body.items?.length ?? 1);
      } catch {
        return 1;
      }
    },
  });
  const active = useQuery({ queryKey: ['jobs', 'active'], enabled: canJobs, queryFn: () => call(api.GET('/api/v1/jobs', { params: { query: { state: 'queued,running', limit: 20 } } })) });
  const failed = useQuery({ queryKey: ['jobs', 'failed-dash'], enabled: canJobs, queryFn: () => call(api.GET('/api/v1/jobs', { params: { query: { state: 'failed,interrupted', limit: 100 } } })) });
  const audit = useQuery({ queryKey: ['audit', 'recent'], enabled: canAudit, queryFn: () => call(api.GET('/api/v1/audit', { params: { query: { limit: 8 } } })) });

  const running = active.data?.items.filter((j) => j.state === 'running').length;
  const queued = active.data?.items.filter((j) => j.state === 'queued').length;
  // Cards of the modules the server lists as enabled and visible to this user.
  const visible = new Set((useModules().data ?? []).filter((m) => m.visible).map((m) => m.id));
  const cards = webModules.filter((m) => m.dashboardCard && visible.has(m.id));

  return (
    <Stack>
      <Title order={1} size="h2">Dashboard</Title>
      <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }}>
        {canHosts ? <StatCard testId="card-hosts" title="Hosts" value={count(hosts.data, false, hosts.error)} hint="managed servers" /> : null}
        {canJobs ? <StatCard testId="card-running" title="Running jobs" value={count(running, false, active.error)} hint={queued ? `${queued} queued` : 'none queued'} to="/jobs" /> : null}
        {canJobs ? <StatCard testId="card-failed" title="Failed jobs" value={count(failed.data?.items.length, !!failed.data?.nextBefore, failed.error)} hint="failed or interrupted" to="/jobs" /> : null}
        <StatCard title="Signed in as" value={<Text fz={20} fw={700} truncate>{me?.username}</Text>} hint={me?.role} to="/account" />
      </SimpleGrid>
      {cards.length ? (
        <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
          {cards.map((m) => {
            const C = m.dashboardCard!;
            return <C key={m.id} />;
          })}
        </SimpleGrid>
      ) : null}
      {canAudit ? (
        <Card withBorder padding="md" data-testid="card-audit">
          <Group justify="space-between" mb="xs">
            <Text fw={600}>Recent activity</Text>
            <Anchor component={Link} to="/audit" size="sm">Audit log</Anchor>
          </Group>
          {audit.isLoading ? <Skeleton h={120} /> : audit.data?.items.length ? (
            <Stack gap={6}>
              {audit.data.items.map((e) => (
                <Group key={e.id} justify="space-between" wrap="nowrap" gap="xs">
                  <Text size="sm" truncate>
                    <b>{e.actor.name ?? e.actor.kind}</b> {e.action}{e.target ? <> · <AuditTarget target={e.target} /></> : null}
                  </Text>
                  <Group gap={6} wrap="nowrap">
                    <StatusBadge status={e.outcome} />
                    <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>{formatRelative(e.at)}</Text>
                  </Group>
                </Group>
              ))}
            </Stack>
          ) : <Text size="sm" c="dimmed">No activity yet.</Text>}
        </Card>
      ) : null}
    </Stack>
  );
}
