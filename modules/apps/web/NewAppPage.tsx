import { Alert, Button, Group, Paper, Stack, Text, TextInput } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useState } from 'react';
import { ApiError, PageHeader, api, call, notifySuccess, useCan } from '@slipway/web';
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
  const local = appNameProblem(name);
  const error = serverError ?? (touched || name ? local : null);

  const submit = async () => {
    setTouched(true);
    setServerError(null);
    setProblem(null);
    if (local) return;
    setBusy(true);
    try {
      const { app } = await call(api.POST('/api/v1/apps', { body: { name } }));
      notifySuccess(`App ${app.name} created`);
      await qc.invalidateQueries({ queryKey: ['apps'] });
      void navigate({ to: '/apps/$appName', params: { appName: app.name }, search: app.host === 'local' ? {} : { host: app.host } } as never);
    } catch (e) {
      const fields = fieldErrors(e);
      if (fields.name) setServerError(fields.name);
      // 409 name_taken and Dokku's refusals concern the name too.
      else if (e instanceof ApiError && (e.code === 'name_taken' || e.status === 409)) setServerError(e.message);
      else setProblem(e instanceof Error ? e.message : String(e));
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
            {problem && <Alert color="red" title="Could not create the app">{problem}</Alert>}
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
