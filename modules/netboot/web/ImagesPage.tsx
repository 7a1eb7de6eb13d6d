import { Alert, Button, FileInput, Group, Modal, Progress, SimpleGrid, Stack, Text, TextInput } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useRef, useState } from 'react';
import { ApiError, DataTable, EmptyState, JobLink, PageHeader, StatusBadge, errorText, formatBytes, formatRelative, icons, issuesOf, notifySuccess, useCan, useLiveInvalidate } from '@slipway/web';
import { imageNameProblem, sha256OfFile, uploadImage, type Image, type UploadHandle } from './api';
import { Fact, NetbootNav } from './components';
import { imagesKey, useImages } from './hooks';

const IMAGE_STATE: Record<Image['status'], string> = { converting: 'running', ready: 'succeeded', failed: 'failed' };

/** System images: status, versions, size, the disk space left; upload with progress. */
export default function ImagesPage() {
  const navigate = useNavigate();
  const canManage = useCan('netboot.manage');
  const [uploading, setUploading] = useState(false);
  useLiveInvalidate(['netboot.', 'job.updated'], [['netboot']]);
  const images = useImages();
  const disk = images.data?.disk;
  return (
    <>
      <PageHeader
        title="Netboot"
        description="System images the machines boot; every commit is a new version"
        actions={canManage && <Button leftSection={<icons.plus size={16} />} onClick={() => setUploading(true)}>Upload image</Button>}
      />
      <NetbootNav active="/netboot/images" />
      {disk && (
        <SimpleGrid cols={{ base: 1, sm: 3 }} mb="md">
          <Fact label="Free on the image store" value={formatBytes(disk.freeBytes)} />
          <Fact label="Reserved (never used by uploads or commits)" value={formatBytes(disk.reserveBytes)} />
          <Fact label="Usable for new versions" value={formatBytes(disk.usableBytes)} />
        </SimpleGrid>
      )}
      <DataTable
        rows={images.data?.items}
        loading={images.isLoading}
        error={images.error}
        rowKey={(i) => i.id}
        empty={<EmptyState title="No images yet" description="Upload a raw, qcow2, VHD/VHDX or VMDK disk image: the format is read from its contents." action={canManage ? <Button size="xs" onClick={() => setUploading(true)}>Upload image</Button> : undefined} />}
        onRowClick={(i) => void navigate({ to: '/netboot/images/$imageId', params: { imageId: i.id } })}
        columns={[
          { key: 'name', header: 'Image', render: (i) => <Text fw={600}>{i.name}</Text> },
          { key: 'status', header: 'Status', render: (i) => <div><StatusBadge status={IMAGE_STATE[i.status]} label={i.status} />{i.error && <Text size="xs" c="red" lineClamp={2}>{i.error}</Text>}</div> },
          { key: 'latest', header: 'Latest', render: (i) => (i.latestVersion ? `v${i.latestVersion}` : '—') },
          { key: 'versions', header: 'Versions', hideOnMobile: true, render: (i) => i.versionCount },
          { key: 'disk', header: 'Disk size', render: (i) => (i.virtualSize ? formatBytes(i.virtualSize) : '—') },
          { key: 'size', header: 'Stored', hideOnMobile: true, render: (i) => formatBytes(i.sizeBytes) },
          { key: 'by', header: 'Uploaded by', hideOnMobile: true, render: (i) => i.createdBy?.name ?? '—' },
          { key: 'at', header: 'Updated', hideOnMobile: true, render: (i) => formatRelative(i.updatedAt) },
        ]}
      />
      <UploadDialog opened={uploading} onClose={() => setUploading(false)} />
    </>
  );
}

type Phase = { kind: 'idle' } | { kind: 'hashing' } | { kind: 'sending'; sent: number; total: number } | { kind: 'done'; jobId: string; name: string };

/**
 * The file goes as the raw request body (application/octet-stream) with upload progress; files up
 * to 512 MiB are hashed in the browser first (X-Checksum-Sha256), larger ones are not.
 */
