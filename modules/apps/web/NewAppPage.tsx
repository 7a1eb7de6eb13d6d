import { Alert, Button, Group, Paper, Select, Stack, Text, TextInput } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useState } from 'react';
import { ApiError, PageHeader, api, call, errorText, notifySuccess, otherIssuesText, useCan } from '@slipway/web';
import { appNameProblem, fieldErrors } from './api';

/** Create an app (`apps:create` is quick: answered directly, no job); then its page offers the first deploy. */
export default function NewAppPage() {
  const navigate = useNavigate();
  const qc = useQueryClient();
  const canCreate = useCan('apps.deploy');
  const [name, setName] = useState('');
  const [touched, setTouched] = useState(false);
  const [serverError, setServerError] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // Apps can live on several Dokku hosts (this machine, or hosts reached over SSH): pick one.
  const hosts = useQuery({ queryKey: ['apps', 'hosts'], queryFn: () => call(api.GET('/api/v1/apps/-/hosts')).then((r) => r.items), enabled: canCreate, refetchOnMount: 'always' });
  const [hostId, setHostId] = useState<string | null>(null);
  const [hostError, setHostError] = useState<string | null>(null);
  const host = hostId ?? hosts.data?.find((h) => h.default)?.id ?? hosts.data?.[0]?.id ?? null;
  const local = appNameProblem(name);
  const error = serverError ?? (touched || name ? local : null);

  const submit = async () => {
    setTouched(true);
    setServerError(null);
    setHostError(null);
    setProblem(null);
    if (local) return;
    if (hosts.data && !hosts.data.length) {
      setHostError('No Dokku host is configured: an administrator adds one (SLIPWAY_APPS_HOSTS, or a host with the dokku capability)');
      return;
    }
    setBusy(true);
    try {
      const { app } = await call(api.POST('/api/v1/apps', { body: { name, ...(host && (hosts.data?.length ?? 0) > 1 ? { hostId: host } : {}) } }));
      notifySuccess(`App ${app.name} created`);
      await qc.invalidateQueries({ queryKey: ['apps'] });
      void navigate({ to: '/apps/$appName', params: { appName: app.name }, search: app.host === 'local' ? {} : { host: app.host } } as never);
    } catch (e) {
      const fields = fieldErrors(e);
      setProblem(otherIssuesText(e, ['name', 'hostId'])); // what no field of this form shows, said plainly
      if (fields.hostId) setHostError(fields.hostId);
      // The host is not a Dokku host (any more), or cannot be found: the host field says so.
      else if (e instanceof ApiError && (e.code === 'host_without_dokku' || e.code === 'not_ssh_host' || (e.status === 404 && /host/i.test(e.message)))) setHostError(e.message);
      else if (fields.name) setServerError(fields.name);
      // 409 name_taken and Dokku's refusals concern the name too.
      else if (e instanceof ApiError && (e.code === 'name_taken' || e.status === 409)) setServerError(e.message);
      else setProblem(errorText(e)); // never a permission name or raw issue text
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <PageHeader title="New app" description="An empty Dokku app; deploy it from an image or a git repository on its page." />
      <Paper withBorder p="md" maw={560}>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          <Stack>
            {!canCreate && <Alert color="gray">Your role cannot create apps.</Alert>}
            {problem && <Alert color="red" title="Could not create the app" style={{ whiteSpace: 'pre-line' }}>{problem}</Alert>}
            <TextInput
              label="App name"
              description="Lowercase letters, digits, dots and hyphens, starting with a letter or digit (at most 63). It is also the app's default host name."
              placeholder="my-app"
              value={name}
              onChange={(e) => {
                setName(e.currentTarget.value);
                setServerError(null);
              }}
              onBlur={() => setTouched(true)}
              error={error}
              autoComplete="off"
              data-autofocus
              required
            />
            <Text size="xs" c="dimmed">The name cannot be changed later.</Text>
            {(hosts.data?.length ?? 0) > 1 || hostError ? (
              <Select
                label="Dokku host"
                description="Where Dokku runs this app: this machine, or a host reached over SSH (Server → Hosts). Names are per host."
                data={(hosts.data ?? []).map((h) => ({ value: h.id, label: `${h.name}${h.kind === 'local' ? ' (this machine)' : ''}${h.default ? ' · default' : ''}${h.status !== 'online' && h.kind !== 'local' ? ` · ${h.status}` : ''}` }))}
                value={host}
                onChange={(v) => {
                  setHostId(v);
                  setHostError(null);
                  setServerError(null);
                }}
                error={hostError}
                allowDeselect={false}
                required
              />
            ) : hosts.data?.length === 1 ? (
              <Text size="sm" c="dimmed">Created on {hosts.data[0]!.name}{hosts.data[0]!.kind === 'local' ? ' (this machine)' : ''}.</Text>
            ) : null}
            <Group>
              <Button type="submit" loading={busy} disabled={!canCreate || (!!name && !!local)}>Create app</Button>
              <Button variant="default" onClick={() => void navigate({ to: '/apps' })}>Cancel</Button>
            </Group>
          </Stack>
        </form>
      </Paper>
    </>
  );
}
