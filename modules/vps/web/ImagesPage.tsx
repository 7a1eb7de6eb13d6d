import { Alert, Badge, Button, FileInput, Group, Modal, NumberInput, Progress, SimpleGrid, Stack, Switch, Text, TextInput, Tooltip } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import { ConfirmDialog, DataTable, EmptyState, JobLink, PageHeader, StatusBadge, errorText, onlyFields, otherIssuesText, formatBytes, formatRelative, icons, notifyError, notifySuccess, api, call, useCan, useLiveInvalidate } from '@slipway/web';
import { fieldErrors, perms, sha256OfFile, uploadImage, type Image, type UploadHandle } from './api';
import { VpsNav } from './components';

const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$/;
const IMAGE_BADGE: Record<Image['status'], string> = { uploading: 'queued', converting: 'running', ready: 'succeeded', failed: 'failed' };

/** Base images: upload (raw body with progress and a SHA-256), conversion to qcow2, metadata. */
export default function ImagesPage() {
  const canManage = useCan(perms.images);
  const qc = useQueryClient();
  const [uploading, setUploading] = useState(false);
  const [remove, setRemove] = useState<Image | null>(null);
  useLiveInvalidate(['job.updated'], [['vps', 'images']]);
  const images = useQuery({
    queryKey: ['vps', 'images'],
    queryFn: () => call(api.GET('/api/v1/vps/images')),
    refetchInterval: (q) => (q.state.data?.items.some((i) => i.status === 'converting' || i.status === 'uploading') ? 3000 : false),
  });
  return (
    <>
      <PageHeader
        title="Images"
        description="Disk images servers are created from (converted to qcow2; every server's disk is an overlay on one)"
        actions={canManage && <Button leftSection={<icons.plus size={16} />} onClick={() => setUploading(true)}>Upload image</Button>}
      />
      <VpsNav active="/vps/images" />
      <DataTable
        rows={images.data?.items}
        loading={images.isLoading}
        error={images.error}
        rowKey={(i) => i.id}
        empty={<EmptyState title="No images yet" description={canManage ? 'Upload a cloud image (qcow2 or raw; e.g. a Debian "genericcloud" image).' : 'An operator uploads images.'} />}
        columns={[
          { key: 'name', header: 'Image', render: (i) => (
            <Group gap={6}>
              <Text fw={600}>{i.name}</Text>
              {!i.public && <Badge size="xs" variant="light" color="gray">private</Badge>}
              {i.directKernel && <Badge size="xs" variant="light" color="grape">direct kernel</Badge>}
            </Group>
          ) },
          { key: 'status', header: 'Status', render: (i) => (
            <Stack gap={2}>
              <StatusBadge status={IMAGE_BADGE[i.status]} label={i.status} />
              {i.reason && <Text size="xs" c="red">{i.reason}</Text>}
            </Stack>
          ) },
          { key: 'os', header: 'OS', render: (i) => [i.os, i.version].filter(Boolean).join(' ') || '—' },
          { key: 'ci', header: 'cloud-init', hideOnMobile: true, render: (i) => (i.cloudInit ? 'yes' : 'no') },
          { key: 'size', header: 'Size', hideOnMobile: true, render: (i) => `${i.sizeBytes ? formatBytes(i.sizeBytes) : '—'}${i.virtualSize ? ` (virtual ${formatBytes(i.virtualSize)})` : ''}` },
          { key: 'min', header: 'Min. disk', hideOnMobile: true, render: (i) => `${i.minDiskGb} GB` },
          { key: 'sha', header: 'SHA-256', hideOnMobile: true, render: (i) => (i.sha256 ? <Tooltip label={i.sha256}><Text size="xs" ff="monospace">{i.sha256.slice(0, 12)}…</Text></Tooltip> : '—') },
          { key: 'at', header: 'Uploaded', hideOnMobile: true, render: (i) => formatRelative(i.createdAt) },
          ...(canManage ? [{ key: 'del', header: '', render: (i: Image) => <Button size="xs" variant="subtle" color="red" onClick={(e) => { e.stopPropagation(); setRemove(i); }} aria-label={`Delete image ${i.name}`}>Delete</Button> }] : []),
        ]}
      />
      <UploadDialog opened={uploading} onClose={() => setUploading(false)} />
      <ConfirmDialog
        opened={!!remove}
        onClose={() => setRemove(null)}
        title={`Delete image ${remove?.name ?? ''}?`}
        message="The image file is removed. The panel refuses while any server's disk is an overlay on it."
        typeToConfirm={remove?.name}
        confirmLabel="Delete image"
        onConfirm={async () => {
          await call(api.DELETE('/api/v1/vps/images/{id}', { params: { path: { id: remove!.id } } }));
          notifySuccess('Image deleted');
          await qc.invalidateQueries({ queryKey: ['vps', 'images'] });
        }}
      />
    </>
  );
}

type Phase = { kind: 'idle' } | { kind: 'hashing' } | { kind: 'sending'; sent: number; total: number } | { kind: 'done'; name: string; jobId: string };

