import { Alert, Anchor, Button, Checkbox, FileButton, Group, Modal, Select, Stack, Table, Text, Textarea, TextInput } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useEffect, useState } from 'react';
import {
  ApiError, DataTable, EmptyState, PageHeader, api, call, errorText, formatBytes, formatRelative, icons, notifyError, notifySuccess, useCan, useLiveInvalidate,
} from '@slipway/web';
import { bootModeLabel, type Image, type Machine, type MachineBody, type MachineStatus } from './api';
import { MachineStatusCell, NetbootNav } from './components';
import { useImages, useImageVersions, useVersionLabels } from './hooks';
import { MachineForm } from './MachineForm';

const PAGE = 50;
const LATEST = '__latest__';

function imageText(m: Machine, images: Image[], labels: ReturnType<typeof useVersionLabels>): string {
  if (!m.imageId) return '—';
  const img = images.find((i) => i.id === m.imageId);
  const eff = m.effectiveVersionId ? labels.get(m.effectiveVersionId) : undefined;
  const name = img?.name ?? eff?.image ?? m.imageId;
  if (!eff) return name;
  return m.versionId ? `${name} v${eff.number} (pinned)` : `${name} v${eff.number}`;
}

/** Every machine with its live status; filters, bulk assign, CSV import, new machine. */
export default function MachinesPage() {
  const navigate = useNavigate();
  const qc = useQueryClient();
  const canManage = useCan('netboot.manage');
  const canOperate = useCan('netboot.operate');
  const [search, setSearch] = useState('');
  const [status, setStatus] = useState<string | null>(null);
  const [group, setGroup] = useState<string | null>(null);
  const [image, setImage] = useState<string | null>(null);
  const [page, setPage] = useState(1);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [creating, setCreating] = useState(false);
  const [importing, setImporting] = useState(false);
  const [assigning, setAssigning] = useState(false);
  useLiveInvalidate(['netboot.', 'job.updated'], [['netboot']]);
  // iSCSI logins are read from tgt, not pushed as events: poll for online/offline.
  const machines = useQuery({ queryKey: ['netboot', 'machines'], queryFn: () => call(api.GET('/api/v1/netboot/machines')), refetchInterval: 5000 });
  const images = useImages();
  const labels = useVersionLabels(images.data?.items);
  useEffect(() => setPage(1), [search, status, group, image]);

  const all = machines.data?.items ?? [];
  const groups = [...new Set(all.map((m) => m.group).filter((g): g is string => !!g))].sort();
  const q = search.trim().toLowerCase();
  const filtered = all.filter((m) =>
    (!q || [m.name, m.mac, m.fixedIp ?? '', m.group ?? '', m.notes, m.mac.replace(/:/g, '-')].some((s) => s.toLowerCase().includes(q)))
    && (!status || (status === 'pending' ? m.state === 'pending' : m.status === status))
    && (!group || m.group === group)
    && (!image || (image === '__none__' ? !m.imageId : m.imageId === image)));
  const totalPages = Math.max(1, Math.ceil(filtered.length / PAGE));
  const rows = filtered.slice((page - 1) * PAGE, page * PAGE);
  const chosen = all.filter((m) => selected.has(m.id));
  const toggle = (id: string, on: boolean) => setSelected((s) => {
    const n = new Set(s);
    if (on) n.add(id);
    else n.delete(id);
    return n;
  });
  const allOnPage = rows.length > 0 && rows.every((m) => selected.has(m.id));
  const counts = (['online', 'booting', 'offline'] as MachineStatus[]).map((s) => `${all.filter((m) => m.status === s).length} ${s}`).join(' · ');
  const imgs = images.data?.items ?? [];
  const filtering = !!(q || status || group || image);

  return (
    <>
      <PageHeader
        title="Netboot"
        description={machines.data ? `Diskless machines booting over iPXE + iSCSI · ${all.length} machine${all.length === 1 ? '' : 's'}: ${counts}` : 'Diskless machines booting over iPXE + iSCSI'}
        actions={canManage && (
          <Group gap="xs">
            <Button variant="default" leftSection={<icons.download size={16} />} onClick={() => setImporting(true)}>Import CSV</Button>
            <Button leftSection={<icons.plus size={16} />} onClick={() => setCreating(true)}>New machine</Button>
          </Group>
        )}
      />
      <NetbootNav active="/netboot" />
      <Group gap="xs" mb="sm" wrap="wrap">
        <TextInput aria-label="Search" placeholder="Search name, MAC, IP, group" leftSection={<icons.search size={16} />} value={search} onChange={(e) => setSearch(e.currentTarget.value)} w={260} />
        <Select aria-label="Status" placeholder="Any status" clearable w={150} value={status} onChange={setStatus}
          data={[{ value: 'online', label: 'Online' }, { value: 'booting', label: 'Booting' }, { value: 'offline', label: 'Offline' }, { value: 'pending', label: 'Pending approval' }]} />
        <Select aria-label="Group" placeholder="Any group" clearable w={160} value={group} onChange={setGroup} data={groups} disabled={!groups.length} />
        <Select aria-label="Image" placeholder="Any image" clearable w={180} value={image} onChange={setImage} data={[{ value: '__none__', label: 'No image' }, ...imgs.map((i) => ({ value: i.id, label: i.name }))]} />
        {selected.size > 0 && (
          <Group gap="xs" ml="auto">
            <Text size="sm">{selected.size} selected</Text>
            {canManage && <Button size="xs" onClick={() => setAssigning(true)}>Assign image…</Button>}
            <Button size="xs" variant="subtle" onClick={() => setSelected(new Set())}>Clear</Button>
          </Group>
        )}
      </Group>
      <DataTable
        rows={machines.data ? rows : undefined}
        loading={machines.isLoading}
        error={machines.error}
        rowKey={(m) => m.id}
        empty={filtering
          ? <EmptyState title="No machine matches these filters" />
          : <EmptyState title="No machines yet" description="Register machines by MAC address, import a CSV, or let them boot: unknown MACs show up here as pending." action={canManage ? <Button size="xs" onClick={() => setCreating(true)}>New machine</Button> : undefined} />}
        onRowClick={(m) => void navigate({ to: '/netboot/machines/$machineId', params: { machineId: m.id } })}
        columns={[
          ...(canManage ? [{
            key: 'select', width: 36,
            header: <Checkbox aria-label="Select all on this page" checked={allOnPage} indeterminate={!allOnPage && rows.some((m) => selected.has(m.id))} onChange={(e) => { const on = e.currentTarget.checked; for (const m of rows) toggle(m.id, on); }} />,
            render: (m: Machine) => <Checkbox aria-label={`Select ${m.name}`} checked={selected.has(m.id)} onClick={(e) => e.stopPropagation()} onChange={(e) => toggle(m.id, e.currentTarget.checked)} />,
          }] : []),
          { key: 'name', header: 'Machine', render: (m) => <div><Text fw={600}>{m.name}</Text><Text size="xs" c="dimmed" ff="monospace">{m.mac}</Text></div> },
          { key: 'status', header: 'Status', render: (m) => <MachineStatusCell m={m} /> },
          { key: 'group', header: 'Group', hideOnMobile: true, render: (m) => m.group ?? '—' },
          { key: 'image', header: 'Image', render: (m) => imageText(m, imgs, labels) },
          { key: 'mode', header: 'Boot mode', hideOnMobile: true, render: (m) => bootModeLabel(m.bootMode) },
          { key: 'wb', header: 'Writeback', hideOnMobile: true, render: (m) => (m.writeback ? `${formatBytes(m.writeback.bytes)}${m.keepWriteback ? ' · kept' : ''}` : m.keepWriteback ? 'none · kept' : '—') },
          { key: 'boot', header: 'Last boot', hideOnMobile: true, render: (m) => formatRelative(m.lastBootAt) },
        ]}
        pagination={{ page, totalPages, onChange: setPage }}
      />
      {machines.data && filtering && <Text size="xs" c="dimmed" mt="xs">{filtered.length} of {all.length} machines</Text>}

      <Modal opened={creating} onClose={() => setCreating(false)} title="New machine" size="lg">
        <MachineForm submitLabel="Register machine" onCancel={() => setCreating(false)} onSubmit={async (body) => {
          const { machine } = await call(api.POST('/api/v1/netboot/machines', { body: body as MachineBody })); // a new machine: the whole body
          notifySuccess(`${machine.name} registered`);
          setCreating(false);
          await qc.invalidateQueries({ queryKey: ['netboot', 'machines'] });
        }} />
      </Modal>
      <ImportDialog opened={importing} onClose={() => setImporting(false)} />
      <AssignDialog opened={assigning} machines={chosen} images={imgs} canOperate={canOperate} onClose={() => setAssigning(false)} onDone={() => setSelected(new Set())} />
    </>
  );
}

