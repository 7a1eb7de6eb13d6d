import { configure, fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { json, mockApi, resetApi, signIn, testUser, type ApiHandler } from '../../../web/src/testing/api-mock';
import { renderAt } from '../../../web/src/testing/render';
import PlansPage from './PlansPage';

/** Issue 18 item 4 on the VPS forms: the server's `details.issues[].path` lands next to its field. */
configure({ asyncUtilTimeout: 5000 });
const mockFetch = (handler: ApiHandler) => mockApi(handler, { me: () => testUser({ role: 'admin', permissions: ['vps.read', 'vps.plans.manage'] }) });
afterEach(resetApi);

/** The error text Mantine shows under an input (its aria-describedby), '' when none. */
function errorNextTo(label: string): string {
  const input = screen.getByLabelText(label, { exact: false, selector: 'input' });
  const ids = (input.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean);
  return ids.map((id) => document.getElementById(id)).filter((el) => el && /error/.test(el.id)).map((el) => el!.textContent).join(' ');
}

async function openNewPlan(post: ApiHandler) {
  mockFetch((req, path) => {
    if (path === '/api/v1/vps/plans' && req.method === 'GET') return json(200, { items: [] });
    if (path === '/api/v1/vps/plans' && req.method === 'POST') return post(req, path);
    if (path.startsWith('/api/v1/users')) return json(200, { items: [], total: 0 });
  });
  await signIn();
  renderAt('/vps/plans', '/vps/plans', PlansPage);
  fireEvent.click(await screen.findByRole('button', { name: 'New plan' }));
  fireEvent.change(await screen.findByLabelText(/^Name/, { selector: 'input' }), { target: { value: 'Small' } });
}

describe('new plan form', () => {
  it('puts each server issue next to its field, and no raw issue text above the form', async () => {
    await openNewPlan(() => json(400, { error: { code: 'validation_failed', message: 'body.memoryMb: Too small: expected number to be >=128; body.name: A plan named Small exists', details: { issues: [
      { path: 'body.memoryMb', message: 'Too small: expected number to be >=128' },
      { path: 'body.name', message: 'A plan named Small exists' },
    ] } } }));
    fireEvent.click(screen.getByRole('button', { name: 'Create plan' }));
    await waitFor(() => expect(errorNextTo('Memory (MB)')).toBe('Too small: expected number to be >=128'));
    expect(errorNextTo('Name')).toBe('A plan named Small exists');
    expect(document.body.textContent).not.toContain('body.memoryMb');
  });

  it('says a refusal in plain words, never the permission name', async () => {
    await openNewPlan(() => json(403, { error: { code: 'forbidden', message: 'Your role (operator) lacks the permission vps.plans.manage', details: { permission: 'vps.plans.manage' } } }));
    fireEvent.click(screen.getByRole('button', { name: 'Create plan' }));
    expect(await screen.findByText(/Your role does not allow this/)).toBeTruthy();
    expect(document.body.textContent).not.toMatch(/vps\.plans\.manage/);
  });
});
