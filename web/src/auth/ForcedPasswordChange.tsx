import { Alert, Button, PasswordInput, Stack } from '@mantine/core';
import { useState } from 'react';
import { api } from '../api/client';
import { errorFromResponse } from '../api/errors';
import { useMe } from '../lib/hooks';
import { AuthCard } from './AuthCard';
import { NewPasswordField } from './PasswordField';
import { checkPassword } from './password-policy';
import { session } from './session';

/**
 * An account whose password an administrator set (a new account, or a reset): nothing else is
 * allowed until its owner chooses their own, typed twice. The words fit both cases.
 */
export default function ForcedPasswordChange() {
  const me = useMe();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [againTouched, setAgainTouched] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const ok = checkPassword(next, me?.username, me?.email).acceptable;
  const mismatch = again !== next && (againTouched || again.length >= next.length) && again.length > 0;
  const submit = async () => {
    if (again !== next) {
      setAgainTouched(true);
      return;
    }
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
    <AuthCard title="Choose a new password" subtitle="An administrator set the password you signed in with. Choose your own to continue.">
      <form onSubmit={(e) => { e.preventDefault(); void submit(); }}>
        <Stack>
          {error ? <Alert color="red" role="alert">{error}</Alert> : null}
          <PasswordInput label="Temporary password" value={current} onChange={(e) => setCurrent(e.currentTarget.value)} required autoComplete="current-password" />
          <NewPasswordField value={next} onChange={setNext} username={me?.username} email={me?.email} />
          <PasswordInput
            label="Repeat new password"
            value={again}
            onChange={(e) => setAgain(e.currentTarget.value)}
            onBlur={() => setAgainTouched(true)}
            error={mismatch ? 'The two passwords differ' : undefined}
            required
            autoComplete="new-password"
          />
          <Button type="submit" loading={busy} disabled={!ok || !current || !again || again !== next}>Change password</Button>
          <Button variant="subtle" color="gray" onClick={() => void session.signOut()}>Sign out</Button>
        </Stack>
      </form>
    </AuthCard>
  );
}
