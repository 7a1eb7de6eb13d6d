import { Alert, Button, PasswordInput, Stack } from '@mantine/core';
import { useState } from 'react';
import { api } from '../api/client';
import { errorFromResponse } from '../api/errors';
import { useMe } from '../lib/hooks';
import { AuthCard } from './AuthCard';
import { NewPasswordField } from './PasswordField';
import { checkPassword } from './password-policy';
import { session } from './session';

/** After an administrator reset the password, nothing else is allowed until it is changed. */
export default function ForcedPasswordChange() {
  const me = useMe();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const ok = checkPassword(next, me?.username, me?.email).acceptable;
  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await api.POST('/api/v1/auth/password', { body: { currentPassword: current, newPassword: next } });
      if (!r.response.ok) throw await errorFromResponse(r.response, r.error);
      await session.loadMe();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <AuthCard title="Choose a new password" subtitle="An administrator reset your password. Choose a new one to continue.">
      <form onSubmit={(e) => { e.preventDefault(); void submit(); }}>
        <Stack>
          {error ? <Alert color="red" role="alert">{error}</Alert> : null}
          <PasswordInput label="Temporary password" value={current} onChange={(e) => setCurrent(e.currentTarget.value)} required autoComplete="current-password" />
          <NewPasswordField value={next} onChange={setNext} username={me?.username} email={me?.email} />
          <Button type="submit" loading={busy} disabled={!ok || !current}>Change password</Button>
          <Button variant="subtle" color="gray" onClick={() => void session.signOut()}>Sign out</Button>
        </Stack>
      </form>
    </AuthCard>
  );
}