/** The file goes as the raw request body; files up to 256 MiB are hashed first so the server can check them. */
function UploadDialog({ opened, onClose }: { opened: boolean; onClose(): void }) {
  const qc = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState('');
  const [os, setOs] = useState('');
  const [version, setVersion] = useState('');
  const [minDiskGb, setMinDiskGb] = useState<number | string>(1);
  const [cloudInit, setCloudInit] = useState(true);
  const [isPublic, setPublic] = useState(true);
  const [phase, setPhase] = useState<Phase>({ kind: 'idle' });
  const [error, setError] = useState<string | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [hashNote, setHashNote] = useState<string | null>(null);
  const handle = useRef<UploadHandle | null>(null);
  const busy = phase.kind === 'hashing' || phase.kind === 'sending';
  const nameProblem = name && !NAME.test(name) ? '1–63 letters, digits, spaces, . _ -' : null;
  const osProblem = os && !/^[a-z0-9][a-z0-9._-]{0,31}$/.test(os) ? 'Lowercase, e.g. debian' : null;

  const close = () => {
    handle.current?.abort();
    handle.current = null;
    setPhase({ kind: 'idle' });
    setError(null);
    setErrors({});
    setHashNote(null);
    setFile(null);
    onClose();
  };
  const start = async () => {
    if (!file) return;
    setError(null);
    setErrors({});
    setPhase({ kind: 'hashing' });
    const hash = await sha256OfFile(file).catch((e: unknown) => ({ skipped: (e as Error).message }));
    setHashNote('sha256' in hash ? `SHA-256 ${hash.sha256.slice(0, 16)}… (checked by the server)` : `Checksum skipped: ${hash.skipped} (the server computes its own)`);
    const h = uploadImage({
      file, meta: { name: name.trim(), os: os || undefined, version: version || undefined, minDiskGb: Number(minDiskGb) || 1, cloudInit: cloudInit ? 'true' : 'false', public: isPublic ? 'true' : 'false' },
      sha256: 'sha256' in hash ? hash.sha256 : undefined, onProgress: (sent, total) => setPhase({ kind: 'sending', sent, total }),
    });
    handle.current = h;
    setPhase({ kind: 'sending', sent: 0, total: file.size });
    try {
      const r = await h.done;
      notifySuccess(`${r.image.name} uploaded: converting to qcow2`);
      setPhase({ kind: 'done', name: r.image.name, jobId: r.job.id });
      await qc.invalidateQueries({ queryKey: ['vps', 'images'] });
    } catch (e) {
      if ((e as { code?: string }).code === 'aborted') return;
      const fields = ['name', 'os', 'version', 'minDiskGb'] as const;
      const f = onlyFields(fieldErrors(e), fields);
      setErrors(f);
      // The message goes next to its field; the rest once above the form, in plain words.
      setError(Object.keys(f).length ? otherIssuesText(e, fields) : errorText(e));
      setPhase({ kind: 'idle' });
    } finally {
      handle.current = null;
    }
  };
  const pct = phase.kind === 'sending' && phase.total ? Math.round((phase.sent / phase.total) * 100) : 0;
  return (
    <Modal opened={opened} onClose={close} title="Upload an image" centered size="lg">
      {phase.kind === 'done' ? (
        <Stack>
          <Alert color="green" title={`${phase.name} uploaded`}>It is being converted to qcow2; it becomes ready (or failed, with the reason) when the job ends. <JobLink jobId={phase.jobId}>Follow the job</JobLink></Alert>
          <Group justify="flex-end"><Button onClick={close}>Close</Button></Group>
        </Stack>
      ) : (
        <Stack>
          <FileInput label="Image file" description="qcow2 or raw (the format is detected by the server, never taken from the name)" placeholder="debian-12-genericcloud-amd64.qcow2" required value={file} disabled={busy}
            onChange={(f) => { setFile(f); if (f && !name) setName(f.name.replace(/\.(qcow2|img|raw|iso)$/i, '').replace(/[^A-Za-z0-9 ._-]/g, '-').slice(0, 63)); }} />
          <TextInput label="Name" required value={name} disabled={busy} onChange={(e) => setName(e.currentTarget.value)} error={nameProblem ?? errors.name} />
          <SimpleGrid cols={3}>
            <TextInput label="OS" placeholder="debian" value={os} disabled={busy} onChange={(e) => setOs(e.currentTarget.value)} error={osProblem ?? errors.os} />
            <TextInput label="Version" placeholder="12" value={version} disabled={busy} onChange={(e) => setVersion(e.currentTarget.value)} error={errors.version} />
            <NumberInput label="Minimum disk (GB)" min={1} value={minDiskGb} disabled={busy} onChange={setMinDiskGb} error={errors.minDiskGb} />
          </SimpleGrid>
          <Switch label="Runs cloud-init (SSH keys and user-data are applied)" checked={cloudInit} disabled={busy} onChange={(e) => setCloudInit(e.currentTarget.checked)} />
          <Switch label="Public: customers may create servers from it" checked={isPublic} disabled={busy} onChange={(e) => setPublic(e.currentTarget.checked)} />
          {phase.kind === 'hashing' && <Text size="sm" c="dimmed">Computing the SHA-256…</Text>}
          {phase.kind === 'sending' && (
            <Stack gap={4}>
              <Progress value={pct} animated aria-label="Upload progress" />
              <Text size="xs" c="dimmed">{formatBytes(phase.sent)} of {formatBytes(phase.total)} ({pct} %)</Text>
            </Stack>
          )}
          {hashNote && <Text size="xs" c="dimmed">{hashNote}</Text>}
          {error && <Alert color="red" title="The upload was refused">{error}</Alert>}
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>{busy ? 'Cancel upload' : 'Cancel'}</Button>
            <Button loading={busy} disabled={!file || !name.trim() || !!nameProblem || !!osProblem} onClick={() => void start().catch(notifyError)}>Upload</Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
}
