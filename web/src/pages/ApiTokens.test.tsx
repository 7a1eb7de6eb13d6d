import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { session } from '../auth/session';
import { renderWithProviders } from '../testing/render';
import { ApiTokens } from './AccountPage';

const json = (status: number, body: unknown) => new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

afterEach(() => {
  vi.unstubAllGlobals();
  session.clear();
});

describe('API tokens', () => {
  it('creates a token with a role and expiry, shows it once, and lists it', async () => {
    const tokens: unknown[] = [];
    const posted: unknown[] = [];
    vi.stubGlobal('fetch', async (input: Request | string, init?: RequestInit) => {
      const req = input instanceof Request ? input : new Request(input, init);
      const path = new URL(req.url).pathname;
      if (path === '/api/v1/auth/me') return json(200, { user: { id: 'u1', username: 'alice', email: 'a@example.test', role: 'admin', totpEnabled: true, mustChangePassword: false, permissions: ['core.users.read'], require2fa: false } });
      if (path === '/api/v1/roles') return json(200, { items: [{ name: 'admin', description: 'Everything.', permissions: [] }, { name: 'viewer', description: 'Read-only access to resources.', permissions: [] }] });
      if (path === '/api/v1/api-tokens' && req.method === 'GET') return json(200, { items: tokens });
      if (path === '/api/v1/api-tokens' && req.method === 'POST') {
        const body = (await req.json()) as { name: string; role: string; expiresInDays: number };
        posted.push(body);
        const apiToken = { id: 't1', name: body.name, role: body.role, prefix: 'slw_ab12', createdAt: Date.now(), expiresAt: Date.now() + body.expiresInDays * 86_400_000, lastUsedAt: null };
        tokens.push(apiToken);
        return json(201, { token: 'slw_ab12_the-secret', apiToken });
      }
      return json(404, { error: { code: 'not_found', message: path } });
    });
    await session.signedIn({ accessToken: 'a', expiresIn: 900 });
    renderWithProviders(<ApiTokens />);
    expect(await screen.findByText('No API tokens')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Create API token' }));
    const dialog = await screen.findByRole('dialog');
    fireEvent.change(within(dialog).getByLabelText(/^Name/), { target: { value: 'backup script' } });
    fireEvent.change(within(dialog).getByLabelText(/Expires in/), { target: { value: '30' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Create' }));
    const shown = await screen.findByTestId('new-api-token');
    expect(shown.textContent).toBe('slw_ab12_the-secret');
    // An admin's token defaults to the lowest role, not admin (issue 18, item 13).
    expect(posted).toEqual([{ name: 'backup script', role: 'viewer', expiresInDays: 30 }]);
    fireEvent.click(screen.getByRole('button', { name: 'Done' }));
    await waitFor(() => expect(screen.queryByTestId('new-api-token')).toBeNull());
    expect(await screen.findByText('backup script')).toBeTruthy();
    expect(screen.queryByText('slw_ab12_the-secret')).toBeNull();
  });
});
