import { fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { json, mockApi, resetApi, signIn, testUser } from '../../../web/src/testing/api-mock';
import { renderWithProviders } from '../../../web/src/testing/render';
import { WpAdminPassword } from './WpAdminPassword';

describe('WordPress admin password on the site page (issue 18, item 3)', () => {
  afterEach(resetApi);

  it('shows a waiting password once, on request, and then only says it is gone', async () => {
    let waiting = true;
    const calls = mockApi((req, path) => {
      if (path === '/api/v1/sites/blog.example.com/admin-password' && req.method === 'GET') return json(200, waiting ? { waiting: true, wpUser: 'alice', createdAt: 1 } : { waiting: false, wpUser: null, createdAt: null });
      if (path === '/api/v1/sites/blog.example.com/admin-password/reveal') {
        waiting = false;
        return json(200, { wpUser: 'alice', password: 'Q7hv3Rk9sLm2Xw8PzT4bNc6D' });
      }
      return undefined;
    }, { me: () => testUser({ permissions: ['sites.read', 'sites.update'] }) });
    await signIn();
    renderWithProviders(<WpAdminPassword domain="blog.example.com" host="local" canReset busy={false} />);
    expect(await screen.findByText('The WordPress admin password is ready')).toBeTruthy();
    expect(screen.queryByText('Q7hv3Rk9sLm2Xw8PzT4bNc6D')).toBeNull();
    fireEvent.click(screen.getByRole('button', { name: 'Show password' }));
    expect((await screen.findByTestId('wp-password')).textContent).toBe('Q7hv3Rk9sLm2Xw8PzT4bNc6D');
    expect(screen.getByText(/will not show it again/)).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'I have saved it' }));
    await waitFor(() => expect(screen.queryByTestId('wp-password')).toBeNull());
    expect(screen.queryByText('The WordPress admin password is ready')).toBeNull();
    expect(calls.filter((c) => c.path.endsWith('/reveal'))).toHaveLength(1);
  });

  it('resets with a validated user name and starts the job', async () => {
    const calls = mockApi((req, path) => {
      if (path === '/api/v1/sites/blog.example.com/admin-password' && req.method === 'GET') return json(200, { waiting: false, wpUser: null, createdAt: null });
      if (path === '/api/v1/sites/blog.example.com/admin-password' && req.method === 'POST') return json(202, { job: { id: 'j1', title: 'Reset the WordPress password of editor on blog.example.com' } });
      return undefined;
    }, { me: () => testUser({ permissions: ['sites.read', 'sites.update'] }) });
    await signIn();
    renderWithProviders(<WpAdminPassword domain="blog.example.com" host="local" canReset busy={false} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Reset WordPress password' }));
    const user = await screen.findByLabelText('WordPress user');
    fireEvent.change(user, { target: { value: '-x' } });
    fireEvent.click(screen.getByRole('button', { name: 'Reset password' }));
    expect(await screen.findByText(/not starting with a symbol/)).toBeTruthy();
    expect(calls.some((c) => c.method === 'POST')).toBe(false);
    fireEvent.change(user, { target: { value: 'editor' } });
    fireEvent.click(screen.getByRole('button', { name: 'Reset password' }));
    await waitFor(() => expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ host: 'local', wpUser: 'editor' }));
  });
});
