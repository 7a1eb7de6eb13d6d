import { Alert, Anchor, Button, Card, Checkbox, Group, SegmentedControl, Select, SimpleGrid, Stack, Switch, Text, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useEffect, useMemo, useState } from 'react';
import {
  ConfirmDialog, DataTable, JobLink, LogBuffer, LogViewer, PageHeader, StatusBadge, formatBytes, formatRelative, formatTime, icons,
  notifyError, streamSse, useCan, useCurrentHost, useLiveInvalidate, usePageParams, useRunJob,
} from '@slipway/web';
import { CACHE_TYPES, PHP_VERSIONS, WP_TYPES, getJson, sendJson, sitePath, typeLabel, type JobRef, type Site } from './api';
import { SiteBadges } from './SiteBadges';

interface JobRow { id: string; title: string; state: string; createdAt: number; finishedAt: number | null; error: string | null }

/** One site: facts, SSL/cache/PHP controls, enable/disable, its logs, its job history, delete. */
export default function SitePage() {
  const domain = usePageParams().siteId ?? '';
  const host = useCurrentHost();
  const navigate = useNavigate();
  const qc = useQueryClient();
  const runJob = useRunJob();
  const canUpdate = useCan('sites.update');
  const canDelete = useCan('sites.delete');
  const canLogs = useCan('sites.logs');
  useLiveInvalidate(['sites.', 'job.updated'], [['site', domain], ['site-jobs', domain]]);

  const site = useQuery({ queryKey: ['site', domain, host], queryFn: () => getJson<{ site: Site }>(sitePath(domain, host)).then((r) => r.site) });
  const jobs = useQuery({
    queryKey: ['site-jobs', domain, host],
    queryFn: () => getJson<{ items: JobRow[] }>(`/api/v1/sites/${encodeURIComponent(domain)}/jobs?host=${encodeURIComponent(host)}`).then((r) => r.items),
    refetchInterval: 5000,
  });
  const busy = (jobs.data ?? []).some((j) => j.state === 'queued' || j.state === 'running');
  const s = site.data;

  const change = async (body: Record<string, unknown>) => {
    const job = await runJob(() => sendJson<JobRef>('PUT', `/api/v1/sites/${encodeURIComponent(domain)}`, { host, ...body }), { open: false });
    if (job) await qc.invalidateQueries({ queryKey: ['site-jobs', domain] });
  };

  const [deleting, setDeleting] = useState(false);
  const [keepDatabase, setKeepDatabase] = useState(false);
  const [keepFiles, setKeepFiles] = useState(false);

  if (site.error) return <><PageHeader title={domain} /><Alert color="red">{(site.error as Error).message}</Alert></>;
  if (!s) return <PageHeader title={domain} description="Loading…" />;
  const wp = WP_TYPES.includes(s.type);

  return (
    <>
      <PageHeader
        title={s.domain}
        description={`${typeLabel(s.type)} on ${s.host} · inventory ${formatRelative(s.refreshedAt)}`}
        actions={canDelete && <Button color="red" variant="light" leftSection={<icons.trash size={16} />} onClick={() => setDeleting(true)} disabled={busy}>Delete</Button>}
      />
      {busy && <Alert color="blue" mb="md">A change is running on this site; other changes wait until it ends.</Alert>}
      <SimpleGrid cols={{ base: 1, md: 2 }} mb="lg">
        <Card withBorder>
          <Title order={5} mb="xs">Site</Title>
          <Stack gap={4}>
            <SiteBadges site={s} />
            <Text size="sm">Webroot: {s.webroot ?? '—'}</Text>
            <Text size="sm">Database: {s.databaseName ?? '—'}</Text>
            <Text size="sm">Disk use: {s.diskBytes === null ? '—' : formatBytes(s.diskBytes)}</Text>
            <Text size="sm">Certificate: {s.ssl.enabled ? (s.ssl.expiresAt ? `expires ${formatTime(s.ssl.expiresAt)} (${s.ssl.daysLeft} days)` : 'Let\'s Encrypt') : 'none'}</Text>
            <Anchor href={`${s.ssl.enabled ? 'https' : 'http'}://${s.domain}`} target="_blank" rel="noreferrer" size="sm">Open {s.domain}</Anchor>
          </Stack>
        </Card>
        {canUpdate && (
          <Card withBorder>
            <Title order={5} mb="xs">Settings</Title>
            <Stack gap="sm">
              {s.type !== 'html' && s.type !== 'proxy' && (
                <Select label="PHP version" aria-label="PHP version" data={PHP_VERSIONS.map((v) => ({ value: v, label: `PHP ${v}` }))} value={s.php} disabled={busy}
                  onChange={(v) => v && v !== s.php && void change({ php: v })} />
              )}
              {wp && (
                <Select label="Page cache" aria-label="Page cache" data={CACHE_TYPES.map((c) => ({ value: c.value, label: c.label }))} value={s.cache ?? 'basic'} disabled={busy}
                  onChange={(v) => v && v !== (s.cache ?? 'basic') && void change({ cache: v })} />
              )}
              <Group>
                <Switch label="Let's Encrypt SSL" checked={s.ssl.enabled} disabled={busy} onChange={(e) => void change({ ssl: e.currentTarget.checked })} />
                <Switch label="HSTS" checked={!!s.hsts} disabled={busy || !s.ssl.enabled} onChange={(e) => void change({ hsts: e.currentTarget.checked })} />
                <Switch label="Enabled" checked={s.enabled} disabled={busy} onChange={(e) => void change({ enabled: e.currentTarget.checked })} />
              </Group>
              {s.ssl.enabled && <Button variant="default" size="xs" w="fit-content" disabled={busy} onClick={() => void change({ renewCertificate: true })}>Renew certificate</Button>}
            </Stack>
          </Card>
        )}
      </SimpleGrid>

      {canLogs && s.webroot && <SiteLogs domain={s.domain} host={s.host} />}

      <Title order={4} mt="lg" mb="xs">Job history</Title>
      <DataTable
        rows={jobs.data}
        loading={jobs.isLoading}
        error={jobs.error}
        rowKey={(j) => j.id}
        empty="No changes through the panel yet."
        columns={[
          { key: 'title', header: 'Job', render: (j) => <JobLink jobId={j.id}>{j.title}</JobLink> },
          { key: 'state', header: 'State', render: (j) => <StatusBadge status={j.state} /> },
          { key: 'at', header: 'Started', render: (j) => formatRelative(j.createdAt) },
          { key: 'error', header: '', hideOnMobile: true, render: (j) => (j.error ? <Text size="xs" c="red">{j.error}</Text> : null) },
        ]}
      />

      <ConfirmDialog
        opened={deleting}
        onClose={() => setDeleting(false)}
        title={`Delete ${s.domain}?`}
        typeToConfirm={s.domain}
        confirmLabel="Delete site"
        message={
          <Stack gap="xs">
            <Text size="sm">WordOps removes the site's nginx configuration{keepFiles ? '' : ', its files'}{keepDatabase || !s.databaseName ? '' : ' and its database'}. This cannot be undone.</Text>
            <Checkbox label="Keep the database" checked={keepDatabase} onChange={(e) => setKeepDatabase(e.currentTarget.checked)} disabled={!s.databaseName || keepFiles} />
            <Checkbox label="Keep the files (webroot)" checked={keepFiles} onChange={(e) => setKeepFiles(e.currentTarget.checked)} disabled={keepDatabase} />
          </Stack>
        }
        onConfirm={async () => {
          try {
            const job = await runJob(() => sendJson<JobRef>('DELETE', `/api/v1/sites/${encodeURIComponent(s.domain)}`, { host: s.host, confirm: s.domain, keepDatabase, keepFiles }), { open: false });
            if (job) void navigate({ to: '/jobs/$jobId', params: { jobId: job.id } });
          } catch (e) {
            notifyError(e);
          }
        }}
      />
    </>
  );
}

