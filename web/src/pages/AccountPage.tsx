import { Alert, Badge, Button, Card, Code, CopyButton, Group, Modal, NumberInput, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, type ApiData } from '../api/client';
import { NewPasswordField } from '../auth/PasswordField';
import { checkPassword } from '../auth/password-policy';
import { session } from '../auth/session';
import { RecoveryCodes, TwoFactorSetup } from '../auth/TwoFactorSetup';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { DataTable } from '../components/DataTable';
import { EmptyState } from '../components/EmptyState';
import { PageHeader } from '../components/PageHeader';
import { formatRelative, formatTime } from '../lib/format';
import { useMe } from '../lib/hooks';
import { notifyError, notifySuccess } from '../lib/notify';
import { RoleSelect, useRoles } from './roles';

type SessionItem = ApiData<'/api/v1/auth/sessions', 'get'>['items'][number];
type ApiToken = ApiData<'/api/v1/api-tokens', 'get'>['items'][number];

function Section({ title, children, badge }: { title: string; children: React.ReactNode; badge?: React.ReactNode }) {
  return (
    <Card withBorder padding="lg" component="section" aria-label={title}>
      <Group justify="space-between" mb="sm"><Title order={3} size="h4">{title}</Title>{badge}</Group>
      {children}
    </Card>
  );
}

function ChangePassword() {
  const me = useMe();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ok = checkPassword(next, me?.username, me?.email).acceptable;
  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      await call(api.POST('/api/v1/auth/password', { body: { currentPassword: current, newPassword: next } }));
      notifySuccess('Password changed. Your other sessions were signed out.');
      setCurrent('');
      setNext('');
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => { e.preventDefault(); void submit(); }}>
      <Stack maw={420}>
        {error ? <Alert color="red" role="alert">{error}</Alert> : null}
        <PasswordInput label="Current password" value={current} onChange={(e) => setCurrent(e.currentTarget.value)} autoComplete="current-password" required />
        <NewPasswordField value={next} onChange={setNext} username={me?.username} email={me?.email} />
        <Group><Button type="submit" loading={busy} disabled={!ok || !current}>Change password</Button></Group>
      </Stack>
    </form>
  );
}

function TwoFactor() {
  const me = useMe();
  const [codes, setCodes] = useState<string[] | null>(null);
  const [disabling, setDisabling] = useState(false);
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  if (codes) return <RecoveryCodes codes={codes} onDone={() => { setCodes(null); void session.loadMe(); }} />;
  if (!me?.totpEnabled) return <TwoFactorSetup onEnabled={setCodes} />;
  return (
    <Stack align="flex-start">
      <Text size="sm">Sign-in asks for a code from your authenticator app.</Text>
      <Button variant="light" color="red" onClick={() => setDisabling(true)}>Turn off two-factor authentication</Button>
      <Modal opened={disabling} onClose={() => setDisabling(false)} title="Turn off two-factor authentication" centered>
        <form onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          try {
            await call(api.POST('/api/v1/auth/2fa/disable', { body: { password, code: code.trim() } }));
            notifySuccess('Two-factor authentication is off');
            setDisabling(false);
            await session.loadMe();
          } catch (err) {
            notifyError(err);
          } finally {
            setBusy(false);
          }
        }}>
          <Stack>
            <PasswordInput label="Password" value={password} onChange={(e) => setPassword(e.currentTarget.value)} required autoComplete="current-password" />
            <TextInput label="Code from the app (or a recovery code)" value={code} onChange={(e) => setCode(e.currentTarget.value)} required autoComplete="one-time-code" />
            <Group justify="flex-end"><Button variant="default" onClick={() => setDisabling(false)}>Cancel</Button><Button type="submit" color="red" loading={busy}>Turn off</Button></Group>
          </Stack>
        </form>
      </Modal>
    </Stack>
  );
}

function Sessions() {
  const qc = useQueryClient();
  const q = useQuery({ queryKey: ['sessions'], queryFn: () => call(api.GET('/api/v1/auth/sessions')) });
  const [ending, setEnding] = useState<SessionItem | null>(null);
  return (
    <>
      <DataTable<SessionItem>
        rows={q.data?.items}
        loading={q.isLoading}
        error={q.error}
        rowKey={(s) => s.id}
        empty={<EmptyState title="No sessions" />}
        columns={[
          { key: 'device', header: 'Device', render: (s) => <Group gap={6}><Text size="sm">{s.device}</Text>{s.current ? <Badge size="xs" color="green">this device</Badge> : null}</Group> },
          { key: 'ip', header: 'IP', render: (s) => <Text size="sm" c="dimmed">{s.ip ?? '—'}</Text> },
          { key: 'created', header: 'Signed in', hideOnMobile: true, render: (s) => <Text size="sm" c="dimmed">{formatTime(s.createdAt)}</Text> },
          { key: 'seen', header: 'Last active', render: (s) => <Text size="sm" c="dimmed">{formatRelative(s.lastSeenAt)}</Text> },
          { key: 'end', header: '', render: (s) => <Button size="compact-xs" variant="light" color="red" onClick={() => setEnding(s)} aria-label={`Sign out ${s.device}`}>Sign out</Button> },
        ]}
      />
      <ConfirmDialog
        opened={!!ending}
        onClose={() => setEnding(null)}
        title="Sign out this device?"
        message={ending?.current ? 'This is the device you are using: you will be signed out here.' : <>The session on <b>{ending?.device}</b> ends at once.</>}
        confirmLabel="Sign out device"
        onConfirm={async () => {
          const current = ending!.current;
          await call(api.DELETE('/api/v1/auth/sessions/{id}', { params: { path: { id: ending!.id } } }));
          if (current) return session.clear('You signed out this device.');
          notifySuccess('Device signed out');
          await qc.invalidateQueries({ queryKey: ['sessions'] });
        }}
      />
    </>
  );
}

