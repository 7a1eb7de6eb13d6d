import { Alert, Anchor, Button, Card, Checkbox, Group, SegmentedControl, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useEffect, useMemo, useState } from 'react';
import {
  ConfirmDialog, DataTable, JobLink, LogBuffer, LogViewer, PageError, PageHeader, StatusBadge, api, call, formatBytes, formatRelative, formatTime, icons,
  notifyError, streamSse, useCan, useCurrentHost, useLiveInvalidate, usePageParams, useRunJob,
} from '@slipway/web';
import { WP_TYPES, typeLabel } from './api';
import { SiteBadges } from './SiteBadges';
import { SiteSettings } from './SiteSettings';
import { WpAdminPassword } from './WpAdminPassword';

/** One site: facts, SSL/cache/PHP controls, enable/disable, its logs, its job history, delete. */
export default function SitePage() {
  const domain = usePageParams().siteId ?? '';
  const host = useCurrentHost();
  const navigate = useNavigate();
  const runJob = useRunJob();
  const canUpdate = useCan('sites.update');
  const canDelete = useCan('sites.delete');
  const canLogs = useCan('sites.logs');
  useLiveInvalidate(['sites.', 'job.updated'], [['site', domain], ['site-jobs', domain]]);

  const site = useQuery({ queryKey: ['site', domain, host], queryFn: () => call(api.GET('/api/v1/sites/{domain}', { params: { path: { domain }, query: { host } } })).then((r) => r.site) });
  const jobs = useQuery({
    queryKey: ['site-jobs', domain, host],
    queryFn: () => call(api.GET('/api/v1/sites/{domain}/jobs', { params: { path: { domain }, query: { host } } })).then((r) => r.items),
    refetchInterval: 5000,
  });
  const busy = (jobs.data ?? []).some((j) => j.state === 'queued' || j.state === 'running');
  const s = site.data;

  const [deleting, setDeleting] = useState(false);
  const [keepDatabase, setKeepDatabase] = useState(false);
  const [keepFiles, setKeepFiles] = useState(false);

  if (site.error) return <PageError error={site.error} what="site" backTo="/sites" />;
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
      {wp && <WpAdminPassword domain={s.domain} host={s.host} canReset={canUpdate} busy={busy} />}
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
        {canUpdate && <SiteSettings site={s} busy={busy} resource={`site:${s.host}:${s.domain}`} />}
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
            const job = await runJob(() => call(api.DELETE('/api/v1/sites/{domain}', { params: { path: { domain: s.domain } }, body: { host: s.host, confirm: s.domain, keepDatabase, keepFiles } })), { open: false });
            if (job) void navigate({ to: '/jobs/$jobId', params: { jobId: job.id } });
          } catch (e) {
            notifyError(e);
          }
        }}
      />
    </>
  );
}

/**
 * The site's access or error log: the last lines, then followed live (SSE). A file that does not
 * exist yet is said (the server's `state: missing`) instead of "Waiting for output…"; a notice
 * (rotation, the file appearing) is shown under the viewer.
 */
function SiteLogs({ domain, host }: { domain: string; host: string }) {
  const [kind, setKind] = useState<'access' | 'error'>('access');
  const buffer = useMemo(() => new LogBuffer(20_000), [domain, host, kind]);
  const [status, setStatus] = useState('connecting');
  const [missing, setMissing] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(() => {
    const abort = new AbortController();
    let seq = 0;
    setMissing(null);
    setNotice(null);
    void streamSse(`/api/v1/sites/${encodeURIComponent(domain)}/logs?host=${encodeURIComponent(host)}&kind=${kind}&lines=200&follow=true`, {
      signal: abort.signal,
      onStatus: (st) => setStatus(st === 'open' ? 'live' : st),
      onMessage: (m) => {
        if (m.event === 'line') {
          buffer.push({ seq: ++seq, line: (JSON.parse(m.data) as { line: string }).line });
          setMissing(null);
        } else if (m.event === 'state') {
          const st = JSON.parse(m.data) as { state?: string; message?: string };
          if (st.state === 'missing') {
            setMissing(st.message ?? 'This log file does not exist yet.');
            setStatus('missing');
          }
        } else if (m.event === 'notice') {
          // Something changed about the file (it appeared, was rotated or truncated): no longer "missing".
          setNotice(((JSON.parse(m.data) as { message?: string }).message ?? '').replace(/\/\S+/g, 'the log file').replace(/^the/, 'The') || null);
          setMissing(null);
          setStatus('live');
        }
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
      <LogViewer buffer={buffer} status={status} fileName={`${domain}-${kind}.log`} height={300} emptyText={missing ?? undefined} />
      {notice ? <Text size="xs" c="dimmed" mt={4} role="status">{notice}</Text> : null}
    </>
  );
}