export function UploadDialog({ opened, onClose }: { opened: boolean; onClose(): void }) {
  const qc = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState('');
  const [comment, setComment] = useState('');
  const [nameError, setNameError] = useState<string | null>(null);
  const [phase, setPhase] = useState<Phase>({ kind: 'idle' });
  const [hashNote, setHashNote] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const handle = useRef<UploadHandle | null>(null);
  const busy = phase.kind === 'hashing' || phase.kind === 'sending';

  const reset = () => {
    setFile(null);
    setName('');
    setComment('');
    setNameError(null);
    setError(null);
    setHashNote(null);
    setPhase({ kind: 'idle' });
  };
  const close = () => {
    handle.current?.abort();
    reset();
    onClose();
  };
  const chooseFile = (f: File | null) => {
    setFile(f);
    if (f && !name) setName(f.name.toLowerCase().replace(/\.(qcow2|raw|img|vhdx?|vmdk|iso)$/, '').replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 64));
  };

  const submit = async () => {
    setError(null);
    const np = imageNameProblem(name);
    setNameError(np);
    if (np || !file) return;
    setPhase({ kind: 'hashing' });
    const hash = await sha256OfFile(file).catch((e: unknown) => ({ skipped: (e as Error).message }));
    setHashNote('sha256' in hash ? `SHA-256 ${hash.sha256.slice(0, 16)}… (checked by the server)` : `Checksum skipped: ${hash.skipped}`);
    setPhase({ kind: 'sending', sent: 0, total: file.size });
    const h = uploadImage({ file, name, comment: comment.trim() || undefined, sha256: 'sha256' in hash ? hash.sha256 : undefined, onProgress: (sent, total) => setPhase({ kind: 'sending', sent, total }) });
    handle.current = h;
    try {
      const r = await h.done;
      setPhase({ kind: 'done', jobId: r.job.id, name: r.image.name });
      notifySuccess(`${r.image.name} uploaded: converting`);
      await qc.invalidateQueries({ queryKey: imagesKey });
    } catch (e) {
      setPhase({ kind: 'idle' });
      if (e instanceof ApiError && e.code === 'aborted') return;
      const nameIssue = issuesOf(e).find((i) => i.path.startsWith('querystring.name'));
      if (nameIssue) setNameError(nameIssue.message);
      else setError(errorText(e));
    } finally {
      handle.current = null;
    }
  };

  const pct = phase.kind === 'sending' && phase.total ? Math.round((phase.sent / phase.total) * 100) : 0;
  return (
    <Modal opened={opened} onClose={close} title="Upload an image" size="lg" closeOnClickOutside={!busy}>
      <form onSubmit={(e) => { e.preventDefault(); void submit(); }} noValidate>
        <Stack gap="sm">
          {phase.kind === 'done' ? (
            <Alert color="green" title={`${phase.name} uploaded`}>
              <Text size="sm">qemu-img converts it into version 1 now: <JobLink jobId={phase.jobId}>follow the conversion</JobLink>.</Text>
            </Alert>
          ) : (
            <>
              <FileInput label="Disk image" description="raw, qcow2, VHD/VHDX or VMDK; detected from the contents, never from the name" placeholder="Choose a file" value={file} onChange={chooseFile} disabled={busy} clearable />
              <TextInput label="Name" required value={name} error={nameError} disabled={busy} onChange={(e) => { setName(e.currentTarget.value); setNameError(null); }} autoComplete="off" />
              <TextInput label="Comment" description="Optional: the first version's description" value={comment} disabled={busy} onChange={(e) => setComment(e.currentTarget.value)} maxLength={500} />
            </>
          )}
          {phase.kind === 'hashing' && <Text size="sm" c="dimmed">Computing SHA-256…</Text>}
          {hashNote && phase.kind !== 'done' && <Text size="xs" c="dimmed">{hashNote}</Text>}
          {phase.kind === 'sending' && (
            <Stack gap={4}>
              <Progress value={pct} animated aria-label={`Upload ${pct}%`} />
              <Text size="xs" c="dimmed">{formatBytes(phase.sent)} of {formatBytes(phase.total)} · {pct}%{pct === 100 ? ' · the server checks the image…' : ''}</Text>
            </Stack>
          )}
          {error && <Alert color="red" title="The upload was refused">{error}</Alert>}
          <Group justify="flex-end">
            {phase.kind === 'done' ? (
              <Button onClick={close}>Close</Button>
            ) : (
              <>
                <Button variant="default" onClick={close}>{busy ? 'Cancel upload' : 'Cancel'}</Button>
                <Button type="submit" loading={busy} disabled={!file}>Upload</Button>
              </>
            )}
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