export function ApiTokens() {
  const qc = useQueryClient();
  const me = useMe();
  const roles = useRoles();
  const q = useQuery({ queryKey: ['api-tokens'], queryFn: () => call(api.GET('/api/v1/api-tokens')) });
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState('');
  // The lowest role by default: a token gets more only when asked for (issue 18, item 13).
  const [role, setRole] = useState('viewer');
  const [days, setDays] = useState<number | string>(90);
  const [created, setCreated] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const [busy, setBusy] = useState(false);
  // A token can carry at most the creator's own permissions.
  const mine = new Set(me?.permissions ?? []);
  const allowed = (roles.data?.items ?? []).filter((r) => me?.role === 'admin' || (r.name !== 'admin' && r.permissions.every((p) => mine.has(p)))).map((r) => r.name);
  const create = async () => {
    setBusy(true);
    try {
      const r = await call(api.POST('/api/v1/api-tokens', { body: { name: name.trim(), role: role as ApiToken['role'], expiresInDays: Number(days) } }));
      setCreated(r.token);
      setCreating(false);
      setName('');
      await qc.invalidateQueries({ queryKey: ['api-tokens'] });
    } catch (e) {
      notifyError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack>
      <Group><Button size="xs" onClick={() => setCreating(true)}>Create API token</Button></Group>
      <DataTable<ApiToken>
        rows={q.data?.items}
        loading={q.isLoading}
        error={q.error}
        rowKey={(t) => t.id}
        empty={<EmptyState title="No API tokens" description="Tokens let scripts call the API as you, with a role you choose." />}
        columns={[
          { key: 'name', header: 'Name', render: (t) => <Stack gap={0}><Text size="sm" fw={500}>{t.name}</Text><Code fz="xs">{t.prefix}…</Code></Stack> },
          { key: 'role', header: 'Role', render: (t) => <Badge variant="outline">{t.role}</Badge> },
          { key: 'expires', header: 'Expires', render: (t) => <Text size="sm" c={t.expiresAt < Date.now() ? 'red' : 'dimmed'}>{formatRelative(t.expiresAt)}</Text> },
          { key: 'used', header: 'Last used', hideOnMobile: true, render: (t) => <Text size="sm" c="dimmed">{t.lastUsedAt ? formatRelative(t.lastUsedAt) : 'never'}</Text> },
          { key: 'revoke', header: '', render: (t) => <Button size="compact-xs" variant="light" color="red" onClick={() => setRevoking(t)} aria-label={`Revoke ${t.name}`}>Revoke</Button> },
        ]}
      />
      <Modal opened={creating} onClose={() => setCreating(false)} title="Create API token" centered>
        <form onSubmit={(e) => { e.preventDefault(); void create(); }}>
          <Stack>
            <TextInput label="Name" description="What uses it, e.g. backup script" value={name} onChange={(e) => setName(e.currentTarget.value)} required data-autofocus />
            <RoleSelect value={role} onChange={(v) => setRole(v as typeof role)} allowed={allowed} />
            <NumberInput label="Expires in (days)" min={1} max={365} value={days} onChange={setDays} required />
            <Group justify="flex-end"><Button variant="default" onClick={() => setCreating(false)}>Cancel</Button><Button type="submit" loading={busy}>Create</Button></Group>
          </Stack>
        </form>
      </Modal>
      <Modal opened={!!created} onClose={() => setCreated(null)} title="Your new API token" centered>
        <Stack>
          <Alert color="yellow">Copy it now: it is shown only once. Use it as <Code>Authorization: Bearer …</Code>.</Alert>
          <Code block data-testid="new-api-token" style={{ wordBreak: 'break-all', whiteSpace: 'pre-wrap' }}>{created}</Code>
          <Group justify="flex-end">
            <CopyButton value={created ?? ''}>{({ copied, copy }) => <Button variant="light" onClick={copy}>{copied ? 'Copied' : 'Copy'}</Button>}</CopyButton>
            <Button onClick={() => setCreated(null)}>Done</Button>
          </Group>
        </Stack>
      </Modal>
      <ConfirmDialog
        opened={!!revoking}
        onClose={() => setRevoking(null)}
        title="Revoke API token?"
        message={<>Anything using <b>{revoking?.name}</b> stops working at once.</>}
        confirmLabel="Revoke"
        onConfirm={async () => {
          await call(api.DELETE('/api/v1/api-tokens/{id}', { params: { path: { id: revoking!.id } } }));
          notifySuccess('Token revoked');
          await qc.invalidateQueries({ queryKey: ['api-tokens'] });
        }}
      />
    </Stack>
  );
}

/** My account: password, 2FA, sessions, API tokens. */
export default function AccountPage() {
  const me = useMe();
  return (
    <Stack>
      <PageHeader title="My account" description={me ? `${me.username} · ${me.email} · role ${me.role}` : undefined} />
      <Section title="Password"><ChangePassword /></Section>
      <Section title="Two-factor authentication" badge={me?.totpEnabled ? <Badge color="green">on</Badge> : <Badge color="gray">off</Badge>}><TwoFactor /></Section>
      <Section title="Sessions"><Sessions /></Section>
      <Section title="API tokens"><ApiTokens /></Section>
    </Stack>
  );
}
