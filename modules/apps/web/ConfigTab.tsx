import { Alert, Badge, Button, Code, Group, Modal, PasswordInput, Radio, Stack, Switch, Text, TextInput, Textarea } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { ConfirmDialog, DataTable, api, call, errorText, icons, notifyError, useCan } from '@slipway/web';
import { appKey, appParams, envKeyProblem, fieldErrors, looksSecret, type App, type ConfigItem, type ShowJob } from './api';

const MASK = '••••••••';

/** "Restart now" (the default) or "apply on next deploy" (`config:set --no-restart`). */
function RestartChoice({ value, onChange }: { value: boolean; onChange(v: boolean): void }) {
  return (
    <Radio.Group label="When" value={value ? 'now' : 'later'} onChange={(v) => onChange(v === 'now')}>
      <Group mt={6}>
        <Radio value="now" label="Restart now" />
        <Radio value="later" label="Apply on next deploy" />
      </Group>
    </Radio.Group>
  );
}

/** The app's env: values of secret keys are never sent to the browser (null), so they can only be replaced. */
export function ConfigTab({ app: a, showJob }: { app: App; showJob: ShowJob }) {
  const canConfigure = useCan('apps.configure');
  const config = useQuery({ queryKey: [...appKey(a.host, a.name), 'config'], queryFn: () => call(api.GET('/api/v1/apps/{name}/config', { params: appParams(a.name, a.host) })).then((r) => r.items) });
  const [editing, setEditing] = useState<ConfigItem | 'new' | null>(null);
  const [unsetting, setUnsetting] = useState<ConfigItem | null>(null);
  const [restart, setRestart] = useState(true);

  return (
    <Stack>
      <Group justify="space-between">
        <Text size="sm" c="dimmed">Secret values are masked in every read, log line and audit entry, and kept encrypted in Slipway's database.</Text>
        {canConfigure && <Button leftSection={<icons.plus size={16} />} onClick={() => setEditing('new')}>Add variable</Button>}
      </Group>
      <DataTable
        rows={config.data}
        loading={config.isLoading}
        error={config.error}
        rowKey={(c) => c.key}
        empty={<Text p="md" size="sm" c="dimmed">No environment variables.</Text>}
        columns={[
          { key: 'key', header: 'Name', render: (c) => <Code>{c.key}</Code> },
          {
            key: 'value', header: 'Value', render: (c) => (c.secret || c.value === null
              ? <Group gap={6} wrap="nowrap"><Text size="sm" c="dimmed" aria-label="masked value">{MASK}</Text><Badge size="xs" color="grape" variant="light" leftSection={<icons.key size={10} />}>secret</Badge></Group>
              : <Text size="sm" ff="monospace" truncate maw={420} title={c.value}>{c.value || <Text span c="dimmed">(empty)</Text>}</Text>),
          },
          {
            key: 'actions', header: '', render: (c) => canConfigure && (
              <Group gap={4} justify="flex-end" wrap="nowrap">
                <Button size="compact-xs" variant="default" onClick={() => setEditing(c)}>{c.secret ? 'Replace' : 'Edit'}</Button>
                <Button size="compact-xs" color="red" variant="light" onClick={() => setUnsetting(c)}>Unset</Button>
              </Group>
            ),
          },
        ]}
      />
      {editing && <EnvDialog app={a} item={editing === 'new' ? null : editing} onClose={() => setEditing(null)} showJob={showJob} />}
      <ConfirmDialog
        opened={!!unsetting}
        onClose={() => setUnsetting(null)}
        title={unsetting ? `Unset ${unsetting.key}?` : ''}
        message={<Stack gap="sm"><Text size="sm">Dokku removes the variable (config:unset).</Text><RestartChoice value={restart} onChange={setRestart} /></Stack>}
        confirmLabel="Unset"
        onConfirm={async () => {
          if (!unsetting) return;
          const { job } = await call(api.PATCH('/api/v1/apps/{name}/config', { params: appParams(a.name, a.host), body: { unset: [unsetting.key], restart } }));
          showJob(job, `Unset ${unsetting.key}`);
        }}
      />
    </Stack>
  );
}

function EnvDialog({ app: a, item, onClose, showJob }: { app: App; item: ConfigItem | null; onClose(): void; showJob: ShowJob }) {
  const [key, setKey] = useState(item?.key ?? '');
  // A secret's value is never in the browser: replacing it means typing it again.
  const [value, setValue] = useState(item && !item.secret ? (item.value ?? '') : '');
  const alreadySecret = !!item?.secret;
  const [secret, setSecret] = useState(alreadySecret);
  const [restart, setRestart] = useState(true);
  const [touched, setTouched] = useState(false);
  const [server, setServer] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const forcedSecret = alreadySecret || looksSecret(key);
  const isSecret = secret || forcedSecret;
  const keyProblem = envKeyProblem(key.trim());
  const err = { key: server.key ?? (touched || key ? keyProblem : null), value: server.value ?? null };

  const submit = async () => {
    setTouched(true);
    setServer({});
    setProblem(null);
    if (keyProblem) return;
    setBusy(true);
    const k = key.trim();
    try {
      const { job } = await call(api.PATCH('/api/v1/apps/{name}/config', { params: appParams(a.name, a.host), body: { set: { [k]: value }, secret: secret && !alreadySecret ? [k] : [], restart } }));
      onClose();
      showJob(job, `Set ${k}`);
    } catch (e) {
      const fields = fieldErrors(e, (p) => (p === 'key' || p === 'secret' || p === 'unset' ? 'key' : p.startsWith('set') ? 'value' : null));
      setServer(fields);
      // Said once, in the dialog (a toast would repeat it); never a permission name or raw issue text.
      if (!Object.keys(fields).length) setProblem(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal opened onClose={onClose} title={item ? `${item.secret ? 'Replace' : 'Edit'} ${item.key}` : 'Add variable'} centered size="lg">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Stack>
          {problem && <Alert color="red">{problem}</Alert>}
          <TextInput label="Name" placeholder="DATABASE_URL" value={key} onChange={(e) => { setKey(e.currentTarget.value); setServer({}); }} disabled={!!item} error={err.key} ff="monospace" autoComplete="off" data-autofocus={!item} />
          {isSecret ? (
            <PasswordInput
              label="Value"
              description={alreadySecret ? 'The current value is never shown: type the new one.' : 'Masked everywhere once saved.'}
              value={value}
              onChange={(e) => { setValue(e.currentTarget.value); setServer({}); }}
              error={err.value}
              autoComplete="new-password"
              data-autofocus={!!item}
            />
          ) : (
            <Textarea label="Value" rows={2} value={value} onChange={(e) => { setValue(e.currentTarget.value); setServer({}); }} error={err.value} ff="monospace" data-autofocus={!!item} />
          )}
          <Switch
            label="Secret"
            description={alreadySecret ? 'Stays secret until it is unset.' : forcedSecret ? 'Names like this are always masked.' : 'Mask the value in every read, log and audit entry'}
            checked={isSecret}
            disabled={forcedSecret}
            onChange={(e) => setSecret(e.currentTarget.checked)}
          />
          <RestartChoice value={restart} onChange={setRestart} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose} disabled={busy}>Cancel</Button>
            <Button type="submit" loading={busy}>Save</Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
