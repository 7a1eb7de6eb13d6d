import { Alert, Button, Code, Drawer, Group, Select, SimpleGrid, Stack, Text, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { api, authedFetch, call, type ApiData } from '../api/client';
import { DataTable } from '../components/DataTable';
import { AuditTarget, targetText } from '../components/AuditTarget';
import { EmptyState } from '../components/EmptyState';
import { useUrlFilters } from '../components/useUrlFilters';
import { icons } from '../components/icons';
import { PageHeader } from '../components/PageHeader';
import { StatusBadge } from '../components/StatusBadge';
import { useLiveInvalidate } from '../components/useLiveEvents';
import { formatTime } from '../lib/format';
import { useCan } from '../lib/hooks';
import { notifyError } from '../lib/notify';
import { corePermissions } from '../shell/nav';
import { NoAccess } from '../shell/NotFound';

type Entry = ApiData<'/api/v1/audit', 'get'>['items'][number];

interface Filters { actor: string; action: string; targetType: string; targetId: string; outcome: string; from: string; to: string }
const EMPTY: Filters = { actor: '', action: '', targetType: '', targetId: '', outcome: '', from: '', to: '' };
const FILTER_KEYS = Object.keys(EMPTY) as (keyof Filters)[];

/** The query string the API takes, from the filter form (datetime-local values become epoch ms). */
export function auditQuery(f: Filters): Record<string, string | number> {
  const q: Record<string, string | number> = {};
  for (const k of ['actor', 'action', 'targetType', 'targetId', 'outcome'] as const) if (f[k].trim()) q[k] = f[k].trim();
  if (f.from) q.from = new Date(f.from).getTime();
  if (f.to) q.to = new Date(f.to).getTime();
  return q;
}

function VerifyChain() {
  const v = useQuery({ queryKey: ['audit', 'verify'], queryFn: () => call(api.GET('/api/v1/audit/verify')), staleTime: 60_000 });
  if (v.isLoading) return <Alert color="gray" title="Checking the audit chain…" />;
  if (v.error) return <Alert color="red" title="Could not verify the audit chain">{(v.error as Error).message}</Alert>;
  const r = v.data!;
  return r.ok ? (
    <Alert color="green" title="Audit chain intact" data-testid="audit-verify">All {r.checked} entries chain correctly: nothing was changed or removed.</Alert>
  ) : (
    <Alert color="red" title="Audit chain broken" data-testid="audit-verify">Checked {r.checked} entries; broken at entry {String(r.brokenAt)}: {r.reason}</Alert>
  );
}

/** Audit log: filters, pages, details, CSV export and the hash-chain check. */
export default function AuditPage() {
  const canRead = useCan(corePermissions.auditRead);
  // Filters live in the address (reload and shared links keep them); typing is debounced into it.
  const url = useUrlFilters(FILTER_KEYS);
  const [filters, setFilters] = useState<Filters>(() => ({ ...EMPTY, ...url.values }));
  const [debounced] = useDebouncedValue(filters, 300);
  useEffect(() => { url.write(debounced); }, [debounced]);
  const [cursors, setCursors] = useState<(number | undefined)[]>([undefined]);
  const [open, setOpen] = useState<Entry | null>(null);
  const before = cursors.at(-1);
  useLiveInvalidate(['audit'], [['audit', 'list']]);
  const query = auditQuery(debounced);
  const q = useQuery({
    queryKey: ['audit', 'list', query, before],
    enabled: canRead,
    placeholderData: (prev) => prev,
    queryFn: () => call(api.GET('/api/v1/audit', { params: { query: { ...query, ...(before ? { before } : {}), limit: 50 } } })),
  });
  if (!canRead) return <NoAccess what="the audit log" />;

  const clearFilters = () => { setFilters(EMPTY); url.clear(); setCursors([undefined]); };
  const set = (k: keyof Filters) => (v: string) => {
    setFilters((f) => ({ ...f, [k]: v }));
    setCursors([undefined]);
  };
  const exportCsv = async () => {
    try {
      const params = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
      const res = await authedFetch(`/api/v1/audit/export.csv?${params}`);
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = `slipway-audit-${new Date().toISOString().slice(0, 10)}.csv`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (e) {
      notifyError(e, 'Export failed');
    }
  };

  return (
    <Stack>
      <PageHeader title="Audit log" description="Every change, who made it, from where, and whether it worked. Entries are hash-chained." actions={<Button variant="default" leftSection={<icons.download size={14} />} onClick={() => void exportCsv()}>Export CSV</Button>} />
      <VerifyChain />
      <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }} spacing="xs">
        <TextInput size="xs" label="Actor" placeholder="username" value={filters.actor} onChange={(e) => set('actor')(e.currentTarget.value)} />
        <TextInput size="xs" label="Action" placeholder="e.g. auth.* or users.create" value={filters.action} onChange={(e) => set('action')(e.currentTarget.value)} />
        <TextInput size="xs" label="Target type" placeholder="e.g. user" value={filters.targetType} onChange={(e) => set('targetType')(e.currentTarget.value)} />
        <TextInput size="xs" label="Target id" value={filters.targetId} onChange={(e) => set('targetId')(e.currentTarget.value)} />
        <Select size="xs" label="Outcome" placeholder="any" clearable data={['success', 'failure', 'denied', 'started']} value={filters.outcome || null} onChange={(v) => set('outcome')(v ?? '')} />
        <TextInput size="xs" type="datetime-local" label="From" value={filters.from} onChange={(e) => set('from')(e.currentTarget.value)} />
        <TextInput size="xs" type="datetime-local" label="To" value={filters.to} onChange={(e) => set('to')(e.currentTarget.value)} />
        <Group align="flex-end"><Button size="xs" variant="subtle" onClick={clearFilters}>Clear filters</Button></Group>
      </SimpleGrid>
      <DataTable<Entry>
        rows={q.data?.items}
        loading={q.isFetching}
        error={q.error}
        rowKey={(e) => e.id}
        onRowClick={setOpen}
        empty={Object.values(filters).some(Boolean)
          ? <EmptyState title="No matches" description="No audit entry matches these filters." action={<Button size="xs" variant="default" onClick={clearFilters}>Clear filters</Button>} />
          : <EmptyState title="No entries" description="Nothing has been recorded yet." />}
        cursor={{ hasPrevious: cursors.length > 1, hasNext: !!q.data?.nextBefore, onPrevious: () => setCursors((c) => c.slice(0, -1)), onNext: () => setCursors((c) => [...c, q.data?.nextBefore ?? undefined]) }}
        columns={[
          { key: 'at', header: 'Time', render: (e) => <Text size="sm" style={{ whiteSpace: 'nowrap' }}>{formatTime(e.at)}</Text> },
          { key: 'actor', header: 'Actor', render: (e) => <Text size="sm">{e.actor.name ?? e.actor.kind}</Text> },
          { key: 'action', header: 'Action', render: (e) => <Code>{e.action}</Code> },
          { key: 'target', header: 'Target', hideOnMobile: true, render: (e) => <Text size="sm" truncate maw={220} component="div"><AuditTarget target={e.target} /></Text> },
          { key: 'outcome', header: 'Outcome', render: (e) => <StatusBadge status={e.outcome} /> },
          { key: 'ip', header: 'IP', hideOnMobile: true, render: (e) => <Text size="sm" c="dimmed">{e.ip ?? '—'}</Text> },
        ]}
      />
      <Drawer opened={!!open} onClose={() => setOpen(null)} title="Audit entry" position="right" size="md">
        {open ? (
          <Stack gap="xs">
            {[
              ['Time', formatTime(open.at)],
              ['Actor', `${open.actor.name ?? '—'} (${open.actor.kind})`],
              ['Action', open.action],
              ['Target', open.target ? `${targetText(open.target)} (${open.target.type} ${open.target.id})` : '—'],
              ['Outcome', open.outcome],
              ['IP', open.ip ?? '—'],
              ['User agent', open.userAgent ?? '—'],
              ['Sequence', String(open.seq)],
            ].map(([k, v]) => (
              <Group key={k} gap="xs" wrap="nowrap" align="flex-start"><Text size="sm" c="dimmed" w={90}>{k}</Text><Text size="sm" style={{ wordBreak: 'break-all' }}>{v}</Text></Group>
            ))}
            <Text size="sm" c="dimmed">Details</Text>
            <Code block>{JSON.stringify(open.details ?? {}, null, 2)}</Code>
            <Text size="sm" c="dimmed">Hash</Text>
            <Code block style={{ wordBreak: 'break-all', whiteSpace: 'pre-wrap' }}>{open.hash}</Code>
          </Stack>
        ) : null}
      </Drawer>
    </Stack>
  );
}
