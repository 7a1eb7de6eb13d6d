import { Alert, Anchor, Badge, Button, Card, Group, Menu, Select, SimpleGrid, Stack, Tabs, Text, Title, Tooltip } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useSearch } from '@tanstack/react-router';
import { useState } from 'react';
import {
  ConfirmDialog, DataTable, JobLink, PageError, PageHeader, StatusBadge, api, call, formatRelative, formatTime, icons, notifySuccess, useCan,
  useLiveEvents, usePageParams, useRunJob,
} from '@slipway/web';
import { appKey, appParams, deploySourceLabel, formatDuration, sourceLabel, type App, type Deploy, type Release, type ShowJob } from './api';
import { AppStatusBadge, Fact, JobLogModal, JobLogPanel, LastDeploy } from './components';
import { ConfigTab } from './ConfigTab';
import { DeployDialog } from './DeployDialog';
import { DomainsTab, PortsTab } from './NetworkTabs';
import { ChecksTab, ScaleTab } from './RuntimeTabs';
import { BuildOutputModal, BuildsPanel } from './BuildsPanel';
import { CertAlerts, useCertAlerts } from './CertAlerts';
import { OwnerPanel } from './OwnerPanel';

type PsAction = 'start' | 'stop' | 'restart' | 'rebuild';
const PS_LABEL: Record<PsAction, string> = { start: 'Start', stop: 'Stop', restart: 'Restart', rebuild: 'Rebuild' };

