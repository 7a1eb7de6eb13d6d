import { Alert, Badge, Button, Code, Group, Modal, NumberInput, Stack, Text, TextInput } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ConfirmDialog, DataTable, PageHeader, StatusBadge, api, call, formatRelative, icons, notifyError, notifySuccess, useCan, useFieldErrors, type ApiData } from '@slipway/web';
import type { HostView } from './api';
import { ServerNav } from './ServerNav';

const CAPABILITY_LABELS: Record<string, string> = {
  wordops: 'WordOps', dokku: 'Dokku', docker: 'Docker', libvirt: 'libvirt', tgt: 'tgt (iSCSI)', systemd: 'systemd', journald: 'journald', netdata: 'Netdata', caddy: 'Caddy',
};

/** Hosts: the local one and remote ones over SSH, added after confirming their key's fingerprint. */
export default function HostsPage() {
  const qc = useQueryClient();
  const canManage = useCan('core.hosts.manage');
  const hosts = useQuery({ queryKey: ['hosts'], queryFn: async () => (await call(api.GET('/api/v1/hosts'))).items });
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<HostView | null>(null);
  const [repin, setRepin] = useState<{ host: HostView; fingerprint: string } | null>(null);
  const refresh = () => qc.invalidateQueries({ queryKey: ['hosts'] });

  const test = async (h: HostView) => {
    try {
      const r = await call(api.POST('/api/v1/hosts/{id}/test', { params: { path: { id: h.id } } }));
      if (r.ok) notifySuccess(`${h.name}: connected in ${r.latencyMs} ms (${r.system ?? ''})`);
      else notifyError(new Error(`${h.name}: ${r.status} — ${r.error?.message ?? ''}`));
      await refresh();
    } catch (e) {
      notifyError(e);
    }
  };
  /** The host now presents another key: show it next to the pinned one before anything is changed. */
  const reviewKey = async (h: HostView) => {
    try {
      const p = await call(api.POST('/api/v1/hosts/probe', { body: { address: h.address ?? '', port: h.port ?? undefined } }));
      setRepin({ host: h, fingerprint: p.fingerprint });
    } catch (e) {
      notifyError(e);
    }
  };
  const detect = async (h: HostView) => {
    try {
      await call(api.POST('/api/v1/hosts/{id}/capabilities', { params: { path: { id: h.id } } }));
      notifySuccess(`${h.name}: capabilities detected`);
      await refresh();
    } catch (e) {
      notifyError(e);
    }
  };

  return (
    <>
      <PageHeader
        title="Hosts"
        description="The panel's own machine and remote hosts reached over SSH with a pinned host key."
        actions={canManage && <Button leftSection={<icons.plus size={16} />} onClick={() => setAdding(true)}>Add host</Button>}
      />
      <ServerNav active="/server/hosts" />
      <DataTable
        rows={hosts.data}
        loading={hosts.isLoading}
        error={hosts.error}
        rowKey={(h) => h.id}
        columns={[
          { key: 'name', header: 'Name', render: (h) => <Text fw={600}>{h.id === 'local' ? 'This server (local)' : h.name}</Text> },
          { key: 'address', header: 'Address', hideOnMobile: true, render: (h) => (h.kind === 'local' ? '—' : `${h.username}@${h.address}:${h.port}`) },
          { key: 'status', header: 'Status', render: (h) => <StatusBadge status={h.status} /> },
          {
            key: 'caps',
            header: 'Offers',
            render: (h) => (
              <Group gap={4}>
                {Object.entries(h.capabilities).filter(([k, v]) => v && CAPABILITY_LABELS[k]).map(([k]) => <Badge key={k} variant="light" size="sm">{CAPABILITY_LABELS[k]}</Badge>)}
              </Group>
            ),
          },
          { key: 'key', header: 'Host key', hideOnMobile: true, render: (h) => (h.hostKeyFingerprint ? <Code>{h.hostKeyFingerprint}</Code> : '—') },
          { key: 'checked', header: 'Checked', hideOnMobile: true, render: (h) => formatRelative(h.lastCheckedAt) },
          {
            key: 'actions',
            header: '',
            render: (h) => canManage && (
              <Group gap="xs" wrap="nowrap">
                <Button size="xs" variant="default" onClick={() => void test(h)}>Test</Button>
                <Button size="xs" variant="default" onClick={() => void detect(h)}>Detect</Button>
                {h.status === 'host-key-mismatch' && <Button size="xs" color="orange" variant="light" onClick={() => void reviewKey(h)}>Review key</Button>}
                {h.kind === 'ssh' && <Button size="xs" color="red" variant="light" onClick={() => setRemoving(h)}>Remove</Button>}
              </Group>
            ),
          },
        ]}
      />
      <AddHostDialog opened={adding} onClose={() => setAdding(false)} onAdded={() => void refresh()} />
      <ConfirmDialog
        opened={!!repin}
        onClose={() => setRepin(null)}
        title={`The host key of ${repin?.host.name ?? ''} changed`}
        message={
          <Stack gap="xs">
            <Text size="sm">Pinned: <Code>{repin?.host.hostKeyFingerprint}</Code></Text>
            <Text size="sm">Now presented: <Code>{repin?.fingerprint}</Code></Text>
            <Text size="sm" c="red">Only continue if you know why it changed (reinstall, new host keys) and the new fingerprint matches the host's own.</Text>
          </Stack>
        }
        typeToConfirm={repin?.host.name}
        confirmLabel="Pin the new key"
        onConfirm={async () => {
          await call(api.PATCH('/api/v1/hosts/{id}', { params: { path: { id: repin!.host.id } }, body: { hostKeyFingerprint: repin!.fingerprint } }));
          notifySuccess(`${repin!.host.name}: new key pinned`);
          await refresh();
        }}
      />
      <ConfirmDialog
        opened={!!removing}
        onClose={() => setRemoving(null)}
        title={`Remove ${removing?.name ?? ''}?`}
        message="The panel stops managing this host. Nothing on the host itself is changed."
        typeToConfirm={removing?.name}
        confirmLabel="Remove host"
        onConfirm={async () => {
          await call(api.DELETE('/api/v1/hosts/{id}', { params: { path: { id: removing!.id } } }));
          notifySuccess(`${removing!.name} removed`);
          await refresh();
        }}
      />
    </>
  );
}

