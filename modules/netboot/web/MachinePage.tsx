import { ActionIcon, Alert, Anchor, Button, Card, Code, CopyButton, Group, Modal, Select, SimpleGrid, Stack, Switch, Text, Textarea, Title, Tooltip } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate } from '@tanstack/react-router';
import { useState } from 'react';
import {
  ConfirmDialog, DataTable, JobLink, JobProgress, PageError, PageHeader, StatusBadge, api, call, formatBytes, formatRelative, formatTime, icons,
  notifyError, notifySuccess, useCan, useJobLog, useLiveInvalidate, usePageParams, type ApiBody,
} from '@slipway/web';
import { bootModeLabel, type Image, type Machine, type Session } from './api';
import { Fact, MachineStatusBadge, NetbootNav } from './components';
import { useImages, useVersionLabels } from './hooks';
import { ChapCard } from './ChapCard';
import { MachineForm } from './MachineForm';

/** One machine: live status, session start/stop, writeback keep/commit/discard, script URL, edit, boot history. */
export default function MachinePage() {
  const { machineId } = usePageParams() as { machineId: string };
  const navigate = useNavigate();
  const qc = useQueryClient();
  const canManage = useCan('netboot.manage');
  const canOperate = useCan('netboot.operate');
  const [jobId, setJobId] = useState<string | undefined>();
  const [busy, setBusy] = useState<string | null>(null);
  const [committing, setCommitting] = useState(false);
  const [discarding, setDiscarding] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [editing, setEditing] = useState(false);
  const [rotating, setRotating] = useState(false);
  const key = ['netboot', 'machines', machineId];
  useLiveInvalidate(['netboot.', 'job.updated'], [['netboot']]);
  const q = useQuery({ queryKey: key, queryFn: () => call(api.GET('/api/v1/netboot/machines/{id}', { params: { path: { id: machineId } } })), refetchInterval: 5000 });
  const images = useImages();
  const m = q.data?.machine;
  const labels = useVersionLabels(images.data?.items);

  const byId = { params: { path: { id: machineId } } };
  const refresh = () => qc.invalidateQueries({ queryKey: ['netboot'] });
  const startJob = async (what: string, run: () => Promise<{ job: { id: string; title: string } }>) => {
    setBusy(what);
    try {
      const r = await run();
      setJobId(r.job.id);
      notifySuccess(r.job.title);
      await refresh();
      return true;
    } catch (e) {
      notifyError(e);
      return false;
    } finally {
      setBusy(null);
    }
  };
  const patch = async (body: ApiBody<'/api/v1/netboot/machines/{id}', 'patch'>) => {
    await call(api.PATCH('/api/v1/netboot/machines/{id}', { ...byId, body }));
    await refresh();
  };

  if (q.error) return <PageError error={q.error} what="machine" backTo="/netboot" />;
  if (!m) return <PageHeader title="Machine" description="Loading…" />;
  const active = m.session && ['starting', 'ready', 'stopping'].includes(m.session.state) ? m.session : null;
  const image = images.data?.items.find((i) => i.id === m.imageId);
  const versionNumber = (id: string | null | undefined) => (id ? labels.get(id)?.number : undefined);
  const eff = versionNumber(m.effectiveVersionId);
  const redacted = m.ipxeScriptUrl.includes('[redacted]');
  const canSession = m.state === 'active' && m.bootMode !== 'local' && !!m.effectiveVersionId;

  return (
    <>
      <PageHeader
        title={m.name}
        description={<>{m.mac}{m.fixedIp ? ` · ${m.fixedIp}` : ''}{m.group ? ` · ${m.group}` : ''} · <Anchor component={Link} to="/netboot" size="sm">all machines</Anchor></>}
        actions={
          <Group gap="xs">
            <MachineStatusBadge status={m.status} />
            {canOperate && !active && (
              <Tooltip label={!canSession ? (m.state !== 'active' ? 'Approve the machine first' : m.bootMode === 'local' ? 'It boots its local disk' : 'Assign an image first') : 'Prepare its writeback, export and iSCSI target now (it also starts on demand when the machine fetches its script)'} withArrow>
                <Button leftSection={<icons.play size={16} />} loading={busy === 'start'} disabled={!canSession} onClick={() => void startJob('start', () => call(api.POST('/api/v1/netboot/machines/{id}/session', byId)))}>Start session</Button>
              </Tooltip>
            )}
            {canOperate && active && (
              <Button variant="default" leftSection={<icons.pause size={16} />} loading={busy === 'stop'} disabled={active.state === 'stopping'} onClick={() => void startJob('stop', () => call(api.DELETE('/api/v1/netboot/machines/{id}/session', byId)))}>Stop session</Button>
            )}
            {canOperate && (
              <Tooltip label="Send a wake-on-LAN magic packet to its MAC (the machine's firmware must have wake-on-LAN enabled)" withArrow>
                <Button variant="default" loading={busy === 'wake'} onClick={() => {
                  setBusy('wake');
                  void call(api.POST('/api/v1/netboot/machines/{id}/wake', byId))
                    .then((r) => notifySuccess(`Wake-on-LAN packet sent to ${r.sent.address}:${r.sent.port}`), notifyError)
                    .finally(() => setBusy(null));
                }}>Wake</Button>
              </Tooltip>
            )}
            {canManage && <Button variant="default" onClick={() => setEditing(true)}>Edit</Button>}
            {canManage && <Button color="red" variant="light" leftSection={<icons.trash size={16} />} disabled={!!active} onClick={() => setDeleting(true)}>Delete</Button>}
          </Group>
        }
      />
      <NetbootNav active="/netboot" />
      {m.state === 'pending' && <PendingAlert machine={m} images={images.data?.items ?? []} canManage={canManage} onApprove={patch} />}
      {jobId && <JobCard key={jobId} jobId={jobId} />}
      {m.session?.state === 'failed' && m.session.error && <Alert color="red" mb="md" title="The last session failed">{m.session.error}</Alert>}

      <SimpleGrid cols={{ base: 2, md: 4 }} mb="md">
        <Fact label="Status" value={m.status} hint={m.connections.length ? `since ${formatRelative(Math.min(...m.connections.map((c) => c.since)))}` : m.status === 'booting' ? `script fetched ${formatRelative(m.lastScriptAt)}` : undefined} />
        <Fact label="Image" value={image ? <Anchor component={Link} to={`/netboot/images/${encodeURIComponent(image.id)}`} fw={600}>{image.name}{eff ? ` v${eff}` : ''}</Anchor> : '—'} />
        <Fact label="Writeback" value={m.writeback ? formatBytes(m.writeback.bytes) : 'none'} />
        <Fact label="Last boot" value={formatRelative(m.lastBootAt)} />
      </SimpleGrid>

      <SimpleGrid cols={{ base: 1, md: 2 }} mb="md">
        <Card withBorder>
          <Title order={5} mb="xs">Boot</Title>
          <Stack gap={6}>
            <Text size="sm">Boot mode: <b>{bootModeLabel(m.bootMode)}</b></Text>
            <Text size="sm">Version: {m.imageId ? (m.versionId ? <>pinned to <b>v{versionNumber(m.versionId) ?? '?'}</b> (rollback)</> : <>follows the latest (<b>v{eff ?? '?'}</b>)</>) : 'no image assigned'}</Text>
            <Text size="sm">Session: {m.session ? <><StatusBadge status={m.session.state === 'ready' ? 'running' : m.session.state} label={m.session.state} /> since {formatRelative(m.session.startedAt)}{m.session.jobId ? <> · <JobLink jobId={m.session.jobId}>job</JobLink></> : null}</> : 'none'}</Text>
            {m.connections.map((c) => (
              <div key={`${c.initiator}-${c.address}`}>
                <Text size="sm">iSCSI login from <b>{c.address}</b>, {formatRelative(c.since)}</Text>
                <Text size="xs" c="dimmed">as <Code>{c.initiator}</Code></Text>
              </div>
            ))}
            <Text size="sm">Script fetched: {formatRelative(m.lastScriptAt)}</Text>
            <Text size="sm">Target: <Code>{m.targetIqn}</Code></Text>
            <Text size="sm">Initiator: <Code>{m.initiatorIqn}</Code></Text>
            <Text size="sm" mt={4}>iPXE script URL</Text>
            <Group gap={4} wrap="nowrap">
              <Code block style={{ flex: 1, wordBreak: 'break-all', whiteSpace: 'pre-wrap' }} data-testid="ipxe-url">{m.ipxeScriptUrl}</Code>
              {!redacted && (
                <CopyButton value={m.ipxeScriptUrl}>
                  {({ copied, copy }) => (
                    <Tooltip label={copied ? 'Copied' : 'Copy the URL'} withArrow>
                      <ActionIcon variant="default" aria-label="Copy the script URL" onClick={copy}>{copied ? '✓' : <CopyIcon />}</ActionIcon>
                    </Tooltip>
                  )}
                </CopyButton>
              )}
            </Group>
            {redacted && <Text size="xs" c="dimmed">The token is shown to users with netboot.manage only.</Text>}
            {canManage && <Group><Button size="xs" variant="light" onClick={() => setRotating(true)}>Rotate token…</Button></Group>}
          </Stack>
        </Card>
        <Card withBorder>
          <Title order={5} mb="xs">Writeback</Title>
          <Stack gap="sm">
            <Text size="sm">
              The machine's writes land in its own copy-on-write writeback; the image is never written.
              {m.writeback ? <> It holds <b>{formatBytes(m.writeback.bytes)}</b> on v{versionNumber(m.writeback.versionId) ?? '?'}.</> : ' There is none now.'}
            </Text>
            <Switch label="Keep the writeback across boots" description={m.keepWriteback ? 'Kept: the next boot continues with these writes' : 'Discarded when the session stops'} checked={m.keepWriteback}
              disabled={!canManage || busy === 'keep'} onChange={(e) => {
                const on = e.currentTarget.checked;
                setBusy('keep');
                void patch({ keepWriteback: on }).catch(notifyError).finally(() => setBusy(null));
              }} />
            {canOperate && (
              <Group gap="xs">
                <Button size="sm" disabled={!m.writeback} onClick={() => setCommitting(true)}>Commit as new version…</Button>
                <Tooltip label={active ? 'Stop the session first: it is using the writeback' : 'Throw the writes away'} withArrow>
                  <Button size="sm" color="red" variant="light" disabled={!m.writeback || !!active} onClick={() => setDiscarding(true)}>Discard</Button>
                </Tooltip>
              </Group>
            )}
          </Stack>
        </Card>
      </SimpleGrid>
      <ChapCard machine={m} onChanged={refresh} />
      {m.notes && <Card withBorder mb="md"><Text size="xs" c="dimmed">Notes</Text><Text size="sm" style={{ whiteSpace: 'pre-wrap' }}>{m.notes}</Text></Card>}

      <Title order={4} mb="xs">Boot history</Title>
      <DataTable
        rows={m.history}
        rowKey={(s) => s.id}
        empty={<Text p="md" size="sm" c="dimmed">No sessions yet.</Text>}
        columns={[
          { key: 'at', header: 'Started', render: (s: Session) => formatTime(s.startedAt) },
          { key: 'state', header: 'State', render: (s: Session) => <StatusBadge status={s.state === 'ready' ? 'running' : s.state} label={s.state} /> },
          { key: 'version', header: 'Version', render: (s: Session) => (versionNumber(s.versionId) ? `v${versionNumber(s.versionId)}` : s.versionId.slice(0, 8)) },
          { key: 'ready', header: 'Ready', hideOnMobile: true, render: (s: Session) => (s.readyAt ? `${((s.readyAt - s.startedAt) / 1000).toFixed(1)} s` : '—') },
          { key: 'stopped', header: 'Ended', hideOnMobile: true, render: (s: Session) => formatTime(s.stoppedAt) },
          { key: 'job', header: '', render: (s: Session) => <Group gap={6}>{s.jobId ? <JobLink jobId={s.jobId}>job</JobLink> : null}{s.error ? <Text size="xs" c="red">{s.error}</Text> : null}</Group> },
        ]}
      />

      <Modal opened={editing} onClose={() => setEditing(false)} title={`Edit ${m.name}`} size="lg">
        <MachineForm initial={m} submitLabel="Save" onCancel={() => setEditing(false)} onSubmit={async (body) => {
          await patch(body);
          notifySuccess('Saved');
          setEditing(false);
        }} />
      </Modal>
      <CommitDialog opened={committing} onClose={() => setCommitting(false)} machine={m} onCommit={async (comment) => {
        if (await startJob('commit', () => call(api.POST('/api/v1/netboot/machines/{id}/writeback/commit', { ...byId, body: { comment } })))) setCommitting(false);
      }} />
      <ConfirmDialog
        opened={discarding}
        onClose={() => setDiscarding(false)}
        title={`Discard the writeback of ${m.name}?`}
        message={<>Its {m.writeback ? formatBytes(m.writeback.bytes) : ''} of writes are thrown away; the next boot starts from the image. This cannot be undone.</>}
        confirmLabel="Discard writeback"
        onConfirm={async () => {
          await call(api.POST('/api/v1/netboot/machines/{id}/writeback/discard', byId));
          notifySuccess('Writeback discarded');
          await refresh();
        }}
      />
      <ConfirmDialog
        opened={rotating}
        onClose={() => setRotating(false)}
        title={`Rotate the boot token of ${m.name}?`}
        message="The current script URL stops working at once (it gets the unknown-machine menu) and the dnsmasq config is rewritten with the new one. Machines that chain the URL from somewhere else than this panel's dnsmasq need the new URL."
        confirmLabel="Rotate token"
        onConfirm={async () => {
          await call(api.POST('/api/v1/netboot/machines/{id}/token', byId));
          notifySuccess('Boot token rotated');
          await refresh();
        }}
      />
      <ConfirmDialog
        opened={deleting}
        onClose={() => setDeleting(false)}
        title={`Delete ${m.name}?`}
        message="The machine, its script and its writeback are removed. Its MAC gets the unknown-machine menu again."
        typeToConfirm={m.name}
        confirmLabel="Delete machine"
        onConfirm={async () => {
          await call(api.DELETE('/api/v1/netboot/machines/{id}', byId));
          notifySuccess(`${m.name} deleted`);
          await qc.invalidateQueries({ queryKey: ['netboot', 'machines'] });
          void navigate({ to: '/netboot' });
        }}
      />
    </>
  );
}

