import { fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { renderWithMantine } from '../testing/render';
import { LoginPage } from './LoginPage';
import { checkPassword } from './password-policy';
import SetupPage, { tokenFromHash } from './SetupPage';
import ForcedPasswordChange from './ForcedPasswordChange';

type Handler = (req: Request) => Response | Promise<Response>;
const json = (status: number, body: unknown, headers: Record<string, string> = {}) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

function mockFetch(handler: Handler) {
  const calls: { url: string; method: string; body: unknown }[] = [];
  vi.stubGlobal('fetch', async (input: Request | string, init?: RequestInit) => {
    const req = input instanceof Request ? input : new Request(input, init);
    const text = req.method === 'GET' ? '' : await req.clone().text();
    calls.push({ url: new URL(req.url).pathname, method: req.method, body: text ? JSON.parse(text) : undefined });
    return handler(req);
  });
  return calls;
}

afterEach(() => vi.unstubAllGlobals());

describe('password policy', () => {
  it('explains each rule the password breaks', () => {
    expect(checkPassword('short').problems).toEqual(['Use at least 12 characters (5 so far).']);
    expect(checkPassword('password123').acceptable).toBe(false);
    expect(checkPassword('alice-is-the-best-2026', 'alice').problems).toContain('Do not use your username or email.');
    expect(checkPassword('Blue-Harbour-Lantern-42', 'alice')).toMatchObject({ acceptable: true, label: 'Strong' });
  });
});

describe('setup form', () => {
  it('reads the token from the link fragment', () => {
    expect(tokenFromHash('#token=abc_DEF-123')).toBe('abc_DEF-123');
    expect(tokenFromHash('')).toBe('');
  });

  it('keeps submit disabled until the password meets the policy, then shows the server\'s error', async () => {
    const calls = mockFetch((req) => (new URL(req.url).pathname === '/api/v1/setup' ? json(401, { error: { code: 'invalid_setup_token', message: 'The setup token is wrong or expired' } }) : json(404, {})));
    renderWithMantine(<SetupPage />);
    fireEvent.change(screen.getByLabelText(/Setup token/), { target: { value: 'tok' } });
    fireEvent.change(screen.getByLabelText(/Email/), { target: { value: 'root@example.test' } });
    const submit = screen.getByRole('button', { name: 'Create administrator' }) as HTMLButtonElement;
    fireEvent.change(screen.getByLabelText(/^Password/, { selector: 'input' }), { target: { value: 'admin12345678' } });
    expect(screen.getByText('Do not use your username or email.')).toBeTruthy();
    expect(submit.disabled).toBe(true);
    fireEvent.change(screen.getByLabelText(/^Password/, { selector: 'input' }), { target: { value: 'Blue-Harbour-Lantern-42' } });
    fireEvent.change(screen.getByLabelText(/Repeat the password/), { target: { value: 'Blue-Harbour-Lantern-4' } });
    expect(screen.getByText('The passwords differ.')).toBeTruthy();
    expect(submit.disabled).toBe(true);
    fireEvent.change(screen.getByLabelText(/Repeat the password/), { target: { value: 'Blue-Harbour-Lantern-42' } });
    expect(screen.getByTestId('password-strength').textContent).toBe('Strength: Strong');
    expect(submit.disabled).toBe(false);
    fireEvent.click(submit);
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('The setup token is wrong or expired'));
    expect(calls.find((c) => c.url === '/api/v1/setup')?.body).toEqual({ token: 'tok', username: 'admin', email: 'root@example.test', password: 'Blue-Harbour-Lantern-42' });
  });
});

describe('sign-in form', () => {
  it('asks for the TOTP code when the account has 2FA, and offers a recovery code instead', async () => {
    const calls = mockFetch((req) => {
      const path = new URL(req.url).pathname;
      if (path === '/api/v1/auth/login') return json(200, { status: 'mfa_required', mfaToken: 'mfa-1' });
      if (path === '/api/v1/auth/login/mfa') return json(401, { error: { code: 'invalid_code', message: 'The code is wrong' } });
      return json(404, {});
    });
    renderWithMantine(<LoginPage />);
    fireEvent.change(screen.getByLabelText(/Username or email/), { target: { value: 'alice' } });
    fireEvent.change(screen.getByLabelText(/^Password/, { selector: 'input' }), { target: { value: 'pw' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    const code = await screen.findByLabelText(/Authentication code/);
    fireEvent.change(code, { target: { value: '123 456' } });
    fireEvent.click(screen.getByRole('button', { name: 'Verify' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('The code is wrong'));
    expect(calls.at(-1)?.body).toEqual({ mfaToken: 'mfa-1', code: '123456' });
    fireEvent.click(screen.getByRole('button', { name: 'Use a recovery code instead' }));
    fireEvent.change(screen.getByLabelText(/Recovery code/), { target: { value: 'abcd-efgh' } });
    fireEvent.click(screen.getByRole('button', { name: 'Verify' }));
    await waitFor(() => expect(calls.at(-1)?.body).toEqual({ mfaToken: 'mfa-1', recoveryCode: 'abcd-efgh' }));
  });

  it('tells a locked-out user when to retry (Retry-After) and blocks the button until then', async () => {
    mockFetch(() => json(429, { error: { code: 'too_many_attempts', message: 'Too many failed sign-ins.' } }, { 'retry-after': '120' }));
    renderWithMantine(<LoginPage />);
    fireEvent.change(screen.getByLabelText(/Username or email/), { target: { value: 'alice' } });
    fireEvent.change(screen.getByLabelText(/^Password/, { selector: 'input' }), { target: { value: 'pw' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('Too many failed sign-ins. Try again in 2 minutes.'));
    const button = screen.getByRole('button', { name: /Wait 1[12]\d s/ }) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    // Said once: the wait is in the message and counted down on the button, not repeated under it.
    expect(screen.getByRole('alert').textContent).not.toMatch(/retry in \d+ s/);
  });
});

describe('forced first password change', () => {
  it('does not claim a reset, and asks for the new password twice before sending it', async () => {
    const calls = mockFetch(() => json(204, {}));
    renderWithMantine(<ForcedPasswordChange />);
    const text = document.body.textContent ?? '';
    expect(text).not.toMatch(/reset your password/i);
    expect(text).toContain('An administrator set the password you signed in with');
    fireEvent.change(screen.getByLabelText(/Temporary password/, { selector: 'input' }), { target: { value: 'Temp-Password-Given-91' } });
    fireEvent.change(screen.getByLabelText(/^New password/, { selector: 'input' }), { target: { value: 'Blue-Harbour-Lantern-42' } });
    const button = screen.getByRole('button', { name: 'Change password' }) as HTMLButtonElement;
    expect(button.disabled).toBe(true); // not repeated yet
    const again = screen.getByLabelText(/^Repeat new password/, { selector: 'input' });
    fireEvent.change(again, { target: { value: 'Blue-Harbour-Lantern-43' } });
    fireEvent.blur(again);
    expect(await screen.findByText('The two passwords differ')).toBeTruthy();
    expect(button.disabled).toBe(true);
    fireEvent.change(again, { target: { value: 'Blue-Harbour-Lantern-42' } });
    await waitFor(() => expect(screen.queryByText('The two passwords differ')).toBeNull());
    expect(button.disabled).toBe(false);
    fireEvent.click(button);
    await waitFor(() => expect(calls.some((c) => c.url === '/api/v1/auth/password')).toBe(true));
    expect(calls.find((c) => c.url === '/api/v1/auth/password')?.body).toEqual({ currentPassword: 'Temp-Password-Given-91', newPassword: 'Blue-Harbour-Lantern-42' });
  });
});
