import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { session } from '../auth/session';
import { renderWithProviders } from '../testing/render';
import UsersPage from './UsersPage';

const json = (status: number, body: unknown) => new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const user = (id: string, username: string, role: string) => ({ id, username, email: `${username}@example.test`, role, status: 'active', totpEnabled: false, mustChangePassword: false, lastLoginAt: null, createdAt: 1, updatedAt: 1 });

afterEach(() => {
  vi.unstubAllGlobals();
  session.clear();
});

describe('Users & roles', () => {
  it('deletes a user only after their name is typed, sending it as confirmation', async () => {
    let users = [user('u1', 'alice', 'admin'), user('u2', 'bob', 'viewer')];
    const deletes: unknown[] = [];
    vi.stubGlobal('fetch', async (input: Request | string, init?: RequestInit) => {
      const req = input instanceof Request ? input : new Request(input, init);
      const url = new URL(req.url);
      if (url.pathname === '/api/v1/auth/me') return json(200, { user: { id: 'u1', username: 'alice', email: 'alice@example.test', role: 'admin', totpEnabled: true, mustChangePassword: false, permissions: ['core.users.read', 'core.users.manage', 'core.users.delete'], require2fa: false } });
      if (url.pathname === '/api/v1/roles') return json(200, { items: [{ name: 'admin', description: 'Everything.', permissions: [] }, { name: 'viewer', description: 'Read-only access to resources.', permissions: [] }] });
      if (url.pathname === '/api/v1/users') return json(200, { items: users, total: users.length });
      if (url.pathname === '/api/v1/users/u2' && req.method === 'DELETE') {
        deletes.push(await req.json());
        users = users.filter((u) => u.id !== 'u2');
        return json(204, null);
      }
      return json(404, { error: { code: 'not_found', message: url.pathname } });
    });
    await session.signedIn({ accessToken: 'a', expiresIn: 900 });
    renderWithProviders(<UsersPage />);
    expect(await screen.findByText('bob')).toBeTruthy();
    // No actions on your own row.
    expect(screen.queryByRole('button', { name: 'Actions for alice' })).toBeNull();
    fireEvent.click(screen.getByRole('button', { name: 'Actions for bob' }));
    fireEvent.click(await screen.findByRole('menuitem', { name: 'Delete' }));
    const dialog = await screen.findByRole('dialog');
    const confirm = within(dialog).getByRole('button', { name: 'Delete user' }) as HTMLButtonElement;
    expect(confirm.disabled).toBe(true);
    fireEvent.change(within(dialog).getByLabelText(/Type bob to confirm/), { target: { value: 'bob' } });
    expect(confirm.disabled).toBe(false);
    fireEvent.click(confirm);
    await waitFor(() => expect(deletes).toEqual([{ confirm: 'bob' }]));
    await waitFor(() => expect(screen.queryByText('bob')).toBeNull());
    expect(screen.getByText('1 user')).toBeTruthy();
  });
});
