import { configure, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { json, mockApi, resetApi, signIn, testUser, type ApiHandler } from '../../../web/src/testing/api-mock';
import { renderWithProviders } from '../../../web/src/testing/render';
import type { MachineDetail, Version } from './api';
import { ChapCard } from './ChapCard';
import { EditAsVmCard } from './EditAsVmCard';

configure({ asyncUtilTimeout: 5000 });
afterEach(resetApi);
const mockFetch = (handler: ApiHandler, permissions = ['netboot.read', 'netboot.operate', 'netboot.manage']) =>
  mockApi(handler, { me: () => testUser({ username: 'ops', role: 'operator', permissions }) });

const machine = (over: Partial<MachineDetail> = {}): MachineDetail => ({
  id: 'm1', name: 'pc1', mac: '52:54:00:ab:cd:01', fixedIp: null, group: null, state: 'active', imageId: 'img1', versionId: null, effectiveVersionId: 'v1',
  bootMode: 'iscsi', keepWriteback: false, notes: '', status: 'offline', connections: [], session: null, lastScriptAt: null, lastBootAt: null, writeback: null,
  targetIqn: 't', initiatorIqn: 'i', chap: { enabled: true, user: 'nbabc123-0123456789ab', rotatedAt: Date.now() - 60_000 },
  ipxeScriptUrl: 'http://x/a.ipxe?token=[redacted]', createdAt: 0, updatedAt: 0, history: [], ...over,
});
const version: Version = {
  id: 'v1', number: 1, comment: 'first install', author: null, virtualSize: 1, fileSize: 1, sha256: null, fromMachineId: null, parentVersionId: null, createdAt: 0, latest: true, machines: [], inUse: false,
};

describe('CHAP on the machine page', () => {
  it('shows the user, never a secret; rotation asks first, then posts', async () => {
    const calls = mockFetch((_req, path) => (path === '/api/v1/netboot/machines/m1/chap/rotate' ? json(200, { machine: machine() }) : json(404, {})));
    await signIn();
    renderWithProviders(<ChapCard machine={machine()} onChanged={async () => {}} />);
    expect((await screen.findByTestId('chap-user')).textContent).toBe('nbabc123-0123456789ab');
    expect(screen.getByText(/never shown/)).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Rotate CHAP secret…' }));
    const dialog = await screen.findByRole('dialog');
    expect(calls.some((c) => c.path.endsWith('/chap/rotate'))).toBe(false);
    fireEvent.click(within(dialog).getByRole('button', { name: 'Rotate CHAP secret' }));
    await waitFor(() => expect(calls.find((c) => c.path.endsWith('/chap/rotate'))).toMatchObject({ method: 'POST' }));
  });

  it('turning CHAP off while the session runs: the 409 lands at the switch', async () => {
    mockFetch((req, path) => (path === '/api/v1/netboot/machines/m1' && req.method === 'PATCH'
      ? json(409, { error: { code: 'conflict', message: 'Machine pc1 has a running session: stop it before turning CHAP off', details: { field: 'chap' } } })
      : json(404, {})));
    await signIn();
    renderWithProviders(<ChapCard machine={machine({ session: { id: 's', machineId: 'm1', machineName: 'pc1', versionId: 'v1', state: 'ready', tid: 1, targetIqn: 't', initiatorIqn: 'i', jobId: null, error: null, startedAt: 0, readyAt: 0, stoppedAt: null, connections: [] } })} onChanged={async () => {}} />);
    fireEvent.click(await screen.findByRole('switch', { name: /Require CHAP/ }));
    expect(await screen.findByText(/stop it before turning CHAP off/)).toBeTruthy();
  });

  it('a reader sees the state but no rotate button', async () => {
    mockFetch(() => json(404, {}), ['netboot.read']);
    await signIn();
    renderWithProviders(<ChapCard machine={machine()} onChanged={async () => {}} />);
    await screen.findByTestId('chap-user');
    expect(screen.queryByRole('button', { name: 'Rotate CHAP secret…' })).toBeNull();
  });
});

describe('Edit image as VM', () => {
  it('without the vps module: the reason, and no button', async () => {
    mockFetch((_req, path) => (path === '/api/v1/netboot/images/img1/edits'
      ? json(200, { editor: { available: false, provider: null, reason: 'no enabled module provides vm-disk-editor; editing an image as a VM needs the vps module' }, items: [] })
      : json(404, {})));
    await signIn();
    renderWithProviders(<EditAsVmCard imageId="img1" versions={[version]} />);
    expect((await screen.findByTestId('editor-unavailable')).textContent).toMatch(/needs the vps module/);
    expect(screen.queryByRole('button', { name: 'Edit image as VM' })).toBeNull();
  });

  it('starts an edit, links the VM console, and shows a commit without comment at the field', async () => {
    let started = false;
    const edit = { id: 'e1', imageId: 'img1', versionId: 'v1', versionNumber: 1, state: 'running', vmId: 'vm1', consoleUrl: '/vps/vm1', vm: { state: 'running', reason: null }, committedVersionId: null, error: null, createdBy: null, createdAt: Date.now(), updatedAt: Date.now() };
    const calls = mockFetch((req, path) => {
      if (path === '/api/v1/netboot/images/img1/edits' && req.method === 'POST') {
        started = true;
        return json(202, { edit, job: { id: 'j1', type: 'netboot.edit.start', title: 'Edit', state: 'queued' } });
      }
      if (path === '/api/v1/netboot/images/img1/edits') return json(200, { editor: { available: true, provider: 'vps', reason: null }, items: started ? [edit] : [] });
      if (path === '/api/v1/netboot/edits/e1/commit') return json(400, { error: { code: 'validation_failed', message: 'Invalid request', details: { issues: [{ path: 'body.comment', message: 'a comment is required' }] } } });
      return json(404, {});
    });
    await signIn();
    renderWithProviders(<EditAsVmCard imageId="img1" versions={[version]} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Edit image as VM' }));
    const link = await screen.findByTestId('edit-console');
    expect(link.getAttribute('href')).toBe('/vps/vm1');
    fireEvent.click(screen.getByRole('button', { name: 'Commit as new version' }));
    expect(await screen.findByText('a comment is required')).toBeTruthy();
    expect(calls.filter((c) => c.path === '/api/v1/netboot/images/img1/edits' && c.method === 'POST')).toHaveLength(1);
  });
});