const CSV_EXAMPLE = 'name,mac,image,group,bootMode,keepWriteback\npc01,52:54:00:00:00:01,base-os,lab-1,iscsi,false';

/** CSV import: all or nothing; the server's per-line problems are listed. */
function ImportDialog({ opened, onClose }: { opened: boolean; onClose(): void }) {
  const qc = useQueryClient();
  const [csv, setCsv] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<{ message: string; issues: { line: number; message: string }[] } | null>(null);
  const close = () => {
    setCsv('');
    setProblem(null);
    onClose();
  };
  const submit = async () => {
    setBusy(true);
    setProblem(null);
    try {
      const { created } = await call(api.POST('/api/v1/netboot/machines/import', { body: { csv } }));
      notifySuccess(`${created.length} machine${created.length === 1 ? '' : 's'} imported`);
      await qc.invalidateQueries({ queryKey: ['netboot', 'machines'] });
      close();
    } catch (e) {
      if (e instanceof ApiError && e.status === 400) {
        const issues = (e.details as { issues?: { line?: number; path?: string; message: string }[] } | undefined)?.issues ?? [];
        setProblem({ message: issues.some((i) => typeof i.line === 'number') ? 'Nothing was imported: fix these lines and try again.' : e.message, issues: issues.filter((i): i is { line: number; message: string } => typeof i.line === 'number') });
      } else notifyError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal opened={opened} onClose={close} title="Import machines from CSV" size="xl">
      <Stack gap="sm">
        <Text size="sm">
          The first line names the columns: <code>name,mac</code> and optionally <code>image</code> (name or id), <code>bootMode</code> (iscsi, local, menu),
          {' '}<code>keepWriteback</code>, <code>fixedIp</code>, <code>group</code>, <code>notes</code>. Every line is checked first: one bad line and nothing is imported.
        </Text>
        <Group gap="xs">
          <FileButton accept=".csv,text/csv,text/plain" onChange={(f) => void f?.text().then(setCsv)}>
            {(props) => <Button {...props} size="xs" variant="default">Choose a file…</Button>}
          </FileButton>
          <Anchor size="xs" component="button" type="button" onClick={() => setCsv(CSV_EXAMPLE)}>Insert an example</Anchor>
        </Group>
        <Textarea label="CSV" aria-label="CSV" rows={8} value={csv} onChange={(e) => setCsv(e.currentTarget.value)} ff="monospace" placeholder={CSV_EXAMPLE} />
        {problem && (
          <Alert color="red" title={problem.message} data-testid="import-errors">
            {problem.issues.length > 0 && (
              <Table withRowBorders={false} verticalSpacing={2}>
                <Table.Tbody>
                  {problem.issues.map((i) => (
                    <Table.Tr key={`${i.line}-${i.message}`}>
                      <Table.Td w={70}>line {i.line}</Table.Td>
                      <Table.Td>{i.message}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </Alert>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={close}>Cancel</Button>
          <Button onClick={() => void submit()} loading={busy} disabled={!csv.trim()}>Import</Button>
        </Group>
      </Stack>
    </Modal>
  );
}

/**
 * Bulk assign an image version. A running machine keeps the version it booted until its session
 * ends; "stop sessions" ends them so each machine's next boot starts on the new version (the panel
 * cannot power-cycle a machine: the machine itself has to reboot).
 */
function AssignDialog({ opened, machines, images, canOperate, onClose, onDone }: {
  opened: boolean; machines: Machine[]; images: Image[]; canOperate: boolean; onClose(): void; onDone(): void;
}) {
  const qc = useQueryClient();
  const [imageId, setImageId] = useState<string | null>(null);
  const [versionId, setVersionId] = useState<string>(LATEST);
  const [stop, setStop] = useState(false);
  const [busy, setBusy] = useState(false);
  const [failures, setFailures] = useState<{ name: string; message: string }[]>([]);
  const versions = useImageVersions(imageId);
  const running = machines.filter((m) => m.session && (m.session.state === 'ready' || m.session.state === 'starting'));
  const close = () => {
    setFailures([]);
    setStop(false);
    onClose();
  };
  const apply = async () => {
    setBusy(true);
    const failed: { name: string; message: string }[] = [];
    let assigned = 0;
    let stopped = 0;
    for (const m of machines) {
      try {
        await call(api.PATCH('/api/v1/netboot/machines/{id}', { params: { path: { id: m.id } }, body: { imageId, versionId: versionId === LATEST ? null : versionId } }));
        assigned++;
      } catch (e) {
        failed.push({ name: m.name, message: errorText(e) });
        continue;
      }
      if (stop && running.includes(m)) {
        try {
          await call(api.DELETE('/api/v1/netboot/machines/{id}/session', { params: { path: { id: m.id } } }));
          stopped++;
        } catch (e) {
          failed.push({ name: m.name, message: `assigned, but its session did not stop: ${errorText(e)}` });
        }
      }
    }
    setBusy(false);
    await qc.invalidateQueries({ queryKey: ['netboot'] });
    if (assigned) notifySuccess(`Assigned to ${assigned} machine${assigned === 1 ? '' : 's'}${stopped ? `; ${stopped} session${stopped === 1 ? '' : 's'} stopping` : ''}`);
    setFailures(failed);
    if (!failed.length) {
      onDone();
      close();
    }
  };
  return (
    <Modal opened={opened} onClose={close} title={`Assign an image to ${machines.length} machine${machines.length === 1 ? '' : 's'}`} size="lg">
      <Stack gap="sm">
        <Text size="sm" c="dimmed">{machines.slice(0, 12).map((m) => m.name).join(', ')}{machines.length > 12 ? ` and ${machines.length - 12} more` : ''}</Text>
        <Select label="Image" data={images.filter((i) => i.status === 'ready').map((i) => ({ value: i.id, label: i.name }))} value={imageId} onChange={(v) => { setImageId(v); setVersionId(LATEST); }} placeholder="Choose an image" />
        <Select label="Version" disabled={!imageId} allowDeselect={false} value={versionId} onChange={(v) => setVersionId(v ?? LATEST)}
          data={[{ value: LATEST, label: 'Latest version (follows new commits)' }, ...(versions.data?.versions ?? []).map((v) => ({ value: v.id, label: `v${v.number}${v.comment ? ` — ${v.comment}` : ''}` }))]} />
        {running.length > 0 && (
          canOperate ? (
            <Checkbox checked={stop} onChange={(e) => setStop(e.currentTarget.checked)}
              label={`Reboot into it: stop the ${running.length} running session${running.length === 1 ? '' : 's'}`}
              description="A running machine keeps the version it booted. Stopping its session removes its disk; its next boot (power-cycle it) starts on the new version with a fresh writeback: commit a kept writeback first to keep its changes." />
          ) : <Text size="sm" c="dimmed">{running.length} of these machines are running: they keep their current version until they reboot.</Text>
        )}
        {failures.length > 0 && (
          <Alert color="red" title="Some machines were not changed">
            {failures.map((f) => <Text key={f.name} size="sm"><b>{f.name}</b>: {f.message}</Text>)}
          </Alert>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={close} disabled={busy}>Cancel</Button>
          <Button onClick={() => void apply()} loading={busy} disabled={!imageId}>Assign</Button>
        </Group>
      </Stack>
    </Modal>
  );
}