/** The site's access or error log: the last lines, then followed live (SSE). */
function SiteLogs({ domain, host }: { domain: string; host: string }) {
  const [kind, setKind] = useState<'access' | 'error'>('access');
  const buffer = useMemo(() => new LogBuffer(20_000), [domain, host, kind]);
  const [status, setStatus] = useState('connecting');
  useEffect(() => {
    const abort = new AbortController();
    let seq = 0;
    void streamSse(`/api/v1/sites/${encodeURIComponent(domain)}/logs?host=${encodeURIComponent(host)}&kind=${kind}&lines=200&follow=true`, {
      signal: abort.signal,
      onStatus: (st) => setStatus(st === 'open' ? 'live' : st),
      onMessage: (m) => {
        if (m.event === 'line') buffer.push({ seq: ++seq, line: (JSON.parse(m.data) as { line: string }).line });
      },
    });
    return () => abort.abort();
  }, [domain, host, kind, buffer]);
  return (
    <>
      <Group justify="space-between" mt="lg" mb="xs">
        <Title order={4}>Logs</Title>
        <SegmentedControl size="xs" value={kind} onChange={(v) => setKind(v as 'access' | 'error')} data={[{ value: 'access', label: 'Access' }, { value: 'error', label: 'Error' }]} />
      </Group>
      <LogViewer buffer={buffer} status={status} fileName={`${domain}-${kind}.log`} height={300} />
    </>
  );
}