/** The last job started from this page (session start/stop, commit), followed live. */
function JobCard({ jobId }: { jobId: string }) {
  const { job } = useJobLog(jobId);
  if (!job) return null;
  return (
    <Card withBorder mb="md">
      <JobProgress job={job} compact />
      <Group justify="flex-end" mt={4}><JobLink jobId={jobId}>Open the job log</JobLink></Group>
    </Card>
  );
}

/** Commit needs a comment (one line): it becomes the new version's description in the history. */
export function CommitDialog({ opened, onClose, machine, onCommit }: { opened: boolean; onClose(): void; machine: Machine; onCommit(comment: string): Promise<void> }) {
  const [comment, setComment] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    const c = comment.trim();
    if (!c) return setError('A comment is required: say what changed in this version');
    if (c.length > 500) return setError('At most 500 characters');
    if (/[\0-\x1f\x7f]/.test(c)) return setError('One line, no control characters');
    setBusy(true);
    try {
      await onCommit(c);
      setComment('');
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal opened={opened} onClose={onClose} title={`Commit the writeback of ${machine.name}`}>
      <form onSubmit={(e) => { e.preventDefault(); void submit(); }} noValidate>
        <Stack gap="sm">
          <Text size="sm">The image plus this machine's {machine.writeback ? formatBytes(machine.writeback.bytes) : ''} of writes become a new, self-contained version. The current version is not changed; {machine.session ? 'the machine keeps running.' : 'machines that follow the latest version boot it next time.'}</Text>
          <Textarea label="Comment" required rows={2} value={comment} error={error} data-autofocus
            onChange={(e) => { setComment(e.currentTarget.value.replace(/\n/g, ' ')); setError(null); }} placeholder="e.g. installed the driver update" />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose} disabled={busy}>Cancel</Button>
            <Button type="submit" loading={busy}>Commit</Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** A machine that registered itself by booting with an unknown MAC: approve it with an image. */
function PendingAlert({ machine, images, canManage, onApprove }: { machine: Machine; images: Image[]; canManage: boolean; onApprove(body: Record<string, unknown>): Promise<void> }) {
  const [imageId, setImageId] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <Alert color="orange" mb="md" title="Pending approval">
      <Stack gap="xs">
        <Text size="sm">This machine registered itself by booting with an unknown MAC. It boots nothing until it is approved with an image.</Text>
        {canManage && (
          <Group gap="xs" align="flex-end">
            <Select aria-label="Image for approval" placeholder="Choose an image" data={images.filter((i) => i.status === 'ready').map((i) => ({ value: i.id, label: i.name }))} value={imageId} onChange={setImageId} w={220} />
            <Button disabled={!imageId} loading={busy} onClick={() => {
              setBusy(true);
              void onApprove({ state: 'active', imageId }).then(() => notifySuccess(`${machine.name} approved`), notifyError).finally(() => setBusy(false));
            }}>Approve</Button>
          </Group>
        )}
      </Stack>
    </Alert>
  );
}

function CopyIcon() {
  return (
    <svg width={16} height={16} viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth={2} strokeLinecap="round" strokeLinejoin="round" aria-hidden="true">
      <rect x="9" y="9" width="11" height="11" rx="2" /><path d="M5 15V5a2 2 0 0 1 2-2h10" />
    </svg>
  );
}
