import { configure, fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '@slipway/web';
import { json, mockApi, resetApi, signIn, testUser } from '../../../web/src/testing/api-mock';
import { renderWithProviders } from '../../../web/src/testing/render';
import { MachineForm } from './MachineForm';

/** Issue 18 item 4 on the netboot machine form: the server's `details.issues[].path` lands next to its field. */
configure({ asyncUtilTimeout: 5000 });
afterEach(resetApi);

function errorNextTo(label: RegExp): string {
  const input = screen.getByLabelText(label, { selector: 'input' });
  const ids = (input.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean);
  return ids.map((id) => document.getElementById(id)).filter((el) => el && /error/.test(el.id)).map((el) => el!.textContent).join(' ');
}

async function fill(onSubmit: () => Promise<unknown>) {
  mockApi((_req, path) => (path.startsWith('/api/v1/netboot/images') ? json(200, { items: [], total: 0 }) : undefined), { me: () => testUser({ role: 'operator', permissions: ['netboot.read', 'netboot.manage'] }) });
  await signIn();
  renderWithProviders(<MachineForm submitLabel="Create machine" onSubmit={onSubmit} />);
  fireEvent.change(await screen.findByLabelText(/^Name/, { selector: 'input' }), { target: { value: 'pc1' } });
  fireEvent.change(screen.getByLabelText(/^MAC address/, { selector: 'input' }), { target: { value: '52:54:00:12:34:56' } });
  fireEvent.change(screen.getByLabelText(/^Fixed IP address/, { selector: 'input' }), { target: { value: '10.0.0.300' } });
  fireEvent.click(screen.getByRole('button', { name: 'Create machine' }));
}

describe('netboot machine form', () => {
  it('puts the server issue next to its field, not in a banner', async () => {
    await fill(async () => {
      throw new ApiError(400, 'validation_failed', 'body.fixedIp: Invalid IPv4 address', { issues: [{ path: 'body.fixedIp', message: 'Invalid IPv4 address' }] });
    });
    await waitFor(() => expect(errorNextTo(/^Fixed IP address/)).toBe('Invalid IPv4 address'));
    expect(document.body.textContent).not.toContain('body.fixedIp');
  });

  it('says a refusal in plain words, never the permission name', async () => {
    await fill(async () => {
      throw new ApiError(403, 'forbidden', 'Your role (support) lacks the permission netboot.manage', { permission: 'netboot.manage' });
    });
    expect(await screen.findByText(/Your role does not allow this/)).toBeTruthy();
    expect(document.body.textContent).not.toMatch(/netboot\.manage/);
  });

  it('an issue for a field the form lacks is said by its name in words, not as a raw path', async () => {
    await fill(async () => {
      throw new ApiError(400, 'validation_failed', 'body.targetLun: Expected number', { issues: [{ path: 'body.targetLun', message: 'Expected number' }] });
    });
    expect(await screen.findByText('Target lun: Expected number')).toBeTruthy();
    expect(document.body.textContent).not.toContain('body.targetLun');
  });
});
