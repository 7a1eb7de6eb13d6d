import { Alert, Anchor, Badge, Button, Checkbox, Code, Group, Modal, Stack, Text, Tooltip } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate } from '@tanstack/react-router';
import { useState } from 'react';
import {
  ApiError, ConfirmDialog, DataTable, PageHeader, StatusBadge, api, call, errorText, formatBytes, formatTime, icons, notifySuccess, useCan, useLiveInvalidate, usePageParams,
} from '@slipway/web';
import type { Machine, Ref, Version } from './api';
import { NetbootNav } from './components';
import { EditAsVmCard } from './EditAsVmCard';
import { useImageVersions } from './hooks';

interface InUse { title: string; message: string; machines: Ref[] }

/** The machines a 409 names (`details.machines`), or null for any other error. */
export function inUseOf(e: unknown, title: string): InUse | null {
  if (!(e instanceof ApiError) || e.status !== 409) return null;
  const machines = (e.details as { machines?: Ref[] } | undefined)?.machines ?? [];
  return { title, message: e.message, machines };
}

/** One image: its versions with comment, author, size and the machines using each; rollback, delete. */
export default function ImagePage() {
  const { imageId } = usePageParams() as { imageId: string };
  const navigate = useNavigate();
  const qc = useQueryClient();
  const canManage = useCan('netboot.manage');
  const [inUse, setInUse] = useState<InUse | null>(null);
  const [deleteVersion, setDeleteVersion] = useState<Version | null>(null);
  const [deleteImage, setDeleteImage] = useState(false);
  const [rollback, setRollback] = useState<Version | null>(null);
  useLiveInvalidate(['netboot.', 'job.updated'], [['netboot']]);
  const q = useImageVersions(imageId);
  const machines = useQuery({ queryKey: ['netboot', 'machines'], queryFn: () => call(api.GET('/api/v1/netboot/machines')) });
  const image = q.data?.image;
  const versions = q.data?.versions;
  const byId = new Map((machines.data?.items ?? []).map((m) => [m.id, m]));

  if (q.error) return <><PageHeader title="Image" /><NetbootNav active="/netboot/images" /><Alert color="red">{(q.error as Error).message}</Alert></>;
  if (!image || !versions) return <PageHeader title="Image" description="Loading…" />;
  const own = (machines.data?.items ?? []).filter((m) => m.imageId === image.id);

  return (
    <>
      <PageHeader
        title={image.name}
        description={<>{image.versionCount} version{image.versionCount === 1 ? '' : 's'} · {image.virtualSize ? `${formatBytes(image.virtualSize)} disk` : 'size unknown'} · {formatBytes(image.sizeBytes)} stored · <Anchor component={Link} to="/netboot/images" size="sm">all images</Anchor></>}
        actions={canManage && <Button color="red" variant="light" leftSection={<icons.trash size={16} />} onClick={() => setDeleteImage(true)}>Delete image</Button>}
      />
      <NetbootNav active="/netboot/images" />
      {image.status !== 'ready' && (
        <Alert color={image.status === 'failed' ? 'red' : 'blue'} mb="md" title={image.status === 'failed' ? 'The import failed' : 'Converting'}>
          {image.error ?? 'qemu-img converts the upload into version 1; the image can be assigned once it is ready.'}
        </Alert>
      )}
      {inUse && (
        <Alert color="orange" mb="md" title={inUse.title} withCloseButton onClose={() => setInUse(null)} data-testid="in-use">
          <Text size="sm">{inUse.message}</Text>
          {inUse.machines.length > 0 && (
            <>
              <Text size="sm" mt="xs">Point these machines at another version first (or stop their sessions):</Text>
              <Group gap="xs" mt={4}>
                {inUse.machines.map((m) => <Anchor key={m.id} component={Link} to={`/netboot/machines/${encodeURIComponent(m.id)}`} size="sm">{m.name}</Anchor>)}
              </Group>
            </>
          )}
        </Alert>
      )}
      {image.status === 'ready' && <EditAsVmCard imageId={image.id} versions={versions} />}
      <DataTable
        rows={versions}
        rowKey={(v) => v.id}
        empty={<Text p="md" size="sm" c="dimmed">No versions yet.</Text>}
        columns={[
          { key: 'n', header: 'Version', width: 120, render: (v) => <Group gap={6} wrap="nowrap"><Text fw={600}>v{v.number}</Text>{v.latest && <Badge size="xs" variant="light" style={{ flexShrink: 0, overflow: 'visible' }}>latest</Badge>}</Group> },
          { key: 'comment', header: 'Comment', render: (v) => <div><Text size="sm">{v.comment || '—'}</Text>{v.fromMachineId && <Text size="xs" c="dimmed">committed from {byId.get(v.fromMachineId)?.name ?? 'a machine'}</Text>}</div> },
          { key: 'author', header: 'Author', hideOnMobile: true, render: (v) => v.author?.name ?? '—' },
          { key: 'at', header: 'Created', hideOnMobile: true, render: (v) => formatTime(v.createdAt) },
          { key: 'size', header: 'Size', render: (v) => <Tooltip label={`${formatBytes(v.virtualSize)} disk`} withArrow><Text size="sm" style={{ whiteSpace: 'nowrap' }}>{formatBytes(v.fileSize)}</Text></Tooltip> },
          { key: 'sha', header: 'SHA-256', hideOnMobile: true, render: (v) => (v.sha256 ? <Tooltip label={v.sha256} withArrow><Code>{v.sha256.slice(0, 12)}</Code></Tooltip> : '—') },
          {
            key: 'machines', header: 'Used by', render: (v) => (v.machines.length
              ? <Group gap={6}>{v.machines.map((m) => <Anchor key={m.id} component={Link} to={`/netboot/machines/${encodeURIComponent(m.id)}`} size="sm" onClick={(e) => e.stopPropagation()}>{m.name}</Anchor>)}</Group>
              : <StatusBadge status="unused" label="unused" />),
          },
          ...(canManage ? [{
            key: 'actions', header: '', render: (v: Version) => (
              <Group gap={4} wrap="nowrap" justify="flex-end">
                <Button size="compact-xs" variant="default" disabled={!own.length || image.status !== 'ready'} onClick={() => setRollback(v)}>{v.latest ? 'Point machines…' : 'Roll back to…'}</Button>
                <Button size="compact-xs" variant="subtle" color="red" aria-label={`Delete v${v.number}`} onClick={() => setDeleteVersion(v)}>Delete</Button>
              </Group>
            ),
          }] : []),
        ]}
      />
      <Text size="xs" c="dimmed" mt="xs">A version is in use while a machine is pinned to it, follows it as the latest, or runs or keeps a writeback on it. Versions are self-contained: deleting one never breaks another.</Text>

      <RollbackDialog version={rollback} machines={own} onClose={() => setRollback(null)} />
      <ConfirmDialog
        opened={!!deleteVersion}
        onClose={() => setDeleteVersion(null)}
        title={deleteVersion ? `Delete v${deleteVersion.number} of ${image.name}?` : ''}
        message="Its file is removed. Machines cannot be pointed at it afterwards."
        confirmLabel="Delete version"
        onConfirm={async () => {
          const v = deleteVersion!;
          try {
            await call(api.DELETE('/api/v1/netboot/images/{id}/versions/{versionId}', { params: { path: { id: imageId, versionId: v.id } } }));
            notifySuccess(`v${v.number} deleted`);
            setInUse(null);
            await qc.invalidateQueries({ queryKey: ['netboot', 'images'] });
          } catch (e) {
            const u = inUseOf(e, `v${v.number} was not deleted`);
            if (!u) throw e;
            setInUse(u);
          }
        }}
      />
      <ConfirmDialog
        opened={deleteImage}
        onClose={() => setDeleteImage(false)}
        title={`Delete ${image.name}?`}
        message={`All ${image.versionCount} version${image.versionCount === 1 ? '' : 's'} are removed. This cannot be undone.`}
        typeToConfirm={image.name}
        confirmLabel="Delete image"
        onConfirm={async () => {
          try {
            await call(api.DELETE('/api/v1/netboot/images/{id}', { params: { path: { id: imageId } } }));
            notifySuccess(`${image.name} deleted`);
            await qc.invalidateQueries({ queryKey: ['netboot', 'images'] });
            void navigate({ to: '/netboot/images' });
          } catch (e) {
            const u = inUseOf(e, `${image.name} was not deleted`);
            if (!u) throw e;
            setInUse(u);
          }
        }}
      />
    </>
  );
}

