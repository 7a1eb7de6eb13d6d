import { Alert, Anchor, Button, Card, Group, Select, Stack, Text, TextInput, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ConfirmDialog, JobLink, StatusBadge, api, call, errorText, formatRelative, notifySuccess, useCan, type ApiData } from '@slipway/web';
import { fieldErrors, type Version } from './api';

type Edits = ApiData<'/api/v1/netboot/images/{id}/edits', 'get'>;
type Edit = Edits['items'][number];
const ACTIVE: Edit['state'][] = ['starting', 'running', 'stopped', 'committing'];

/**
 * "Edit image as VM": boots a version on an overlay through the vps module (the `vm-disk-editor`
 * capability), links to the VM's console, and commits the result as a new version with a comment
 * or discards it. When no editor is available the card says why and offers nothing.
 */
export function EditAsVmCard({ imageId, versions }: { imageId: string; versions: Version[] }) {
  const qc = useQueryClient();
  const canManage = useCan('netboot.manage');
  const key = ['netboot', 'edits', imageId];
  const q = useQuery({ queryKey: key, queryFn: () => call(api.GET('/api/v1/netboot/images/{id}/edits', { params: { path: { id: imageId } } })), refetchInterval: 4000 });
  const [versionId, setVersionId] = useState<string | null>(null);
  const [comment, setComment] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState<string | null>(null);
  const [jobId, setJobId] = useState<string | null>(null);
  const [discarding, setDiscarding] = useState<Edit | null>(null);
  const refresh = () => qc.invalidateQueries({ queryKey: ['netboot'] });
  const editor = q.data?.editor;
  const active = q.data?.items.find((e) => ACTIVE.includes(e.state));
  const last = q.data?.items.find((e) => !ACTIVE.includes(e.state));

  const start = async () => {
    setBusy('start');
    setErrors({});
    try {
      const r = await call(api.POST('/api/v1/netboot/images/{id}/edits', { params: { path: { id: imageId } }, body: versionId ? { versionId } : {} }));
      setJobId(r.job.id);
      notifySuccess('Starting the edit VM');
      await refresh();
    } catch (e) {
      const f = fieldErrors(e);
      setErrors(Object.keys(f).length ? f : { start: errorText(e) });
    } finally {
      setBusy(null);
    }
  };
  const commit = async (e: Edit) => {
    setBusy('commit');
    setErrors({});
    try {
      const r = await call(api.POST('/api/v1/netboot/edits/{id}/commit', { params: { path: { id: e.id } }, body: { comment } }));
      setJobId(r.job.id);
      setComment('');
      notifySuccess('Committing the edit as a new version');
      await refresh();
    } catch (err) {
      const f = fieldErrors(err);
      setErrors(Object.keys(f).length ? f : { comment: errorText(err) });
    } finally {
      setBusy(null);
    }
  };

  return (
    <Card withBorder mb="md" data-testid="edit-as-vm">
      <Title order={5} mb="xs">Edit image as VM</Title>
      {!editor ? <Text size="sm" c="dimmed">Loading…</Text> : !editor.available ? (
        <Alert color="gray" title="Not available" data-testid="editor-unavailable">
          <Text size="sm">{editor.reason}</Text>
        </Alert>
      ) : active ? (
        <Stack gap="sm">
          <Group gap="xs">
            <Text size="sm">Editing v{active.versionNumber ?? '?'} ·</Text>
            <StatusBadge status={active.state === 'running' ? 'running' : active.state === 'stopped' ? 'stopped' : active.state} label={active.state} />
            {active.vm && <Text size="xs" c="dimmed">VM: {active.vm.state}</Text>}
            <Text size="xs" c="dimmed">since {formatRelative(active.createdAt)}</Text>
            {jobId && <JobLink jobId={jobId}>job</JobLink>}
          </Group>
          {active.consoleUrl && <Anchor href={active.consoleUrl} size="sm" data-testid="edit-console">Open the VM console (vps)</Anchor>}
          {active.error && <Text size="sm" c="red">{active.error}</Text>}
          <Text size="sm">Changes go to an overlay; version {active.versionNumber ?? '?'} is never written. Commit shuts the VM down and saves the disk as a new version.</Text>
          {canManage && (
            <Group align="flex-start">
              <TextInput label="Comment" placeholder="What changed (required)" value={comment} onChange={(e) => setComment(e.currentTarget.value)} error={errors.comment} style={{ flex: 1 }} maxLength={500} />
              <Button mt={24} loading={busy === 'commit'} disabled={active.state === 'committing' || active.state === 'starting'} onClick={() => void commit(active)}>Commit as new version</Button>
              <Button mt={24} color="red" variant="light" disabled={active.state === 'committing' || active.state === 'starting'} onClick={() => setDiscarding(active)}>Discard…</Button>
            </Group>
          )}
        </Stack>
      ) : (
        <Stack gap="sm">
          <Text size="sm">Boot a version as a temporary VM ({editor.provider} module), install or change things in its console, then commit it as a new version with a comment.</Text>
          {last && <Text size="xs" c="dimmed">Last edit: {last.state}{last.committedVersionId ? ` as v${versions.find((v) => v.id === last.committedVersionId)?.number ?? '?'}` : ''}, {formatRelative(last.updatedAt)}</Text>}
          {canManage && (
            <Group align="flex-start">
              <Select label="Version" placeholder="latest" data={versions.map((v) => ({ value: v.id, label: `v${v.number} · ${v.comment}` }))} value={versionId} onChange={setVersionId} error={errors.versionId} clearable w={280} />
              <Button mt={24} loading={busy === 'start'} onClick={() => void start()}>Edit image as VM</Button>
            </Group>
          )}
          {errors.start && <Text size="sm" c="red" data-testid="edit-error">{errors.start}</Text>}
        </Stack>
      )}
      <ConfirmDialog
        opened={!!discarding}
        onClose={() => setDiscarding(null)}
        title="Discard this edit?"
        message="The VM is stopped and everything changed in it is thrown away. The image is unchanged."
        confirmLabel="Discard edit"
        onConfirm={async () => {
          await call(api.POST('/api/v1/netboot/edits/{id}/discard', { params: { path: { id: discarding!.id } } }));
          notifySuccess('Edit discarded');
          await refresh();
        }}
      />
    </Card>
  );
}