/** One app: overview, deploys and releases (rollback), logs, config, domains + TLS, checks, ports, scale. */
export default function AppPage() {
  const name = usePageParams().appName ?? '';
  const search = useSearch({ strict: false }) as { host?: unknown; tab?: unknown };
  const host = search.host ? String(search.host) : 'local';
  const navigate = useNavigate();
  const qc = useQueryClient();
  const runJob = useRunJob();
  const canDeploy = useCan('apps.deploy');
  const canDestroy = useCan('apps.destroy');
  const [tab, setTab] = useState<string>(typeof search.tab === 'string' ? search.tab : 'overview');
  const [deploying, setDeploying] = useState(false);
  const [destroying, setDestroying] = useState(false);
  const [confirmPs, setConfirmPs] = useState<PsAction | null>(null);
  const [shown, setShown] = useState<{ id: string; title: string } | null>(null);
  const key = appKey(host, name);

  // Live: any event about this app, or a job of it, re-reads the app and its deploys; a finished job re-reads every tab.
  useLiveEvents(['apps.', 'job.updated'], (e) => {
    const job = e.type === 'job.updated' ? (e.data?.job as { resource?: string | null; state?: string } | undefined) : undefined;
    if (job ? job.resource !== `app:${host}:${name}` : e.resource?.id !== `${host}:${name}`) return;
    void qc.invalidateQueries({ queryKey: [...key, 'view'] });
    void qc.invalidateQueries({ queryKey: [...key, 'deploys'] });
    if (!job || !['queued', 'running'].includes(job.state ?? '')) void qc.invalidateQueries({ queryKey: key });
  });

  const alerts = useCertAlerts();
  const app = useQuery({ queryKey: [...key, 'view'], queryFn: () => call(api.GET('/api/v1/apps/{name}', { params: appParams(name, host) })).then((r) => r.app) });
  const a = app.data;
  const showJob: ShowJob = (job, title) => setShown({ id: job.id, title });

  const ps = async (action: PsAction) => {
    const { query } = appParams(name, host);
    const job = await runJob(() => call(api.POST('/api/v1/apps/{name}/ps/{action}', { params: { path: { name, action }, query } })), { open: false });
    if (job) showJob(job, `${PS_LABEL[action]} ${name}`);
  };

  if (app.error) return <PageError error={app.error} what="app" backTo="/apps" />;
  if (!a) return <PageHeader title={name} description="Loading…" />;
  const pending = a.state === 'pending';

  return (
    <>
      <PageHeader
        title={a.name}
        description={<>Dokku app on {a.host} · inventory read {formatRelative(a.refreshedAt)}</>}
        actions={
          <>
            <AppStatusBadge status={a.status} pending={pending} />
            {canDeploy && <Button leftSection={<icons.play size={16} />} onClick={() => setDeploying(true)} disabled={pending}>Deploy</Button>}
            {canDeploy && (
              <Menu position="bottom-end" withinPortal>
                <Menu.Target>
                  <Button variant="default" disabled={pending || a.status === 'not_deployed'}>Process</Button>
                </Menu.Target>
                <Menu.Dropdown>
                  <Menu.Item onClick={() => void ps('start')} disabled={a.status === 'running'}>Start</Menu.Item>
                  <Menu.Item onClick={() => setConfirmPs('restart')}>Restart</Menu.Item>
                  <Menu.Item onClick={() => setConfirmPs('rebuild')}>Rebuild</Menu.Item>
                  <Menu.Item color="red" onClick={() => setConfirmPs('stop')} disabled={a.status !== 'running'}>Stop</Menu.Item>
                </Menu.Dropdown>
              </Menu>
            )}
            {canDestroy && <Button color="red" variant="light" leftSection={<icons.trash size={16} />} onClick={() => setDestroying(true)} disabled={pending}>Destroy</Button>}
          </>
        }
      />
      {pending && <Alert color="blue" mb="md">The app is still being created on Dokku.</Alert>}
      {!pending && <OwnerPanel app={a} />}
      <CertAlerts items={alerts.data} app={a} />

      <Tabs value={tab} onChange={(v) => setTab(v ?? 'overview')} keepMounted={false}>
        <Tabs.List mb="md">
          <Tabs.Tab value="overview">Overview</Tabs.Tab>
          <Tabs.Tab value="deploys">Deploys &amp; releases</Tabs.Tab>
          <Tabs.Tab value="logs">Logs</Tabs.Tab>
          <Tabs.Tab value="config" disabled={pending}>Config</Tabs.Tab>
          <Tabs.Tab value="domains" disabled={pending}>Domains &amp; TLS</Tabs.Tab>
          <Tabs.Tab value="checks" disabled={pending}>Checks</Tabs.Tab>
          <Tabs.Tab value="ports" disabled={pending}>Ports</Tabs.Tab>
          <Tabs.Tab value="scale" disabled={pending}>Scale</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="overview"><Overview app={a} onDeploy={canDeploy && !pending ? () => setDeploying(true) : undefined} /></Tabs.Panel>
        <Tabs.Panel value="deploys"><DeploysTab app={a} showJob={showJob} /></Tabs.Panel>
        <Tabs.Panel value="logs"><LogsTab app={a} /></Tabs.Panel>
        <Tabs.Panel value="config"><ConfigTab app={a} showJob={showJob} /></Tabs.Panel>
        <Tabs.Panel value="domains"><DomainsTab app={a} showJob={showJob} /></Tabs.Panel>
        <Tabs.Panel value="checks"><ChecksTab app={a} /></Tabs.Panel>
        <Tabs.Panel value="ports"><PortsTab app={a} /></Tabs.Panel>
        <Tabs.Panel value="scale"><ScaleTab app={a} showJob={showJob} /></Tabs.Panel>
      </Tabs>

      {deploying && <DeployDialog app={a} opened={deploying} onClose={() => setDeploying(false)} />}
      <JobLogModal jobId={shown?.id ?? null} title={shown?.title ?? ''} fileName={`${name}-${shown?.id ?? 'job'}.log`} onClose={() => setShown(null)} />
      <ConfirmDialog
        opened={!!confirmPs}
        onClose={() => setConfirmPs(null)}
        title={confirmPs ? `${PS_LABEL[confirmPs]} ${a.name}?` : ''}
        message={confirmPs === 'stop' ? 'The app stops serving requests until it is started again.'
          : confirmPs === 'rebuild' ? 'Dokku builds the app again from its current source and deploys it.'
            : 'Dokku restarts every process of the app.'}
        danger={confirmPs === 'stop'}
        confirmLabel={confirmPs ? PS_LABEL[confirmPs] : 'Confirm'}
        onConfirm={async () => {
          if (confirmPs) await ps(confirmPs);
        }}
      />
      <ConfirmDialog
        opened={destroying}
        onClose={() => setDestroying(false)}
        title={`Destroy ${a.name}?`}
        typeToConfirm={a.name}
        confirmLabel="Destroy app"
        message={`Dokku removes the app, its containers, its config and its domains (apps:destroy). The release history in Slipway goes with it. This cannot be undone.`}
        onConfirm={async () => {
          const job = await runJob(() => call(api.DELETE('/api/v1/apps/{name}', { params: appParams(a.name, a.host), body: { confirm: a.name } })), { open: false });
          if (job) void navigate({ to: '/jobs/$jobId', params: { jobId: job.id } });
        }}
      />
    </>
  );
}