/**
 * Rollback: pin machines of this image to an earlier version (or back to following the latest).
 * A running machine keeps the version it booted until its session ends.
 */
function RollbackDialog({ version, machines, onClose }: { version: Version | null; machines: Machine[]; onClose(): void }) {
  const qc = useQueryClient();
  const [picked, setPicked] = useState<Set<string> | null>(null);
  const [busy, setBusy] = useState(false);
  const [failures, setFailures] = useState<string[]>([]);
  if (!version) return null;
  const target = version.latest ? null : version.id;
  const already = (m: Machine) => m.versionId === target;
  const chosen = picked ?? new Set(machines.filter((m) => !already(m)).map((m) => m.id));
  const close = () => {
    setPicked(null);
    setFailures([]);
    onClose();
  };
  const apply = async () => {
    setBusy(true);
    const failed: string[] = [];
    for (const m of machines.filter((x) => chosen.has(x.id))) {
      try {
        await call(api.PATCH('/api/v1/netboot/machines/{id}', { params: { path: { id: m.id } }, body: { versionId: target } }));
      } catch (e) {
        failed.push(`${m.name}: ${errorText(e)}`);
      }
    }
    setBusy(false);
    await qc.invalidateQueries({ queryKey: ['netboot'] });
    if (failed.length) setFailures(failed);
    else {
      notifySuccess(version.latest ? `${chosen.size} machine(s) follow the latest version` : `${chosen.size} machine(s) pinned to v${version.number}`);
      close();
    }
  };
  return (
    <Modal opened onClose={close} title={version.latest ? `Follow the latest version (v${version.number})` : `Roll back to v${version.number}`} size="lg">
      <Stack gap="sm">
        <Text size="sm">
          {version.latest
            ? 'These machines stop being pinned and boot the latest version, including future commits.'
            : `These machines are pinned to v${version.number} until you point them elsewhere.`}
          {' '}A running machine keeps the version it booted until its session ends; a kept writeback on another version is replaced at its next boot.
        </Text>
        <Stack gap={4}>
          {machines.map((m) => (
            <Checkbox key={m.id} checked={chosen.has(m.id)} disabled={already(m)}
              label={<>{m.name}{already(m) ? ' (already)' : ''}{m.session ? ' · running' : ''}{m.writeback && m.keepWriteback ? ' · kept writeback' : ''}</>}
              onChange={(e) => {
                const n = new Set(chosen);
                if (e.currentTarget.checked) n.add(m.id);
                else n.delete(m.id);
                setPicked(n);
              }} />
          ))}
        </Stack>
        {failures.length > 0 && <Alert color="red" title="Some machines were not changed">{failures.map((f) => <Text key={f} size="sm">{f}</Text>)}</Alert>}
        <Group justify="flex-end">
          <Button variant="default" onClick={close} disabled={busy}>Cancel</Button>
          <Button onClick={() => void apply()} loading={busy} disabled={!chosen.size}>{version.latest ? 'Follow latest' : `Pin to v${version.number}`}</Button>
        </Group>
      </Stack>
    </Modal>
  );
}
