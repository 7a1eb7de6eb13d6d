import { Alert, Anchor, Button, PasswordInput, Stack, TextInput } from '@mantine/core';
import { useEffect, useRef, useState } from 'react';
import { api } from '../api/client';
import { ApiError, describeRetry, errorFromResponse } from '../api/errors';
import { AuthCard } from './AuthCard';
import { session } from './session';

type Step = { kind: 'password' } | { kind: 'mfa'; mfaToken: string; recovery: boolean };

function useCountdown(until: number | null): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!until) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [until]);
  return until ? Math.max(0, Math.ceil((until - now) / 1000)) : 0;
}

/** Sign-in: username or email and password, then the TOTP (or a recovery code) when enrolled. */
export function LoginPage({ reason }: { reason?: string }) {
  const [step, setStep] = useState<Step>({ kind: 'password' });
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [blockedUntil, setBlockedUntil] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const wait = useCountdown(blockedUntil);

  const passwordRef = useRef<HTMLInputElement>(null);
  const fail = (e: unknown) => {
    if (e instanceof ApiError && (e.status === 429 || e.code.includes('lock')) ) {
      // Said once: the server's message already names the wait, or the retry time is added.
      setError(/try again/i.test(e.message) ? e.message : `${e.message} ${describeRetry(e.retryAfter)}`);
      if (e.retryAfter) setBlockedUntil(Date.now() + e.retryAfter * 1000);
    } else {
      setError(e instanceof Error ? e.message : String(e));
      // After a wrong password the cursor is back in the password field, its text selected.
      setTimeout(() => { passwordRef.current?.focus(); passwordRef.current?.select(); }, 0);
    }
  };

  const finish = async (data: unknown) => {
    const d = data as { status: string; mfaToken?: string; accessToken?: string; expiresIn?: number };
    if (d.status === 'mfa_required' && d.mfaToken) {
      setStep({ kind: 'mfa', mfaToken: d.mfaToken, recovery: false });
      setCode('');
      return;
    }
    await session.signedIn({ accessToken: d.accessToken!, expiresIn: d.expiresIn ?? 900 });
  };

  const submitPassword = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await api.POST('/api/v1/auth/login', { body: { username: username.trim(), password } });
      if (!r.response.ok) throw await errorFromResponse(r.response, r.error);
      await finish(r.data);
    } catch (e) {
      fail(e);
    } finally {
      setBusy(false);
    }
  };

  const submitCode = async (mfaToken: string, recovery: boolean) => {
    setBusy(true);
    setError(null);
    try {
      const body = recovery ? { mfaToken, recoveryCode: code.trim() } : { mfaToken, code: code.replace(/\s/g, '') };
      const r = await api.POST('/api/v1/auth/login/mfa', { body });
      if (!r.response.ok) throw await errorFromResponse(r.response, r.error);
      await finish(r.data);
    } catch (e) {
      fail(e);
      if (e instanceof ApiError && e.status === 401 && /expired|token/i.test(e.message)) setStep({ kind: 'password' });
    } finally {
      setBusy(false);
    }
  };

  const blocked = wait > 0;
  const errorBox = error ? (
    <Alert color="red" role="alert" title="Could not sign in">
      {error}
    </Alert>
  ) : null;

  if (step.kind === 'mfa') {
    return (
      <AuthCard title="Two-factor authentication" subtitle={step.recovery ? 'Enter one of your recovery codes. Each code works once.' : 'Enter the 6-digit code from your authenticator app.'}>
        <form onSubmit={(e) => { e.preventDefault(); void submitCode(step.mfaToken, step.recovery); }}>
          <Stack>
            {errorBox}
            {step.recovery ? (
              <TextInput label="Recovery code" value={code} onChange={(e) => setCode(e.currentTarget.value)} autoComplete="off" required autoFocus />
            ) : (
              <TextInput label="Authentication code" value={code} onChange={(e) => setCode(e.currentTarget.value)} inputMode="numeric" autoComplete="one-time-code" maxLength={8} required autoFocus />
            )}
            <Button type="submit" loading={busy} disabled={blocked}>Verify</Button>
            <Anchor component="button" type="button" size="sm" onClick={() => { setCode(''); setError(null); setStep({ ...step, recovery: !step.recovery }); }}>
              {step.recovery ? 'Use an authentication code instead' : 'Use a recovery code instead'}
            </Anchor>
            <Anchor component="button" type="button" size="sm" c="dimmed" onClick={() => { setStep({ kind: 'password' }); setError(null); }}>Back to sign-in</Anchor>
          </Stack>
        </form>
      </AuthCard>
    );
  }

  return (
    <AuthCard title="Sign in">
      <form onSubmit={(e) => { e.preventDefault(); void submitPassword(); }}>
        <Stack>
          {reason && !error ? <Alert color="yellow">{reason}</Alert> : null}
          {errorBox}
          <TextInput label="Username or email" value={username} onChange={(e) => setUsername(e.currentTarget.value)} autoComplete="username" required autoFocus />
          <PasswordInput ref={passwordRef} label="Password" value={password} onChange={(e) => setPassword(e.currentTarget.value)} autoComplete="current-password" required />
          <Button type="submit" loading={busy} disabled={blocked}>{blocked ? `Wait ${wait} s` : 'Sign in'}</Button>
        </Stack>
      </form>
    </AuthCard>
  );
}
