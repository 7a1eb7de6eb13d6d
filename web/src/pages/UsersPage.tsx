import { Alert, Badge, Button, Code, CopyButton, Group, Menu, Modal, Select, Stack, Switch, Text, TextInput, ActionIcon } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, type ApiData } from '../api/client';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { DataTable } from '../components/DataTable';
import { EmptyState } from '../components/EmptyState';
import { icons } from '../components/icons';
import { PageHeader } from '../components/PageHeader';
import { StatusBadge } from '../components/StatusBadge';
import { NewPasswordField } from '../auth/PasswordField';
import { formatRelative } from '../lib/format';
import { useCan, useMe } from '../lib/hooks';
import { errorText, notifyError, notifySuccess } from '../lib/notify';
import { useFieldErrors } from '../components/fieldErrors';
import { corePermissions } from '../shell/nav';
import { NoAccess } from '../shell/NotFound';
import { RoleSelect, useRoles } from './roles';

type User = ApiData<'/api/v1/users', 'get'>['items'][number];
const PAGE = 20;

function TemporaryPassword({ value, onClose, username }: { value: string | null; onClose(): void; username: string }) {
  return (
    <Modal opened={!!value} onClose={onClose} title="Temporary password" centered>
      <Stack>
        <Text size="sm">Give this password to <b>{username}</b> over a safe channel. It is shown only now; they must change it at their next sign-in.</Text>
        <Group gap="xs" wrap="nowrap"><Code fz="md" data-testid="temporary-password">{value}</Code>
          <CopyButton value={value ?? ''}>{({ copied, copy }) => <Button size="xs" variant="light" onClick={copy}>{copied ? 'Copied' : 'Copy'}</Button>}</CopyButton>
        </Group>
        <Button onClick={onClose}>Done</Button>
      </Stack>
    </Modal>
  );
}

