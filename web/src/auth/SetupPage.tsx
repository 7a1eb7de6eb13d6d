import { Alert, Button, PasswordInput, Stack, Text, TextInput } from '@mantine/core';
import { useState } from 'react';
import { api } from '../api/client';
import { errorFromResponse } from '../api/errors';
import { AuthCard } from './AuthCard';
import { NewPasswordField } from './PasswordField';
import { checkPassword } from './password-policy';
import { initialHash, session } from './session';

/** The setup token from the printed link's `#token=` fragment (never sent to the server in a URL). */
export function tokenFromHash(hash: string): string {
  return new URLSearchParams(hash.replace(/^#/, '')).get('token') ?? '';
}

/** First run: the setup token and the first administrator. */
export default function SetupPage() {
  const [token, setToken] = useState(() => tokenFromHash(initialHash));
  const [username, setUsername] = useState('admin');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const check = checkPassword(password, username, email);
  const mismatch = confirm.length > 0 && confirm !== password;

  const submit = async () => {
    if (!check.acceptable || mismatch) return;
    setBusy(true);
    setError(null);
    try {
      const r = await api.POST('/api/v1/setup', { body: { token: token.trim(), username: username.trim(), email: email.trim(), password } });
      if (!r.response.ok) throw await errorFromResponse(r.response, r.error);
      // Drop the token from the address bar and history.
      history.replaceState(null, '', window.location.pathname);
      const login = await api.POST('/api/v1/auth/login', { body: { username: username.trim(), password } });
      if (login.response.ok && (login.data as { status?: string }).status === 'ok') {
        const d = login.data as { accessToken: string; expiresIn: number };
        await session.signedIn(d);
      } else session.setupDone();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <AuthCard title="Welcome to Slipway" subtitle="Create the first administrator. The setup token was printed when the panel first started (and saved in its data directory).">
      <form onSubmit={(e) => { e.preventDefault(); void submit(); }}>
        <Stack>
          {error ? <Alert color="red" role="alert" title="Setup failed">{error}</Alert> : null}
          <PasswordInput label="Setup token" value={token} onChange={(e) => setToken(e.currentTarget.value)} required autoComplete="off" description={token ? 'Filled in from the link.' : 'Paste the token from the start-up output.'} />
          <TextInput label="Admin username" value={username} onChange={(e) => setUsername(e.currentTarget.value)} required autoComplete="username" description="Letters, digits, dot, dash and underscore." />
          <TextInput label="Email" type="email" value={email} onChange={(e) => setEmail(e.currentTarget.value)} required autoComplete="email" />
          <NewPasswordField label="Password" value={password} onChange={setPassword} username={username} email={email} />
          <PasswordInput label="Repeat the password" value={confirm} onChange={(e) => setConfirm(e.currentTarget.value)} required autoComplete="new-password" error={mismatch ? 'The passwords differ.' : undefined} />
          <Button type="submit" loading={busy} disabled={!check.acceptable || mismatch || !confirm}>Create administrator</Button>
          <Text size="xs" c="dimmed">You can enable two-factor authentication under My account right after.</Text>
        </Stack>
      </form>
    </AuthCard>
  );
}