/** Two steps: probe the key, let the operator compare the fingerprint, then add with it pinned. */
function AddHostDialog({ opened, onClose, onAdded }: { opened: boolean; onClose(): void; onAdded(): void }) {
  const [address, setAddress] = useState('');
  const [port, setPort] = useState<number>(22);
  const [name, setName] = useState('');
  const [username, setUsername] = useState('root');
  const [probe, setProbe] = useState<ApiData<'/api/v1/hosts/probe', 'post'> | null>(null);
  const [busy, setBusy] = useState(false);
  const fields = useFieldErrors();
  /** Field problems next to their fields; the rest (and other errors) in a toast. */
  const fail = (e: unknown, names: string[]) => {
    const { handled, rest } = fields.take(e, names);
    if (!handled) notifyError(e);
    else if (rest) notifyError(new Error(rest), 'Check the form');
  };
  const reset = () => {
    fields.clear();
    setProbe(null);
    setAddress('');
    setName('');
    onClose();
  };
  const doProbe = async () => {
    setBusy(true);
    try {
      setProbe(await call(api.POST('/api/v1/hosts/probe', { body: { address, port } })));
      if (!name) setName(address.toLowerCase().replace(/[^a-z0-9.-]/g, '-'));
      fields.clear();
    } catch (e) {
      fail(e, ['address', 'port']);
    } finally {
      setBusy(false);
    }
  };
  const add = async () => {
    setBusy(true);
    try {
      await call(api.POST('/api/v1/hosts', { body: { name, address, port, username, hostKeyFingerprint: probe!.fingerprint } }));
      notifySuccess(`${name} added`);
      onAdded();
      reset();
    } catch (e) {
      fail(e, ['name', 'address', 'port', 'username']);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal opened={opened} onClose={reset} title="Add a host over SSH" size="lg">
      <Stack>
        <Group grow>
          <TextInput label="Address" placeholder="web1.example.com or 10.0.0.5" value={address} onChange={(e) => { setAddress(e.currentTarget.value); fields.clear('address'); }} disabled={!!probe} error={fields.errors.address} />
          <NumberInput label="SSH port" value={port} min={1} max={65535} onChange={(v) => { setPort(Number(v) || 22); fields.clear('port'); }} disabled={!!probe} error={fields.errors.port} />
        </Group>
        {!probe ? (
          <Button onClick={() => void doProbe()} loading={busy} disabled={!address}>Fetch host key</Button>
        ) : (
          <>
            <Alert color="yellow" title="Compare the fingerprint before you continue">
              <Text size="sm">The host presents this {probe.keyType} key:</Text>
              <Code block data-testid="probed-fingerprint">{probe.fingerprint}</Code>
              <Text size="sm" mt="xs">On the host, <Code>ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</Code> must print the same. It is pinned: a changed key will be refused.</Text>
            </Alert>
            <Text size="sm">Add the panel's public key to <Code>~/.ssh/authorized_keys</Code> of the user below:</Text>
            <Code block>{probe.panelPublicKey}</Code>
            <Group grow>
              <TextInput label="Name" value={name} onChange={(e) => { setName(e.currentTarget.value); fields.clear('name'); }} error={fields.errors.name} />
              <TextInput label="User" value={username} onChange={(e) => { setUsername(e.currentTarget.value); fields.clear('username'); }} error={fields.errors.username} />
            </Group>
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setProbe(null)}>Back</Button>
              <Button onClick={() => void add()} loading={busy} disabled={!name}>The fingerprint matches: add host</Button>
            </Group>
          </>
        )}
      </Stack>
    </Modal>
  );
}
