import { Anchor, Badge, Button, Checkbox, Group, Select, Text, TextInput, Tooltip } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useEffect, useState } from 'react';
import { DataTable, EmptyState, PageHeader, api, call, formatRelative, icons, useCan, useLiveInvalidate, type ApiQuery } from '@slipway/web';
import { APP_STATUSES, sourceLabel, type AppList } from './api';
import { CertAlerts, certAlertsKey, useCertAlerts } from './CertAlerts';
import { AppStatusBadge, LastDeploy } from './components';

const PAGE = 50;
const SORTS = [
  { value: 'name:asc', label: 'Name' },
  { value: 'status:asc', label: 'Status' },
  { value: 'lastDeployAt:desc', label: 'Last deploy (newest)' },
  { value: 'updatedAt:desc', label: 'Recently changed' },
];

/** Every Dokku app the user may see, from the panel's inventory (no dokku call per request). */
export default function AppsPage() {
  const navigate = useNavigate();
  const canCreate = useCan('apps.deploy');
  // Staff (who may give ownerless apps an owner) can list only those; a user never sees them.
  const canAssign = useCan('apps.assign');
  const [ownerless, setOwnerless] = useState(false);
  const alerts = useCertAlerts();
  const [search, setSearch] = useState('');
  const [debounced, setDebounced] = useState('');
  const [status, setStatus] = useState<string | null>(null);
  const [sort, setSort] = useState<string>('name:asc');
  const [page, setPage] = useState(1);

  useEffect(() => {
    const t = setTimeout(() => setDebounced(search.trim().toLowerCase()), 250);
    return () => clearTimeout(t);
  }, [search]);
  useEffect(() => setPage(1), [debounced, status, sort, ownerless]);
  useLiveInvalidate(['apps.', 'job.updated'], [['apps', 'list'], [...certAlertsKey]]);

  // The server only searches app-name characters; anything else cannot match and is not sent.
  const searchable = /^[a-z0-9.-]*$/.test(debounced);
  type Q = ApiQuery<'/api/v1/apps', 'get'>;
  const [sortKey, order] = sort.split(':') as [Q['sort'], Q['order']];
  const query: Q = {
    limit: PAGE, offset: (page - 1) * PAGE, sort: sortKey, order,
    search: debounced && searchable ? debounced : undefined, status: (status || undefined) as Q['status'],
    ...(ownerless ? { ownerless: 'true' as const } : {}),
  };
  const apps = useQuery({
    queryKey: ['apps', 'list', query],
    queryFn: () => call(api.GET('/api/v1/apps', { params: { query } })),
    placeholderData: (p) => p,
    enabled: searchable,
    // The list is the inventory snapshot (cheap, no dokku call): re-read on every visit, so an app
    // destroyed or created while this page was not open never lingers.
    staleTime: 0,
    refetchInterval: 30_000,
  });
  const rows = searchable ? apps.data?.items : [];
  const filtered = !!(debounced || status || ownerless);
  const multiHost = new Set((apps.data?.items ?? []).map((a) => a.host)).size > 1 || (apps.data?.items ?? []).some((a) => a.host !== 'local');
  const open = (name: string, host: string) => void navigate({ to: '/apps/$appName', params: { appName: name }, search: host === 'local' ? {} : { host } } as never);

  return (
    <>
      <PageHeader
        title="Apps"
        description={`Dokku apps: deploys you can watch, queue, cancel and roll back${apps.data?.refreshedAt ? ` · inventory refreshed ${formatRelative(apps.data.refreshedAt)}` : ''}`}
        actions={canCreate && <Button leftSection={<icons.plus size={16} />} onClick={() => void navigate({ to: '/apps/new' })}>New app</Button>}
      />
      <Group gap="xs" mb="sm" wrap="wrap">
        <TextInput aria-label="Search" placeholder="Search app names" leftSection={<icons.search size={16} />} value={search} onChange={(e) => setSearch(e.currentTarget.value)} w={240}
          error={searchable ? undefined : 'App names have only a-z, 0-9, dots and hyphens'} />
        <Select aria-label="Status" placeholder="Any status" clearable data={APP_STATUSES.map((s) => ({ value: s.value, label: s.label }))} value={status} onChange={setStatus} w={170} />
        <Select aria-label="Sort" data={SORTS} value={sort} onChange={(v) => setSort(v ?? 'name:asc')} w={200} allowDeselect={false} />
        {canAssign && <Checkbox label="Without owner only" checked={ownerless} onChange={(e) => setOwnerless(e.currentTarget.checked)} />}
      </Group>
      <CertAlerts items={alerts.data} />
      <DataTable
        rows={rows}
        loading={apps.isLoading}
        error={apps.error}
        rowKey={(a) => a.id}
        empty={filtered ? (
          <EmptyState title="No app matches" description={ownerless ? 'Every app you can see has an owner.' : 'Change the search or the status filter.'} icon={<icons.search size={26} />} />
        ) : (
          <EmptyState
            title="No apps yet"
            description={apps.data?.refreshedAt
              ? 'Dokku has no app you can see. Create one, then deploy it from an image or a git repository.'
              : 'The inventory has not been read from Dokku yet; apps appear here once it has. You can create one meanwhile.'}
            action={canCreate ? <Button onClick={() => void navigate({ to: '/apps/new' })}>New app</Button> : undefined}
          />
        )}
        onRowClick={(a) => open(a.name, a.host)}
        columns={[
          {
            key: 'name', header: 'App', render: (a) => (
              <Group gap={6} wrap="nowrap">
                <Text fw={600} style={{ whiteSpace: 'nowrap' }}>{a.name}</Text>
                {a.ownerId === null && a.state === 'ready' && (
                  <Tooltip label="Found on the Dokku host, not created in Slipway: no user owns it yet">
                    <Badge size="xs" color="yellow" variant="light" data-testid="ownerless-badge">no owner</Badge>
                  </Tooltip>
                )}
              </Group>
            ),
          },
          ...(multiHost ? [{ key: 'host', header: 'Host', render: (a: AppList['items'][number]) => a.host }] : []),
          { key: 'status', header: 'Status', render: (a) => <AppStatusBadge status={a.status} pending={a.state === 'pending'} /> },
          { key: 'source', header: 'Deployed from', hideOnMobile: true, render: (a) => <Text size="sm" ff={a.deploySource ? 'monospace' : undefined} truncate maw={280}>{sourceLabel(a)}</Text> },
          { key: 'url', header: 'URL', hideOnMobile: true, render: (a) => (a.url ? <Anchor href={a.url} target="_blank" rel="noreferrer" size="sm" onClick={(e) => e.stopPropagation()} truncate="end" maw={260} display="block" title={a.url}>{a.url.replace(/^https?:\/\//, '')}</Anchor> : '—') },
          { key: 'scale', header: 'Processes', hideOnMobile: true, render: (a) => <Text size="sm" style={{ whiteSpace: 'nowrap' }}>{Object.keys(a.scale).length ? Object.entries(a.scale).map(([p, n]) => `${p}×${n}`).join(' ') : '—'}</Text> },
          { key: 'deploy', header: 'Last deploy', render: (a) => <LastDeploy app={a} /> },
        ]}
        pagination={apps.data ? { page, totalPages: Math.max(1, Math.ceil(apps.data.total / PAGE)), onChange: setPage } : undefined}
      />
      {apps.data && <Text size="xs" c="dimmed" mt="xs">{apps.data.total} app{apps.data.total === 1 ? '' : 's'}</Text>}
    </>
  );
}
