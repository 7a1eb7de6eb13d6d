import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../api/errors';
import { errorText } from '../lib/notify';
import UsersPage from '../pages/UsersPage';
import { json, mockApi, resetApi, signIn, testUser } from '../testing/api-mock';
import { renderWithProviders } from '../testing/render';
import { PageGate } from './ModuleGate';
import { PageError } from './NotFound';

/** Issue 18, items 4 and 5: errors at the field, plain words, pages that know who is looking. */
describe('errors in plain words', () => {
  it('never names a permission and lists several field problems by field, one per line', () => {
    const forbidden = new ApiError(403, 'forbidden', 'Your role (user) lacks the permission core.users.read', { permission: 'core.users.read' });
    expect(errorText(forbidden)).toBe('Your role does not allow this. Ask an administrator if you need it.');
    expect(errorText(forbidden)).not.toContain('core.users.read');
    const many = new ApiError(400, 'validation_failed', 'body.name: too short; body.ports.0.containerPort: too big', {
      issues: [{ path: 'body.name', message: 'too short' }, { path: 'body.ports.0.containerPort', message: 'too big' }],
    });
    expect(errorText(many)).toBe('Name: too short\nPorts 1 container port: too big');
    expect(errorText(many)).not.toContain('body.');
  });
});

describe('forms put the server\'s problems next to their fields', () => {
  afterEach(resetApi);

  it('create user: the username and email issues appear under those fields, not as raw text', async () => {
    mockApi((req, path) => {
      if (path === '/api/v1/roles') return json(200, { items: [{ name: 'viewer', description: 'Read-only.', permissions: [] }] });
      if (path === '/api/v1/users' && req.method === 'GET') return json(200, { items: [], total: 0 });
      if (path === '/api/v1/users' && req.method === 'POST') {
        return json(400, { error: { code: 'validation_failed', message: 'body.username: already taken; body.email: not an e-mail address', details: { issues: [{ path: 'body.username', message: 'already taken' }, { path: 'body.email', message: 'not an e-mail address' }] } } });
      }
      return undefined;
    }, { me: () => testUser({ permissions: ['core.users.read', 'core.users.manage'], role: 'admin' }) });
    await signIn();
    renderWithProviders(<UsersPage />);
    fireEvent.click(await screen.findByRole('button', { name: /Create user/ }));
    const dialog = await screen.findByRole('dialog');
    fireEvent.change(within(dialog).getByLabelText(/Username/), { target: { value: 'bob' } });
    fireEvent.change(within(dialog).getByLabelText(/Email/), { target: { value: 'bob@x' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Create user' }));
    const username = within(dialog).getByLabelText(/Username/);
    await waitFor(() => expect(username.getAttribute('aria-invalid')).toBe('true'));
    expect(within(dialog).getByText('already taken')).toBeTruthy();
    expect(within(dialog).getByText('not an e-mail address')).toBeTruthy();
    expect(screen.queryByText(/body\.username/)).toBeNull();
    expect(within(dialog).queryByRole('alert')).toBeNull();
    // Typing in the field clears its message.
    fireEvent.change(username, { target: { value: 'bobby' } });
    await waitFor(() => expect(within(dialog).queryByText('already taken')).toBeNull());
  });
});

describe('pages that know who is looking', () => {
  afterEach(resetApi);

  it('a page the viewer may not use says so up front, without the permission name', async () => {
    mockApi(() => undefined, { me: () => testUser({ permissions: ['sites.read'], role: 'support' }) });
    await signIn();
    renderWithProviders(<PageGate permission="sites.create" what="creating sites"><p>Step 1 of 4</p></PageGate>);
    expect((await screen.findByTestId('no-access')).textContent).toContain('Your role does not include creating sites');
    expect(screen.queryByText('Step 1 of 4')).toBeNull();
    expect(document.body.textContent).not.toContain('sites.create');
  });

  it('a page the viewer may use shows the page', async () => {
    mockApi(() => undefined, { me: () => testUser({ permissions: ['sites.create'] }) });
    await signIn();
    renderWithProviders(<PageGate permission="sites.create" what="creating sites"><p>Step 1 of 4</p></PageGate>);
    expect(await screen.findByText('Step 1 of 4')).toBeTruthy();
  });

  it('a missing or foreign resource is the one "not found" page, not an empty form', async () => {
    renderWithProviders(<PageError error={new ApiError(404, 'not_found', 'Service 0190 not found')} what="service" backTo="/containers" />);
    const nf = await screen.findByTestId('not-found');
    expect(nf.textContent).toContain('This service was not found');
    expect(within(nf).getByRole('link', { name: 'Back to the list' }).getAttribute('href')).toBe('/containers');
  });
});
