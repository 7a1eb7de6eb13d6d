import { Anchor, Button, Group, Text, TextInput, Tooltip } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link, useNavigate } from '@tanstack/react-router';
import { useEffect, useMemo, useState } from 'react';
import { DataTable, EmptyState, PageHeader, api, call, formatRelative, formatTime, icons, useCan, useLiveInvalidate } from '@slipway/web';
import { perms, sizeText, type Image, type Plan, type Vps } from './api';
import { VpsNav, VpsStateBadge } from './components';
import { useIsStaff, useUsers } from './hooks';

const PAGE = 25;
const FETCH_LIMIT = 5000;

/** Every VPS the user may see, with its live state (vps.* events from libvirt's event stream). */
export default function VpsListPage() {
  const navigate = useNavigate();
  const canCreate = useCan(perms.create);
  const staff = useIsStaff();
  const users = useUsers();
  const [search, setSearch] = useState('');
  const [debounced, setDebounced] = useState('');
  const [page, setPage] = useState(1);
  useEffect(() => {
    const t = setTimeout(() => setDebounced(search.trim().toLowerCase()), 200);
    return () => clearTimeout(t);
  }, [search]);
  useEffect(() => setPage(1), [debounced]);
  useLiveInvalidate(['vps.', 'job.updated'], [['vps']]);

  const list = useQuery({ queryKey: ['vps', 'list'], queryFn: () => call(api.GET('/api/v1/vps', { params: { query: { limit: FETCH_LIMIT } } })) });
  // For an empty list: say what is missing before the first VPS can exist.
  const empty = list.data?.total === 0;
  const plans = useQuery({ enabled: empty, queryKey: ['vps', 'plans'], queryFn: () => call(api.GET('/api/v1/vps/plans')) });
  const images = useQuery({ enabled: empty, queryKey: ['vps', 'images'], queryFn: () => call(api.GET('/api/v1/vps/images')) });

  const filtered = useMemo(() => {
    const items = list.data?.items ?? [];
    if (!debounced) return items;
    return items.filter((v) => [v.hostname, v.dnsName ?? '', v.address ?? '', v.state, v.domainName, staff ? users.name(v.ownerId) : ''].some((f) => f.toLowerCase().includes(debounced)));
  }, [list.data, debounced, staff, users]);
  const rows = list.data ? filtered.slice((page - 1) * PAGE, page * PAGE) : undefined;

  const readyImages = (images.data?.items ?? []).filter((i) => i.status === 'ready');
  const emptyState = debounced ? (
    <EmptyState title={`No server matches “${search.trim()}”`} description="The search looks at hostnames, DNS names, addresses and states." icon={<icons.search size={26} />} />
  ) : (
    <EmptyState
      title={staff ? 'No virtual servers yet' : 'You have no virtual servers yet'}
      icon={<icons.cpu size={26} />}
      description={
        plans.data && images.data && (!plans.data.items.length || !readyImages.length)
          ? `${[!plans.data.items.length && 'no plan', !readyImages.length && 'no ready image'].filter(Boolean).join(' and ')} exists yet: ${staff ? 'add them under Plans and Images first.' : 'ask your provider to add them.'}`
          : canCreate ? 'Create one from a plan and an image; it boots with your SSH keys and cloud-init user-data.' : 'Your role can see servers but not create them.'
      }
      action={canCreate && plans.data?.items.length && readyImages.length ? <Button leftSection={<icons.plus size={16} />} onClick={() => void navigate({ to: '/vps/new' })}>New server</Button> : undefined}
    />
  );

  return (
    <>
      <PageHeader
        title="Virtual servers"
        description="libvirt/QEMU machines: live state, consoles, snapshots and expiry"
        actions={canCreate && <Button leftSection={<icons.plus size={16} />} onClick={() => void navigate({ to: '/vps/new' })}>New server</Button>}
      />
      <VpsNav active="/vps" />
      <Group mb="sm">
        <TextInput aria-label="Search" placeholder="Search hostname, address, state" leftSection={<icons.search size={16} />} value={search} onChange={(e) => setSearch(e.currentTarget.value)} w={300} />
      </Group>
      <DataTable
        rows={rows}
        loading={list.isLoading}
        error={list.error}
        rowKey={(v) => v.id}
        empty={emptyState}
        onRowClick={(v) => void navigate({ to: '/vps/$vpsId', params: { vpsId: v.id } })}
        columns={[
          { key: 'hostname', header: 'Hostname', render: (v) => (
            <>
              <Anchor component={Link} to={`/vps/${v.id}`} fw={600} onClick={(e) => e.stopPropagation()}>{v.hostname}</Anchor>
              {v.dnsName && <Text size="xs" c="dimmed">{v.dnsName}</Text>}
            </>
          ) },
          { key: 'state', header: 'State', render: (v) => <VpsStateBadge state={v.state} /> },
          { key: 'address', header: 'Address', render: (v) => <Text ff="monospace" size="sm">{v.address ?? '—'}</Text> },
          { key: 'size', header: 'Size', hideOnMobile: true, render: (v) => <Text size="sm">{sizeText(v)}</Text> },
          { key: 'network', header: 'Network', hideOnMobile: true, render: (v) => v.network },
          ...(staff ? [{ key: 'owner', header: 'Owner', hideOnMobile: true, render: (v: Vps) => users.name(v.ownerId) }] : []),
          { key: 'expiry', header: 'Expires', hideOnMobile: true, render: (v) => (v.expiry ? <Tooltip label={formatTime(v.expiry.expiresAt)}><Text size="sm" c={v.expiry.phase === 'active' ? undefined : 'orange'}>{formatRelative(v.expiry.expiresAt)}</Text></Tooltip> : '—') },
        ]}
        pagination={{ page, totalPages: Math.max(1, Math.ceil(filtered.length / PAGE)), onChange: setPage }}
      />
      {list.data && list.data.total > 0 && (
        <Text size="xs" c="dimmed" mt="xs">
          {debounced ? `${filtered.length} of ${list.data.total}` : list.data.total} server{list.data.total === 1 ? '' : 's'}
          {list.data.total > list.data.items.length ? ` (the first ${list.data.items.length} are searched)` : ''}
        </Text>
      )}
    </>
  );
}