function CreateUserModal({ opened, onClose, onCreated }: { opened: boolean; onClose(): void; onCreated(temp: string | null, username: string): void }) {
  const [username, setUsername] = useState('');
  const [email, setEmail] = useState('');
  const [role, setRole] = useState('viewer');
  const [setPassword, setSetPassword] = useState(false);
  const [password, setPasswordValue] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const fields = useFieldErrors();
  const qc = useQueryClient();
  const submit = async () => {
    setBusy(true);
    setError(null);
    fields.clear();
    try {
      const r = await call(api.POST('/api/v1/users', { body: { username: username.trim(), email: email.trim(), role: role as User['role'], ...(setPassword ? { password } : {}) } }));
      notifySuccess(`User ${r.user.username} created`);
      await qc.invalidateQueries({ queryKey: ['users'] });
      onCreated(r.temporaryPassword, r.user.username);
      setUsername('');
      setEmail('');
      setPasswordValue('');
      onClose();
    } catch (e) {
      // Problems with a field go next to it; only what no field shows goes in the alert.
      const { handled, rest } = fields.take(e, ['username', 'email', 'password']);
      setError(handled ? rest : errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const onField = (name: string, set: (v: string) => void) => (v: string) => { set(v); fields.clear(name); };
  return (
    <Modal opened={opened} onClose={onClose} title="Create user" centered>
      <form onSubmit={(e) => { e.preventDefault(); void submit(); }}>
        <Stack>
          {error ? <Alert color="red" role="alert">{error}</Alert> : null}
          <TextInput label="Username" value={username} onChange={(e) => onField('username', setUsername)(e.currentTarget.value)} required data-autofocus error={fields.errors.username} />
          <TextInput label="Email" type="email" value={email} onChange={(e) => onField('email', setEmail)(e.currentTarget.value)} required error={fields.errors.email} />
          <RoleSelect value={role} onChange={onField('role', setRole)} />
          <Switch label="Set the password myself (otherwise a temporary one is generated)" checked={setPassword} onChange={(e) => setSetPassword(e.currentTarget.checked)} />
          {setPassword ? <NewPasswordField label="Password" value={password} onChange={onField('password', setPasswordValue)} username={username} email={email} error={fields.errors.password} /> : null}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>Cancel</Button>
            <Button type="submit" loading={busy}>Create user</Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function EditRoleModal({ user, onClose }: { user: User | null; onClose(): void }) {
  const [role, setRole] = useState(user?.role ?? 'viewer');
  const qc = useQueryClient();
  const [busy, setBusy] = useState(false);
  return (
    <Modal opened={!!user} onClose={onClose} title={`Change role of ${user?.username ?? ''}`} centered>
      <Stack>
        <RoleSelect value={role} onChange={(v) => setRole(v as User['role'])} label="New role" />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>Cancel</Button>
          <Button loading={busy} onClick={async () => {
            setBusy(true);
            try {
              await call(api.PATCH('/api/v1/users/{id}', { params: { path: { id: user!.id } }, body: { role: role as User['role'] } }));
              notifySuccess(`${user!.username} is now ${role}`);
              await qc.invalidateQueries({ queryKey: ['users'] });
              onClose();
            } catch (e) {
              notifyError(e);
            } finally {
              setBusy(false);
            }
          }}>Save</Button>
        </Group>
      </Stack>
    </Modal>
  );
}

type Pending = { kind: 'suspend' | 'unsuspend' | 'reset-password' | 'reset-2fa' | 'delete'; user: User } | null;

/** Users & roles (admin): search, filters, create, role, suspend, resets, delete. */
export default function UsersPage() {
  const canRead = useCan(corePermissions.usersRead);
  const canManage = useCan(corePermissions.usersManage);
  const canDelete = useCan(corePermissions.usersDelete);
  const me = useMe();
  const qc = useQueryClient();
  const roles = useRoles();
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search.trim(), 300);
  const [role, setRole] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [page, setPage] = useState(1);
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<User | null>(null);
  const [pending, setPending] = useState<Pending>(null);
  const [temp, setTemp] = useState<{ password: string | null; username: string }>({ password: null, username: '' });

  const q = useQuery({
    queryKey: ['users', debounced, role, status, page],
    enabled: canRead,
    placeholderData: (prev) => prev,
    queryFn: () => call(api.GET('/api/v1/users', { params: { query: { ...(debounced ? { search: debounced } : {}), ...(role ? { role: role as User['role'] } : {}), ...(status ? { status: status as User['status'] } : {}), limit: PAGE, offset: (page - 1) * PAGE } } })),
  });
  if (!canRead) return <NoAccess what="user management" />;

  const act = async (p: NonNullable<Pending>) => {
    const path = { params: { path: { id: p.user.id } } };
    if (p.kind === 'suspend') await call(api.POST('/api/v1/users/{id}/suspend', path));
    else if (p.kind === 'unsuspend') await call(api.POST('/api/v1/users/{id}/unsuspend', path));
    else if (p.kind === 'reset-2fa') await call(api.POST('/api/v1/users/{id}/reset-2fa', path));
    else if (p.kind === 'delete') await call(api.DELETE('/api/v1/users/{id}', { ...path, body: { confirm: p.user.username } }));
    else if (p.kind === 'reset-password') {
      const r = await call(api.POST('/api/v1/users/{id}/reset-password', { ...path, body: {} }));
      setTemp({ password: r.temporaryPassword, username: p.user.username });
    }
    notifySuccess({ suspend: 'User suspended', unsuspend: 'User reactivated', 'reset-2fa': '2FA turned off', delete: 'User deleted', 'reset-password': 'Password reset' }[p.kind]);
    await qc.invalidateQueries({ queryKey: ['users'] });
  };
  const dialog: Record<NonNullable<Pending>['kind'], { title: string; message: string; label: string; type?: boolean }> = {
    suspend: { title: 'Suspend user?', message: 'They are signed out everywhere and their API tokens stop working until reactivated.', label: 'Suspend' },
    unsuspend: { title: 'Reactivate user?', message: 'They can sign in again.', label: 'Reactivate' },
    'reset-password': { title: 'Reset password?', message: 'A temporary password is generated; they must choose a new one at next sign-in. Their sessions end.', label: 'Reset password' },
    'reset-2fa': { title: 'Turn off 2FA?', message: 'Use this when they lost their device. They can enrol again from My account.', label: 'Turn off 2FA' },
    delete: { title: 'Delete user?', message: 'This cannot be undone. Their sessions and API tokens are removed; audit entries keep their name.', label: 'Delete user', type: true },
  };
  const total = q.data?.total ?? 0;

  return (
    <Stack>
      <PageHeader title="Users & roles" description="Who can sign in, and what their role lets them do." actions={canManage ? <Button leftSection={<icons.plus size={14} />} onClick={() => setCreating(true)}>Create user</Button> : null} />
      <Group gap="xs" wrap="wrap">
        <TextInput placeholder="Search name or email" aria-label="Search users" leftSection={<icons.search size={14} />} value={search} onChange={(e) => { setSearch(e.currentTarget.value); setPage(1); }} w={240} />
        <Select placeholder="Any role" aria-label="Filter by role" clearable data={(roles.data?.items ?? []).map((r) => r.name)} value={role} onChange={(v) => { setRole(v); setPage(1); }} w={150} />
        <Select placeholder="Any status" aria-label="Filter by status" clearable data={['active', 'suspended']} value={status} onChange={(v) => { setStatus(v); setPage(1); }} w={150} />
        <Text size="sm" c="dimmed">{total} user{total === 1 ? '' : 's'}</Text>
      </Group>
      <DataTable<User>
        rows={q.data?.items}
        loading={q.isFetching}
        error={q.error}
        rowKey={(u) => u.id}
        empty={<EmptyState title="No users found" description="Try another search or filter." />}
        pagination={{ page, totalPages: Math.max(1, Math.ceil(total / PAGE)), onChange: setPage }}
        columns={[
          { key: 'user', header: 'User', render: (u) => <Stack gap={0}><Text size="sm" fw={500}>{u.username}{u.id === me?.id ? ' (you)' : ''}</Text><Text size="xs" c="dimmed">{u.email}</Text></Stack> },
          { key: 'role', header: 'Role', render: (u) => <Badge variant="outline">{u.role}</Badge> },
          { key: 'status', header: 'Status', render: (u) => <StatusBadge status={u.status} /> },
          { key: '2fa', header: '2FA', hideOnMobile: true, render: (u) => (u.totpEnabled ? <Badge color="green" variant="light">on</Badge> : <Text size="xs" c="dimmed">off</Text>) },
          { key: 'last', header: 'Last sign-in', hideOnMobile: true, render: (u) => <Text size="sm" c="dimmed">{u.lastLoginAt ? formatRelative(u.lastLoginAt) : 'never'}</Text> },
          {
            key: 'actions', header: '', render: (u) => canManage && u.id !== me?.id ? (
              <Menu position="bottom-end" withinPortal>
                <Menu.Target><ActionIcon variant="subtle" aria-label={`Actions for ${u.username}`}>⋯</ActionIcon></Menu.Target>
                <Menu.Dropdown>
                  <Menu.Item onClick={() => setEditing(u)}>Change role</Menu.Item>
                  {u.status === 'active' ? <Menu.Item onClick={() => setPending({ kind: 'suspend', user: u })}>Suspend</Menu.Item> : <Menu.Item onClick={() => setPending({ kind: 'unsuspend', user: u })}>Reactivate</Menu.Item>}
                  <Menu.Item onClick={() => setPending({ kind: 'reset-password', user: u })}>Reset password</Menu.Item>
                  {u.totpEnabled ? <Menu.Item onClick={() => setPending({ kind: 'reset-2fa', user: u })}>Reset 2FA</Menu.Item> : null}
                  {canDelete ? <><Menu.Divider /><Menu.Item color="red" onClick={() => setPending({ kind: 'delete', user: u })}>Delete</Menu.Item></> : null}
                </Menu.Dropdown>
              </Menu>
            ) : null,
          },
        ]}
      />
      <CreateUserModal opened={creating} onClose={() => setCreating(false)} onCreated={(password, username) => password && setTemp({ password, username })} />
      {editing ? <EditRoleModal key={editing.id} user={editing} onClose={() => setEditing(null)} /> : null}
      <ConfirmDialog
        opened={!!pending}
        onClose={() => setPending(null)}
        title={pending ? dialog[pending.kind].title : ''}
        message={pending ? <><b>{pending.user.username}</b>: {dialog[pending.kind].message}</> : ''}
        typeToConfirm={pending && dialog[pending.kind].type ? pending.user.username : undefined}
        confirmLabel={pending ? dialog[pending.kind].label : ''}
        danger={pending?.kind !== 'unsuspend'}
        onConfirm={() => act(pending!)}
      />
      <TemporaryPassword value={temp.password} username={temp.username} onClose={() => setTemp({ password: null, username: '' })} />
    </Stack>
  );
}
