import { Alert, Badge, Button, Card, Group, Stack, Switch, Text, TextInput, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ConfirmDialog, DataTable, api, call, errorText, formatTime, icons, notifyError, useCan, type ApiBody } from '@slipway/web';
import {
  appKey, appParams, fieldErrors, hostnameProblem, portMapProblem, portMapString, type App, type PortMap, type ShowJob,
} from './api';

const DAY = 86_400_000;

function messageOf(e: unknown): string {
  const f = fieldErrors(e);
  return Object.values(f)[0] ?? errorText(e);
}

/** The app's domains (each claimed for the app's owner) and its Let's Encrypt certificate. */
export function DomainsTab({ app: a, showJob }: { app: App; showJob: ShowJob }) {
  const key = appKey(a.host, a.name);
  const qc = useQueryClient();
  const canConfigure = useCan('apps.configure');
  const domains = useQuery({ queryKey: [...key, 'domains'], queryFn: () => call(api.GET('/api/v1/apps/{name}/domains', { params: appParams(a.name, a.host) })).then((r) => r.domains) });
  const le = useQuery({ queryKey: [...key, 'letsencrypt'], queryFn: () => call(api.GET('/api/v1/apps/{name}/letsencrypt', { params: appParams(a.name, a.host) })) });
  const [adding, setAdding] = useState('');
  const [addError, setAddError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [removing, setRemoving] = useState<string | null>(null);
  const [leConfirm, setLeConfirm] = useState<boolean | null>(null);
  const local = adding ? hostnameProblem(adding) : null;

  const change = async (body: ApiBody<'/api/v1/apps/{name}/domains', 'patch'>) => {
    const r = await call(api.PATCH('/api/v1/apps/{name}/domains', { params: appParams(a.name, a.host), body }));
    qc.setQueryData([...key, 'domains'], r.domains);
    void qc.invalidateQueries({ queryKey: [...key, 'view'] });
  };
  const add = async () => {
    if (!adding || local) return;
    setBusy(true);
    setAddError(null);
    try {
      await change({ add: [adding.trim().toLowerCase()] });
      setAdding('');
    } catch (e) {
      setAddError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  const expires = le.data?.expiresAt ?? null;
  const days = expires === null ? null : Math.floor((expires - Date.now()) / DAY);
  return (
    <Stack>
      <Title order={4}>Domains</Title>
      <DataTable
        rows={domains.data?.map((d) => ({ d }))}
        loading={domains.isLoading}
        error={domains.error}
        rowKey={(r) => r.d}
        empty={<Text p="md" size="sm" c="dimmed">No domains: the app answers at {a.url ?? 'its default host name'} only.</Text>}
        columns={[
          { key: 'd', header: 'Host name', render: (r) => <Text size="sm" ff="monospace">{r.d}</Text> },
          { key: 'x', header: '', render: (r) => canConfigure && <Group justify="flex-end"><Button size="compact-xs" color="red" variant="light" onClick={() => setRemoving(r.d)}>Remove</Button></Group> },
        ]}
      />
      {canConfigure && (
        <form onSubmit={(e) => { e.preventDefault(); void add(); }}>
          <Group align="flex-start">
            <TextInput aria-label="New domain" placeholder="app.example.com" value={adding} onChange={(e) => { setAdding(e.currentTarget.value); setAddError(null); }} error={addError ?? local} w={320} />
            <Button type="submit" variant="default" leftSection={<icons.plus size={16} />} loading={busy} disabled={!adding || !!local}>Add domain</Button>
          </Group>
        </form>
      )}

      <Title order={4} mt="md">TLS (Let's Encrypt)</Title>
      <Card withBorder>
        {le.error ? <Alert color="red">{(le.error as Error).message}</Alert> : !le.data ? <Text size="sm">Loading…</Text> : (
          <Stack gap="xs">
            <Group justify="space-between">
              <Group gap="xs">
                <Badge color={le.data.active ? 'green' : 'gray'} variant="light">{le.data.active ? 'certificate active' : 'no certificate'}</Badge>
                {days !== null && (
                  <Badge color={days < 0 ? 'red' : days <= 14 ? 'orange' : 'green'} variant="light">{days < 0 ? 'expired' : `${days} days left`}</Badge>
                )}
              </Group>
              {canConfigure && (
                <Switch label="Let's Encrypt" checked={le.data.active} onChange={(e) => setLeConfirm(e.currentTarget.checked)} disabled={!le.data.active && !(domains.data?.length)} />
              )}
            </Group>
            <Text size="sm">{expires ? `Expires ${formatTime(expires)}; Dokku renews it before then.` : le.data.active ? 'Expiry not reported yet.' : 'Enable it once the domains point at the Dokku host.'}</Text>
            {le.data.email && <Text size="xs" c="dimmed">Contact e-mail: {le.data.email}</Text>}
            {!le.data.active && !domains.data?.length && <Text size="xs" c="dimmed">Add a domain first.</Text>}
          </Stack>
        )}
      </Card>

      <ConfirmDialog
        opened={!!removing}
        onClose={() => setRemoving(null)}
        title={removing ? `Remove ${removing}?` : ''}
        message="The app stops answering on this host name."
        confirmLabel="Remove"
        onConfirm={async () => {
          if (removing) await change({ remove: [removing] });
        }}
      />
      <ConfirmDialog
        opened={leConfirm !== null}
        onClose={() => setLeConfirm(null)}
        title={leConfirm ? 'Enable Let\'s Encrypt?' : 'Disable Let\'s Encrypt?'}
        message={leConfirm ? 'Dokku asks Let\'s Encrypt for a certificate for every domain of the app (HTTP validation: they must point at the host).' : 'The app is served over plain HTTP again.'}
        danger={!leConfirm}
        confirmLabel={leConfirm ? 'Enable' : 'Disable'}
        onConfirm={async () => {
          try {
            const { job } = await call(api.PUT('/api/v1/apps/{name}/letsencrypt', { params: appParams(a.name, a.host), body: { enabled: !!leConfirm } }));
            showJob(job, `${leConfirm ? 'Enable' : 'Disable'} Let's Encrypt`);
          } catch (e) {
            notifyError(e);
          }
        }}
      />
    </Stack>
  );
}

/** Port maps (scheme:host-port:container-port); Dokku's own refusals are shown at the field. */
export function PortsTab({ app: a }: { app: App }) {
  const key = appKey(a.host, a.name);
  const qc = useQueryClient();
  const canConfigure = useCan('apps.configure');
  const ports = useQuery({ queryKey: [...key, 'ports'], queryFn: () => call(api.GET('/api/v1/apps/{name}/ports', { params: appParams(a.name, a.host) })) });
  const [adding, setAdding] = useState('');
  const [addError, setAddError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [clearing, setClearing] = useState(false);
  const local = adding ? portMapProblem(adding.trim()) : null;

  const change = async (body: ApiBody<'/api/v1/apps/{name}/ports', 'patch'>) => {
    const r = await call(api.PATCH('/api/v1/apps/{name}/ports', { params: appParams(a.name, a.host), body }));
    qc.setQueryData([...key, 'ports'], r);
  };
  const add = async () => {
    if (!adding || local) return;
    setBusy(true);
    setAddError(null);
    try {
      await change({ add: [adding.trim()] });
      setAdding('');
    } catch (e) {
      setAddError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  const remove = async (p: PortMap) => {
    try {
      await change({ remove: [portMapString(p)] });
    } catch (e) {
      notifyError(e);
    }
  };

  const cols = (removable: boolean) => [
    { key: 'scheme', header: 'Scheme', render: (p: PortMap) => p.scheme },
    { key: 'host', header: 'Host port', render: (p: PortMap) => p.hostPort },
    { key: 'container', header: 'Container port', render: (p: PortMap) => p.containerPort },
    ...(removable && canConfigure ? [{ key: 'x', header: '', render: (p: PortMap) => <Group justify="flex-end"><Button size="compact-xs" color="red" variant="light" onClick={() => void remove(p)}>Remove</Button></Group> }] : []),
  ];
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={4}>Port maps</Title>
        {canConfigure && !!ports.data?.map.length && <Button size="xs" variant="default" onClick={() => setClearing(true)}>Clear (use detected)</Button>}
      </Group>
      <DataTable rows={ports.data?.map} loading={ports.isLoading} error={ports.error} rowKey={portMapString} columns={cols(true)}
        empty={<Text p="md" size="sm" c="dimmed">None set: Dokku uses the detected ports below.</Text>} />
      {canConfigure && (
        <form onSubmit={(e) => { e.preventDefault(); void add(); }}>
          <Group align="flex-start">
            <TextInput aria-label="New port map" placeholder="http:80:5000" value={adding} onChange={(e) => { setAdding(e.currentTarget.value); setAddError(null); }} error={addError ?? local} w={320} ff="monospace" />
            <Button type="submit" variant="default" leftSection={<icons.plus size={16} />} loading={busy} disabled={!adding || !!local}>Add port map</Button>
          </Group>
        </form>
      )}
      <Title order={5} mt="md">Detected</Title>
      <DataTable rows={ports.data?.detected} loading={ports.isLoading} rowKey={portMapString} columns={cols(false)}
        empty={<Text p="md" size="sm" c="dimmed">Nothing detected (the app has not been deployed, or exposes no port).</Text>} />
      <ConfirmDialog
        opened={clearing}
        onClose={() => setClearing(false)}
        title="Clear the port maps?"
        message="Dokku falls back to the ports it detects from the image."
        confirmLabel="Clear"
        onConfirm={() => change({ clear: true })}
      />
    </Stack>
  );
}