function Overview({ app: a, onDeploy }: { app: App; onDeploy?: () => void }) {
  const key = appKey(a.host, a.name);
  const releases = useQuery({ queryKey: [...key, 'releases'], queryFn: () => call(api.GET('/api/v1/apps/{name}/releases', { params: appParams(a.name, a.host) })).then((r) => r.items) });
  const current = releases.data?.find((r) => r.current);
  return (
    <Stack>
      {a.status === 'not_deployed' && !a.lastDeploy && (
        <Alert color="blue" title="Not deployed yet">
          <Group justify="space-between">
            <Text size="sm">Deploy it from a Docker image or a git repository; the deploy's output appears live.</Text>
            {onDeploy && <Button size="xs" onClick={onDeploy}>Deploy now</Button>}
          </Group>
        </Alert>
      )}
      <Card withBorder>
        <SimpleGrid cols={{ base: 1, sm: 2, md: 3 }} spacing="lg">
          <Fact label="URL">{a.url ? <Anchor href={a.url} target="_blank" rel="noreferrer" size="sm">{a.url}</Anchor> : <Text size="sm" c="dimmed">none yet</Text>}</Fact>
          <Fact label="Status"><AppStatusBadge status={a.status} pending={a.state === 'pending'} /></Fact>
          <Fact label="Last deploy">
            <Group gap="xs"><LastDeploy app={a} />{a.lastDeploy && <JobLink jobId={a.lastDeploy.jobId}>log</JobLink>}</Group>
          </Fact>
          <Fact label="Current release">
            {current ? (
              <Group gap={6}><Badge variant="outline">#{current.number}</Badge><Text size="sm" ff="monospace">{deploySourceLabel(current)}</Text></Group>
            ) : <Text size="sm" c="dimmed">{releases.isLoading ? '…' : 'none recorded by Slipway'}</Text>}
          </Fact>
          <Fact label="Deployed from"><Text size="sm" ff={a.deploySource ? 'monospace' : undefined}>{sourceLabel(a)}</Text></Fact>
          <Fact label="Processes"><Text size="sm">{Object.keys(a.scale).length ? Object.entries(a.scale).map(([p, n]) => `${p} × ${n}`).join(', ') : '—'}{a.processes ? ` (${a.processes} running)` : ''}</Text></Fact>
          <Fact label="Domains"><Text size="sm">{a.domains.length ? a.domains.join(', ') : '—'}</Text></Fact>
          <Fact label="Created"><Text size="sm">{formatTime(a.createdAt)}</Text></Fact>
        </SimpleGrid>
      </Card>
    </Stack>
  );
}

function deployState(d: Deploy) {
  if (d.state === 'queued') return <StatusBadge status="queued" label={d.position ? `queued · #${d.position}` : 'queued'} />;
  return <StatusBadge status={d.state} />;
}

