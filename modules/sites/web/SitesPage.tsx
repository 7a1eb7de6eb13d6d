import { Alert, Button, Group, Select, Stack, Text, TextInput } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useEffect, useState } from 'react';
import { DataTable, EmptyState, PageHeader, api, call, formatBytes, formatRelative, icons, notifyError, notifySuccess, useCan, useCurrentHost, useLiveInvalidate, useUrlFilters, type ApiQuery } from '@slipway/web';
import { CACHE_TYPES, PHP_VERSIONS, SITE_TYPES, typeLabel } from './api';
import { SiteBadges } from './SiteBadges';

const PAGE = 50;

/** Every site of the chosen host from the inventory: filters, search, badges, certificate alerts. */
export default function SitesPage() {
  const host = useCurrentHost();
  const navigate = useNavigate();
  const canCreate = useCan('sites.create');
  const canRefresh = useCan('sites.refresh');
  // Filters live in the address: reload and shared links keep them (issue 18, item 10).
  const url = useUrlFilters(['search', 'type', 'ssl', 'php', 'cache', 'enabled'] as const);
  const [search, setSearch] = useState(url.values.search);
  const debounced = url.values.search;
  const setDebounced = (v: string) => url.set('search', v);
  const orNull = (v: string) => v || null;
  const [type, ssl, php, cache, enabled] = [orNull(url.values.type), orNull(url.values.ssl), orNull(url.values.php), orNull(url.values.cache), orNull(url.values.enabled)];
  const setType = (v: string | null) => url.set('type', v);
  const setSsl = (v: string | null) => url.set('ssl', v);
  const setPhp = (v: string | null) => url.set('php', v);
  const setCache = (v: string | null) => url.set('cache', v);
  const setEnabled = (v: string | null) => url.set('enabled', v);
  const clearFilters = () => { setSearch(''); url.clear(); };
  const [page, setPage] = useState(1);
  const [refreshing, setRefreshing] = useState(false);

  useEffect(() => {
    const t = setTimeout(() => { if (search.trim() !== debounced) setDebounced(search.trim()); }, 250);
    return () => clearTimeout(t);
  }, [search]);
  useEffect(() => setPage(1), [debounced, type, ssl, php, cache, enabled, host]);
  useLiveInvalidate(['sites.', 'job.updated'], [['sites'], ['sites-alerts']]);

  // The filters' values are the Select options below (the server's enums).
  type Q = ApiQuery<'/api/v1/sites', 'get'>;
  const query: Q = {
    host, limit: PAGE, offset: (page - 1) * PAGE, search: debounced || undefined,
    type: (type ?? undefined) as Q['type'], ssl: (ssl ?? undefined) as Q['ssl'], php: (php ?? undefined) as Q['php'],
    cache: (cache ?? undefined) as Q['cache'], enabled: (enabled ?? undefined) as Q['enabled'],
  };
  const sites = useQuery({ queryKey: ['sites', query], queryFn: () => call(api.GET('/api/v1/sites', { params: { query } })), placeholderData: (p) => p });
  const alerts = useQuery({ queryKey: ['sites-alerts'], queryFn: () => call(api.GET('/api/v1/sites/alerts')) });
  const hostAlerts = (alerts.data?.items ?? []).filter((a) => a.host === host);

  const refresh = async () => {
    setRefreshing(true);
    try {
      const r = await call(api.POST('/api/v1/sites/refresh'));
      const failures = r.failures ?? [];
      if (failures.length) notifyError(new Error(failures.map((f) => f.reason).join('; ')), `Refreshed ${r.reports.length} of ${r.reports.length + failures.length} hosts`);
      else notifySuccess(`Inventory refreshed: ${r.reports.reduce((n, x) => n + x.sites, 0)} sites on ${r.reports.length} host${r.reports.length === 1 ? '' : 's'}`);
      await sites.refetch();
      await alerts.refetch();
    } catch (e) {
      notifyError(e);
    } finally {
      setRefreshing(false);
    }
  };

  return (
    <>
      <PageHeader
        title="Sites"
        description={`WordPress, PHP, HTML and proxy sites managed by WordOps${sites.data?.refreshedAt ? ` · inventory refreshed ${formatRelative(sites.data.refreshedAt)}` : ''}`}
        actions={
          <Group gap="xs">
            {canRefresh && <Button variant="default" leftSection={<icons.refresh size={16} />} loading={refreshing} onClick={refresh}>Refresh</Button>}
            {canCreate && <Button leftSection={<icons.plus size={16} />} onClick={() => void navigate({ to: '/sites/new' })}>New site</Button>}
          </Group>
        }
      />
      {hostAlerts.length > 0 && (
        <Alert color="orange" title="Certificates need attention" mb="md" data-testid="cert-alerts">
          <Stack gap={2}>
            {hostAlerts.map((a) => <Text key={a.id} size="sm">{a.message}</Text>)}
          </Stack>
        </Alert>
      )}
      <Group gap="xs" mb="sm" wrap="wrap">
        <TextInput aria-label="Search" placeholder="Search domains" leftSection={<icons.search size={16} />} value={search} onChange={(e) => setSearch(e.currentTarget.value)} w={240} />
        <Select aria-label="Type" placeholder="Any type" clearable data={SITE_TYPES.map((t) => ({ value: t.value, label: t.label }))} value={type} onChange={setType} w={220} />
        <Select aria-label="SSL" placeholder="SSL any" clearable data={[{ value: 'true', label: 'SSL on' }, { value: 'false', label: 'SSL off' }]} value={ssl} onChange={setSsl} w={120} />
        <Select aria-label="PHP" placeholder="Any PHP" clearable data={PHP_VERSIONS.map((v) => ({ value: v, label: `PHP ${v}` }))} value={php} onChange={setPhp} w={120} />
        <Select aria-label="Cache" placeholder="Any cache" clearable data={CACHE_TYPES.map((c) => ({ value: c.value, label: c.label }))} value={cache} onChange={setCache} w={190} />
        <Select aria-label="Enabled" placeholder="Enabled any" clearable data={[{ value: 'true', label: 'Enabled' }, { value: 'false', label: 'Disabled' }]} value={enabled} onChange={setEnabled} w={150} />
      </Group>
      <DataTable
        rows={sites.data?.items}
        loading={sites.isLoading}
        error={sites.error}
        rowKey={(s) => s.id}
        empty={url.active
          ? <EmptyState title="No matches" description="No site matches these filters." action={<Button size="xs" variant="default" onClick={clearFilters}>Clear filters</Button>} />
          : 'No sites yet on this host.'}
        onRowClick={(s) => void navigate({ to: '/sites/$siteId', params: { siteId: s.domain } })}
        columns={[
          { key: 'domain', header: 'Domain', render: (s) => <Text fw={600}>{s.domain}</Text> },
          { key: 'type', header: 'Type', render: (s) => typeLabel(s.type) },
          { key: 'badges', header: 'SSL · PHP · cache', render: (s) => <SiteBadges site={s} /> },
          { key: 'disk', header: 'Disk', hideOnMobile: true, render: (s) => (s.diskBytes === null ? '—' : formatBytes(s.diskBytes)) },
        ]}
        pagination={sites.data ? { page, totalPages: Math.max(1, Math.ceil(sites.data.total / PAGE)), onChange: setPage } : undefined}
      />
      {sites.data && <Text size="xs" c="dimmed" mt="xs">{sites.data.total} site{sites.data.total === 1 ? '' : 's'}</Text>}
    </>
  );
}
