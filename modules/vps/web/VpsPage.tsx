import { Alert, Anchor, Button, Group, Menu, SegmentedControl, Select, SimpleGrid, Stack, Tabs, Text, TextInput, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { Suspense, lazy, useState } from 'react';
import {
  ConfirmDialog, DataTable, EmptyState, PageError, PageHeader, api, call, formatRelative, formatTime, icons, notifyError, notifySuccess,
  useCan, useLiveInvalidate, usePageParams, useRunJob,
} from '@slipway/web';
import { actionAllowed, memoryText, perms, type Image, type Plan, type Expiry, type Snapshot, type Vps, type VpsAction } from './api';
import { Fact, VpsStateBadge } from './components';
import { useIsStaff, useUsers } from './hooks';

const SerialConsole = lazy(() => import('./SerialConsole'));
const VncConsole = lazy(() => import('./VncConsole'));
const VpsUsage = lazy(() => import('./VpsUsage'));
const VpsManage = lazy(() => import('./VpsManage'));

const ACTION_LABEL: Record<VpsAction, string> = {
  start: 'Start', shutdown: 'Shut down', poweroff: 'Power off', reboot: 'Reboot', reset: 'Reset', suspend: 'Suspend', resume: 'Resume',
};
/** Actions that can lose the guest's unsaved data: confirmed first. */
const CONFIRM: Partial<Record<VpsAction, string>> = {
  poweroff: 'Cuts the power at once, like pulling the plug: the guest gets no chance to save its data. Use Shut down for a clean stop.',
  reset: 'Restarts the machine at once, like the reset button: the guest gets no chance to save its data. Use Reboot for a clean restart.',
};

const DAY = 86_400_000;
const toLocalInput = (ms: number) => {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
};

/** One VPS: power actions, consoles, snapshots, network, expiry, owner; delete with the hostname typed. */
export default function VpsPage() {
  const { vpsId } = usePageParams() as { vpsId: string };
  const qc = useQueryClient();
  const runJob = useRunJob();
  const staff = useIsStaff();
  const users = useUsers();
  const canOperate = useCan(perms.operate);
  const canDelete = useCan(perms.delete);
  const [busy, setBusy] = useState<VpsAction | null>(null);
  const [confirm, setConfirm] = useState<VpsAction | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [tab, setTab] = useState<string | null>('console');
  useLiveInvalidate(['vps.', 'job.updated'], [['vps', 'one', vpsId]]);
  const q = useQuery({ queryKey: ['vps', 'one', vpsId], queryFn: () => call(api.GET('/api/v1/vps/{id}', { params: { path: { id: vpsId } } })) });
  const plans = useQuery({ queryKey: ['vps', 'plans'], queryFn: () => call(api.GET('/api/v1/vps/plans')) });
  const images = useQuery({ queryKey: ['vps', 'images'], queryFn: () => call(api.GET('/api/v1/vps/images')) });
  const v = q.data?.vps;

  const act = async (a: VpsAction) => {
    setBusy(a);
    try {
      const r = await call(api.POST(`/api/v1/vps/{id}/${a}`, { params: { path: { id: vpsId } } }));
      qc.setQueryData(['vps', 'one', vpsId], { vps: r.vps });
      if ('job' in r) await runJob(async () => ({ job: r.job }), { open: false });
      else notifySuccess(`${ACTION_LABEL[a]}: the server is ${r.vps.state}`);
      await qc.invalidateQueries({ queryKey: ['vps'] });
    } catch (e) {
      notifyError(e);
    } finally {
      setBusy(null);
    }
  };

  if (q.error && !v) return <PageError error={q.error} what="server" backTo="/vps" />;
  if (!v) return <PageHeader title="Server" description="Loading…" />;
  const busyState = v.state === 'creating' || v.state === 'deleting' || v.state === 'failed';
  const plan = plans.data?.items.find((p) => p.id === v.planId);
  const image = images.data?.items.find((i) => i.id === v.imageId);
  const button = (a: VpsAction, props: { variant?: string; color?: string; icon?: React.ReactNode } = {}) => (
    <Button key={a} size="sm" variant={props.variant ?? 'default'} color={props.color} leftSection={props.icon} loading={busy === a}
      disabled={busyState || !actionAllowed(a, v.state) || (busy !== null && busy !== a)}
      onClick={() => (CONFIRM[a] ? setConfirm(a) : void act(a))}>
      {ACTION_LABEL[a]}
    </Button>
  );

  return (
    <>
      <Anchor component={Link} to="/vps" size="sm">← Servers</Anchor>
      <PageHeader
        title={v.hostname}
        description={[v.dnsName, v.address, `${v.vcpus} vCPU · ${memoryText(v.memoryMb)} · ${v.diskGb} GB`].filter(Boolean).join(' · ')}
        actions={
          <Group gap="xs">
            <VpsStateBadge state={v.state} />
            {canOperate && (
              <>
                {v.state === 'paused' ? button('resume', { variant: 'filled', icon: <icons.play size={16} /> }) : v.state === 'running' ? button('shutdown') : button('start', { variant: 'filled', icon: <icons.play size={16} /> })}
                {button('reboot', { icon: <icons.refresh size={16} /> })}
                <Menu position="bottom-end" withinPortal>
                  <Menu.Target><Button size="sm" variant="default" disabled={busyState} aria-label="More power actions">More…</Button></Menu.Target>
                  <Menu.Dropdown>
                    {(['suspend', 'resume', 'poweroff', 'reset'] as const).map((a) => (
                      <Menu.Item key={a} color={CONFIRM[a] ? 'red' : undefined} disabled={!actionAllowed(a, v.state)} onClick={() => (CONFIRM[a] ? setConfirm(a) : void act(a))}>{ACTION_LABEL[a]}</Menu.Item>
                    ))}
                  </Menu.Dropdown>
                </Menu>
              </>
            )}
            {canDelete && <Button size="sm" color="red" variant="light" leftSection={<icons.trash size={16} />} disabled={v.state === 'deleting'} onClick={() => setConfirmDelete(true)}>Delete</Button>}
          </Group>
        }
      />
      {v.lastError && <Alert color="red" title={v.state === 'failed' ? 'Creation failed' : 'Last failure'} mb="md">{v.lastError}{v.state === 'failed' ? ' Delete this server and create it again.' : ''}</Alert>}
      {v.expiry && v.expiry.phase !== 'active' && (
        <Alert color="orange" mb="md" title={v.expiry.phase === 'expired' ? 'Expired' : 'Expires soon'}>
          {v.expiry.phase === 'expired' ? `Expired ${formatRelative(v.expiry.expiredAt ?? v.expiry.expiresAt)}; it is deleted ${formatRelative(v.expiry.deleteAt)} (${formatTime(v.expiry.deleteAt)}) unless renewed.` : `Expires ${formatRelative(v.expiry.expiresAt)} (${formatTime(v.expiry.expiresAt)}).`}
        </Alert>
      )}
      <SimpleGrid cols={{ base: 2, md: staff ? 6 : 4 }} mb="md">
        <Fact label="Address" value={v.address ?? (v.state === 'creating' ? 'assigning…' : '—')} mono />
        <Fact label="Network" value={v.network === 'public' ? 'public' : 'private only'} />
        <Fact label="Plan" value={plan ? plan.name : v.planId ? '—' : 'custom'} />
        <Fact label="Image" value={image?.name ?? '—'} />
        {staff && <Fact label="Owner" value={users.name(v.ownerId)} />}
        {staff && <Fact label="Host" value={<>{v.hostId ?? '—'}<Text size="xs" c="dimmed" ff="monospace" truncate="end" title={v.domainName}>{v.domainName}</Text></>} />}
      </SimpleGrid>
      <Tabs value={tab} onChange={setTab} keepMounted={false}>
        <Tabs.List mb="md">
          {canOperate && <Tabs.Tab value="console">Console</Tabs.Tab>}
          <Tabs.Tab value="usage">Usage</Tabs.Tab>
          <Tabs.Tab value="snapshots">Snapshots</Tabs.Tab>
          <Tabs.Tab value="network">Network</Tabs.Tab>
          {canOperate && <Tabs.Tab value="manage">Resize &amp; reinstall</Tabs.Tab>}
          <Tabs.Tab value="expiry">Expiry</Tabs.Tab>
        </Tabs.List>
        {canOperate && <Tabs.Panel value="console"><Consoles vps={v} /></Tabs.Panel>}
        <Tabs.Panel value="usage"><Suspense fallback={<Text size="sm" c="dimmed">Loading…</Text>}><VpsUsage vps={v} /></Suspense></Tabs.Panel>
        {canOperate && (
          <Tabs.Panel value="manage">
            {busyState ? <Text size="sm" c="dimmed">Not while the server is {v.state}.</Text> : <Suspense fallback={<Text size="sm" c="dimmed">Loading…</Text>}><VpsManage vps={v} plans={plans.data?.items ?? []} images={images.data?.items ?? []} /></Suspense>}
          </Tabs.Panel>
        )}
        <Tabs.Panel value="snapshots"><Snapshots vps={v} plan={plan} /></Tabs.Panel>
        <Tabs.Panel value="network">
          <SimpleGrid cols={{ base: 1, sm: 2, md: 4 }}>
            <Fact label="IPv4 address" value={v.address ?? '—'} mono />
            <Fact label="MAC" value={v.mac} mono />
            <Fact label="Network" value={v.network === 'public' ? 'Public (NAT or bridge)' : 'Private network of the owner (isolated)'} />
            <Fact label="DNS name" value={v.dnsName ?? '—'} />
            {staff && <Fact label="libvirt domain" value={v.domainName} mono />}
          </SimpleGrid>
          <Text size="xs" c="dimmed" mt="xs">The address is a static DHCP reservation: it stays with this server until it is deleted.</Text>
        </Tabs.Panel>
        <Tabs.Panel value="expiry"><ExpiryPanel vps={v} /></Tabs.Panel>
      </Tabs>
      <ConfirmDialog
        opened={!!confirm}
        onClose={() => setConfirm(null)}
        title={confirm ? `${ACTION_LABEL[confirm]} ${v.hostname}?` : ''}
        message={confirm ? CONFIRM[confirm] : ''}
        confirmLabel={confirm ? ACTION_LABEL[confirm] : 'Confirm'}
        onConfirm={async () => {
          if (confirm) await act(confirm);
        }}
      />
      <ConfirmDialog
        opened={confirmDelete}
        onClose={() => setConfirmDelete(false)}
        title={`Delete ${v.hostname}?`}
        message={<>The machine is powered off and removed with its disk, its cloud-init seed, its snapshots and its address. This cannot be undone.</>}
        typeToConfirm={v.hostname}
        confirmLabel="Delete server"
        onConfirm={async () => {
          const job = await runJob(() => call(api.DELETE('/api/v1/vps/{id}', { params: { path: { id: vpsId } }, body: { confirm: v.hostname } })));
          if (!job) throw new Error('The server was not deleted');
          await qc.invalidateQueries({ queryKey: ['vps'] });
        }}
      />
    </>
  );
}

function Consoles({ vps }: { vps: Vps }) {
  const [kind, setKind] = useState<'serial' | 'vnc'>('serial');
  const [open, setOpen] = useState(false);
  const running = vps.state === 'running' || vps.state === 'paused';
  return (
    <Stack>
      <Group justify="space-between">
        <SegmentedControl value={kind} onChange={(k) => setKind(k as 'serial' | 'vnc')} data={[{ value: 'serial', label: 'Serial console' }, { value: 'vnc', label: 'Graphical (VNC)' }]} />
        {open ? <Button variant="default" onClick={() => setOpen(false)}>Disconnect</Button> : <Button leftSection={<icons.play size={16} />} disabled={!running} onClick={() => setOpen(true)}>Connect</Button>}
      </Group>
      {!running && <Text size="sm" c="dimmed">The consoles are available while the server is running.</Text>}
      {open && running && (
        <Suspense fallback={<Text size="sm" c="dimmed">Loading the console…</Text>}>
          {kind === 'serial' ? <SerialConsole key="serial" vpsId={vps.id} hostname={vps.hostname} /> : <VncConsole key="vnc" vpsId={vps.id} />}
        </Suspense>
      )}
      {!open && running && <Text size="sm" c="dimmed">The serial console is the guest's ttyS0 (login prompt, boot messages); the graphical console is its screen. Both go through the panel; each session is audited.</Text>}
    </Stack>
  );
}

function Snapshots({ vps, plan }: { vps: Vps; plan: Plan | undefined }) {
  const qc = useQueryClient();
  const canOperate = useCan(perms.operate);
  const [comment, setComment] = useState('');
  const [creating, setCreating] = useState(false);
  const [revert, setRevert] = useState<Snapshot | null>(null);
  const [remove, setRemove] = useState<Snapshot | null>(null);
  const key = ['vps', 'one', vps.id, 'snapshots'];
  const snaps = useQuery({ queryKey: key, queryFn: () => call(api.GET('/api/v1/vps/{id}/snapshots', { params: { path: { id: vps.id } } })) });
  const items = snaps.data?.items ?? [];
  const limit = plan?.maxSnapshots;
  const full = limit !== undefined && items.length >= limit;
  const ready = !['creating', 'deleting', 'failed'].includes(vps.state);

  const create = async () => {
    setCreating(true);
    try {
      await call(api.POST('/api/v1/vps/{id}/snapshots', { params: { path: { id: vps.id } }, body: { comment: comment.trim() } }));
      notifySuccess('Snapshot taken');
      setComment('');
      await qc.invalidateQueries({ queryKey: key });
    } catch (e) {
      notifyError(e);
    } finally {
      setCreating(false);
    }
  };

  return (
    <Stack>
      {canOperate && (
        <Group align="flex-end">
          <TextInput label="Comment" placeholder="before the upgrade" maxLength={500} value={comment} onChange={(e) => setComment(e.currentTarget.value)} w={360}
            onKeyDown={(e) => e.key === 'Enter' && !full && ready && void create()} />
          <Button loading={creating} disabled={full || !ready} onClick={() => void create()}>Take snapshot</Button>
          {limit !== undefined && <Text size="sm" c={full ? 'orange' : 'dimmed'}>{items.length} of {limit} allowed by the plan{full ? ': delete one first' : ''}</Text>}
        </Group>
      )}
      <DataTable
        rows={snaps.data?.items}
        loading={snaps.isLoading}
        error={snaps.error}
        rowKey={(s) => s.id}
        empty={<EmptyState title="No snapshots" description={canOperate ? 'A snapshot keeps the disk (and the memory of a running server) to return to later.' : undefined} />}
        columns={[
          { key: 'comment', header: 'Comment', render: (s) => s.comment || <Text span c="dimmed">—</Text> },
          { key: 'created', header: 'Taken', render: (s) => <span title={formatTime(s.createdAt)}>{formatRelative(s.createdAt)}</span> },
          { key: 'name', header: 'Name', hideOnMobile: true, render: (s) => <Text size="xs" ff="monospace">{s.name}</Text> },
          ...(canOperate ? [{ key: 'actions', header: '', render: (s: Snapshot) => (
            <Group gap="xs" justify="flex-end">
              <Button size="xs" variant="default" disabled={!ready} onClick={() => setRevert(s)}>Revert</Button>
              <Button size="xs" variant="subtle" color="red" disabled={!ready} onClick={() => setRemove(s)} aria-label={`Delete snapshot ${s.comment || s.name}`}>Delete</Button>
            </Group>
          ) }] : []),
        ]}
      />
      <ConfirmDialog
        opened={!!revert}
        onClose={() => setRevert(null)}
        title="Revert to this snapshot?"
        message={`${vps.hostname} returns to ${revert?.comment ? `“${revert.comment}”` : 'the snapshot'} taken ${revert ? formatTime(revert.createdAt) : ''}. Everything written since is lost.`}
        confirmLabel="Revert"
        onConfirm={async () => {
          await call(api.POST('/api/v1/vps/{id}/snapshots/{snapshotId}/revert', { params: { path: { id: vps.id, snapshotId: revert!.id } } }));
          notifySuccess('Reverted to the snapshot');
          await qc.invalidateQueries({ queryKey: ['vps', 'one', vps.id] });
        }}
      />
      <ConfirmDialog
        opened={!!remove}
        onClose={() => setRemove(null)}
        title="Delete this snapshot?"
        message={`The snapshot ${remove?.comment ? `“${remove.comment}”` : remove?.name ?? ''} is removed; the server itself is not changed.`}
        confirmLabel="Delete snapshot"
        onConfirm={async () => {
          await call(api.DELETE('/api/v1/vps/{id}/snapshots/{snapshotId}', { params: { path: { id: vps.id, snapshotId: remove!.id } } }));
          notifySuccess('Snapshot deleted');
          await qc.invalidateQueries({ queryKey: key });
        }}
      />
    </Stack>
  );
}

function ExpiryPanel({ vps }: { vps: Vps }) {
  const qc = useQueryClient();
  const canManage = useCan(perms.expiry);
  const e = vps.expiry;
  const [at, setAt] = useState(() => toLocalInput((e?.expiresAt ?? Date.now()) + 30 * DAY));
  const [onExpiry, setOnExpiry] = useState<string | null>(e?.onExpiry ?? 'shutdown');
  const [confirmClear, setConfirmClear] = useState(false);
  const [saving, setSaving] = useState(false);
  const byId = { params: { path: { id: vps.id } } };
  const save = async (method: 'renew' | 'set', expiresAt: number) => {
    setSaving(true);
    try {
      const r = method === 'renew'
        ? await call(api.POST('/api/v1/vps/{id}/expiry/renew', { ...byId, body: { expiresAt } }))
        : await call(api.PUT('/api/v1/vps/{id}/expiry', { ...byId, body: { expiresAt, ...(onExpiry ? { onExpiry: onExpiry as Expiry['onExpiry'] } : {}) } }));
      qc.setQueryData(['vps', 'one', vps.id], r);
      notifySuccess(`Expires ${formatTime(expiresAt)}`);
    } catch (err) {
      notifyError(err);
    } finally {
      setSaving(false);
    }
  };
  const chosen = new Date(at).getTime();
  const valid = Number.isFinite(chosen) && chosen > Date.now();
  return (
    <Stack maw={760}>
      {e ? (
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          <Fact label="Expires" value={`${formatTime(e.expiresAt)} (${formatRelative(e.expiresAt)})`} />
          <Fact label="On expiry" value={`${e.onExpiry === 'suspend' ? 'suspended' : 'shut down'}; deleted ${e.graceDays} day${e.graceDays === 1 ? '' : 's'} later`} />
          <Fact label="Notice" value={`${e.notifyDays} day${e.notifyDays === 1 ? '' : 's'} before${e.notifiedAt ? ` · sent ${formatRelative(e.notifiedAt)}` : ''}`} />
        </SimpleGrid>
      ) : (
        <Text size="sm">This server does not expire.</Text>
      )}
      {e?.lastError && <Alert color="red" title="The expiry policy failed">{e.lastError}</Alert>}
      {canManage ? (
        <>
          <Title order={5}>{e ? 'Renew or change' : 'Set an expiry'}</Title>
          <Group align="flex-end">
            <TextInput type="datetime-local" label="Expires at" value={at} onChange={(ev) => setAt(ev.currentTarget.value)} error={at && !valid ? 'A time in the future' : null} />
            {!e && <Select label="On expiry" data={[{ value: 'shutdown', label: 'Shut down' }, { value: 'suspend', label: 'Suspend' }]} value={onExpiry} onChange={setOnExpiry} w={160} />}
            {e ? (
              <>
                <Button loading={saving} disabled={!valid} onClick={() => void save('renew', chosen)}>Renew</Button>
                <Button variant="default" disabled={saving} onClick={() => void save('renew', Math.max(Date.now(), e.expiresAt) + 30 * DAY)}>Renew 30 days</Button>
                <Button variant="subtle" color="red" onClick={() => setConfirmClear(true)}>Remove expiry</Button>
              </>
            ) : (
              <Button loading={saving} disabled={!valid} onClick={() => void save('set', chosen)}>Set expiry</Button>
            )}
          </Group>
        </>
      ) : (
        e && <Text size="sm" c="dimmed">Renewals are made by billing.</Text>
      )}
      <ConfirmDialog
        opened={confirmClear}
        onClose={() => setConfirmClear(false)}
        title="Remove the expiry?"
        message={`${vps.hostname} will no longer be shut down or deleted on a date.`}
        confirmLabel="Remove expiry"
        onConfirm={async () => {
          const r = await call(api.DELETE('/api/v1/vps/{id}/expiry', byId));
          qc.setQueryData(['vps', 'one', vps.id], r);
          notifySuccess('Expiry removed');
        }}
      />
    </Stack>
  );
}