function DeploysTab({ app: a, showJob }: { app: App; showJob: ShowJob }) {
  const key = appKey(a.host, a.name);
  const canDeploy = useCan('apps.deploy');
  const canCancel = useCan('core.jobs.cancel');
  const runJob = useRunJob();
  const qc = useQueryClient();
  const deploys = useQuery({ queryKey: [...key, 'deploys'], queryFn: () => call(api.GET('/api/v1/apps/{name}/deploys', { params: appParams(a.name, a.host) })).then((r) => r.items), refetchInterval: 10_000 });
  const releases = useQuery({ queryKey: [...key, 'releases'], queryFn: () => call(api.GET('/api/v1/apps/{name}/releases', { params: appParams(a.name, a.host) })).then((r) => r.items) });
  const [cancelling, setCancelling] = useState<Deploy | null>(null);
  const [rollback, setRollback] = useState<Release | null>(null);
  const [output, setOutput] = useState<string | null>(null);
  const active = (deploys.data ?? []).filter((d) => d.state === 'queued' || d.state === 'running');

  return (
    <Stack>
      {active.length > 1 && <Alert color="blue">{active.length} deploys: they run one after the other, in the order asked.</Alert>}
      <Title order={4}>Deploys</Title>
      <DataTable
        rows={deploys.data}
        loading={deploys.isLoading}
        error={deploys.error}
        rowKey={(d) => d.jobId}
        empty={<Text p="md" size="sm" c="dimmed">No deploy yet.</Text>}
        columns={[
          { key: 'state', header: 'State', render: deployState },
          { key: 'source', header: 'Source', render: (d) => <Text size="sm" ff="monospace" truncate maw={300}>{deploySourceLabel(d)}</Text> },
          { key: 'who', header: 'Asked by', hideOnMobile: true, render: (d) => d.actor.name ?? 'system' },
          { key: 'when', header: 'Asked', render: (d) => <Tooltip label={formatTime(d.requestedAt)}><Text size="sm">{formatRelative(d.requestedAt)}</Text></Tooltip> },
          { key: 'took', header: 'Took', hideOnMobile: true, render: (d) => (d.startedAt && d.finishedAt ? formatDuration(d.finishedAt - d.startedAt) : d.startedAt ? 'running…' : '—') },
          {
            key: 'result', header: 'Result', hideOnMobile: true, render: (d) => (
              <Stack gap={0}>
                {d.releaseNumber ? <Text size="sm">release #{d.releaseNumber}</Text> : null}
                {d.build.status ? <Text size="xs" c="dimmed">Dokku build: {d.build.status}</Text> : null}
                {d.message ? <Text size="xs" c={d.state === 'failed' ? 'red' : 'dimmed'} lineClamp={2}>{d.message}</Text> : null}
              </Stack>
            ),
          },
          {
            key: 'actions', header: '', render: (d) => (
              <Group gap={6} wrap="nowrap">
                <JobLink jobId={d.jobId}>log</JobLink>
                {d.build.id && d.state !== 'running' && d.state !== 'queued' && (
                  <Button size="compact-xs" variant="subtle" onClick={() => setOutput(d.build.id)} aria-label={`Dokku output of build ${d.build.id}`}>Dokku output</Button>
                )}
                {canCancel && (d.state === 'queued' || d.state === 'running') && !d.job?.cancelRequested && (
                  <Button size="compact-xs" color="red" variant="light" onClick={() => setCancelling(d)}>Cancel</Button>
                )}
                {d.job?.cancelRequested && (d.state === 'queued' || d.state === 'running') ? <Text size="xs" c="dimmed">cancelling…</Text> : null}
              </Group>
            ),
          },
        ]}
      />
      <Title order={4} mt="md">Releases</Title>
      <DataTable
        rows={releases.data}
        loading={releases.isLoading}
        error={releases.error}
        rowKey={(r) => String(r.number)}
        empty={<Text p="md" size="sm" c="dimmed">No release yet: every successful deploy becomes one.</Text>}
        columns={[
          { key: 'n', header: 'Release', render: (r) => <Group gap={6} wrap="nowrap"><Text fw={600}>#{r.number}</Text>{r.current && <Badge size="sm" color="green">current</Badge>}</Group> },
          { key: 'source', header: 'Image or commit', render: (r) => <Text size="sm" ff="monospace" truncate maw={300}>{deploySourceLabel(r)}{r.rollbackOf ? ` (rollback to #${r.rollbackOf})` : ''}</Text> },
          { key: 'who', header: 'By', hideOnMobile: true, render: (r) => r.actor.name ?? 'system' },
          { key: 'when', header: 'When', render: (r) => <Tooltip label={formatTime(r.createdAt)}><Text size="sm">{formatRelative(r.createdAt)}</Text></Tooltip> },
          { key: 'took', header: 'Took', hideOnMobile: true, render: (r) => formatDuration(r.durationMs) },
          { key: 'digest', header: 'Config', hideOnMobile: true, render: (r) => (r.configDigest ? <Tooltip label="Digest of the env at deploy time"><Text size="xs" ff="monospace">{r.configDigest.slice(0, 8)}</Text></Tooltip> : '—') },
          {
            key: 'actions', header: '', render: (r) => (
              <Group gap={6} wrap="nowrap">
                <JobLink jobId={r.jobId}>log</JobLink>
                {r.buildId && <Button size="compact-xs" variant="subtle" onClick={() => setOutput(r.buildId)}>Dokku output</Button>}
                {canDeploy && !r.current && <Button size="compact-xs" variant="light" onClick={() => setRollback(r)}>Roll back</Button>}
              </Group>
            ),
          },
        ]}
      />
      <BuildsPanel app={a} onOutput={(b) => setOutput(b.id)} />
      <BuildOutputModal app={a} buildId={output} onClose={() => setOutput(null)} />
      <ConfirmDialog
        opened={!!cancelling}
        onClose={() => setCancelling(null)}
        title="Cancel this deploy?"
        message={cancelling?.state === 'running'
          ? 'Dokku stops the build (builds:cancel). The release that is live now stays live.'
          : 'It leaves the queue without running.'}
        confirmLabel="Cancel deploy"
        onConfirm={async () => {
          if (!cancelling) return;
          await call(api.POST('/api/v1/jobs/{id}/cancel', { params: { path: { id: cancelling.jobId } } }));
          notifySuccess('Cancellation requested');
          await qc.invalidateQueries({ queryKey: [...key, 'deploys'] });
        }}
      />
      <ConfirmDialog
        opened={!!rollback}
        onClose={() => setRollback(null)}
        title={rollback ? `Roll back to release #${rollback.number}?` : ''}
        message={rollback ? <>Dokku deploys exactly <b>{deploySourceLabel(rollback)}</b> again, as a new release. The env stays as it is now.</> : ''}
        danger={false}
        confirmLabel="Roll back"
        onConfirm={async () => {
          if (!rollback) return;
          const { query } = appParams(a.name, a.host);
          const job = await runJob(() => call(api.POST('/api/v1/apps/{name}/releases/{number}/rollback', { params: { path: { name: a.name, number: rollback.number }, query } })), { open: false });
          if (job) showJob(job, `Rolling ${a.name} back to release #${rollback.number}`);
        }}
      />
    </Stack>
  );
}

/**
 * Deploy output: the running deploy live, else the latest one (or one picked). The app's runtime
 * log (`dokku logs -t`) is a source of the server module's log viewer, linked from here.
 */
function LogsTab({ app: a }: { app: App }) {
  const key = appKey(a.host, a.name);
  const canServerLogs = useCan('server.logs.read');
  const deploys = useQuery({ queryKey: [...key, 'deploys'], queryFn: () => call(api.GET('/api/v1/apps/{name}/deploys', { params: appParams(a.name, a.host) })).then((r) => r.items) });
  const [picked, setPicked] = useState<string | null>(null);
  const items = deploys.data ?? [];
  const running = items.find((d) => d.state === 'running');
  const jobId = picked ?? running?.jobId ?? items.find((d) => d.state !== 'queued')?.jobId ?? null;
  return (
    <Stack>
      <Group justify="space-between" align="flex-end">
        <Text size="sm" c="dimmed" maw={640}>
          Deploy output, live while a deploy runs; past builds' output as Dokku kept it is on the Deploys tab.
          {canServerLogs ? <> The app's runtime log (<code>dokku logs -t</code>) is in the <Anchor component={Link} to="/server/logs" search={{ source: `app:${a.host}:${a.name}` } as never} size="sm">log viewer</Anchor>.</> : null}
        </Text>
        {items.length > 0 && (
          <Select
            aria-label="Deploy"
            w={420}
            data={items.filter((d) => d.state !== 'queued').map((d) => ({ value: d.jobId, label: `${d.releaseNumber ? `release #${d.releaseNumber}` : d.state} · ${deploySourceLabel(d)} · ${formatRelative(d.requestedAt)}`.slice(0, 90) }))}
            value={jobId}
            onChange={setPicked}
            allowDeselect={false}
          />
        )}
      </Group>
      {deploys.isLoading ? <Text size="sm">Loading…</Text> : jobId ? <JobLogPanel key={jobId} jobId={jobId} fileName={`${a.name}-${jobId}.log`} height="min(60vh, 520px)" /> : <Text size="sm" c="dimmed">No deploy yet: nothing to show.</Text>}
    </Stack>
  );
}
