import { fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { json, mockApi as mockFetch, resetApi, signIn, testUser } from '../../../web/src/testing/api-mock';
import { renderWithProviders } from '../../../web/src/testing/render';
import type { Service } from './api';
import ServiceFormPage from './ServiceFormPage';
import ServicesPage from './ServicesPage';

afterEach(resetApi);

const me = (role: string) => json(200, { user: testUser({ role, permissions: ['containers.read', 'containers.create', 'containers.update'] }) });

const service = (over: Partial<Service>): Service => ({
  id: 'id', name: 'svc', hostId: 'local', ownerId: null, hostnames: ['svc.example.com'], containers: [], http: { container: 'web', port: 80 },
  restartPolicy: 'no', sleep: { mode: 'stop', idleTimeoutSeconds: 900 }, startTimeoutSeconds: 60, stopTimeoutSeconds: 10, state: 'sleeping',
  lastError: null, wakeCount: 0, sleepCount: 0, lastActivityAt: null, lastWakeAt: null, lastColdStart: null, createdAt: 0, updatedAt: 0, ...over,
});

describe('containers pages', () => {
  it('lists services with their state badges and cold-start times', async () => {
    mockFetch((req) => {
      const path = new URL(req.url).pathname;
      if (path === '/api/v1/containers') return json(200, { items: [service({ id: 'a', name: 'blog', state: 'running', lastColdStart: { startToReadyMs: 412, firstByteMs: 450 } }), service({ id: 'b', name: 'wiki', state: 'sleeping', sleep: { mode: 'pause', idleTimeoutSeconds: 60 } })] });
      return json(404, { error: { code: 'not_found', message: 'nope' } });
    });
    renderWithProviders(<ServicesPage />);
    expect(await screen.findByText('blog')).toBeTruthy();
    expect(screen.getByText('wiki')).toBeTruthy();
    const badges = [...document.querySelectorAll('[data-status]')].map((b) => b.getAttribute('data-status'));
    expect(badges).toEqual(['running', 'sleeping']);
    expect(screen.getByText('412 ms')).toBeTruthy();
    expect(screen.getByText('pause after 60s idle')).toBeTruthy();
  });

  it('sends the form as the API expects: hostnames split, secrets marked', async () => {
    const calls = mockFetch((req) => {
      const path = new URL(req.url).pathname;
      if (path === '/api/v1/containers' && req.method === 'POST') return json(202, { service: service({}), job: { id: 'job1', title: 'Create container service' } });
      return json(404, { error: { code: 'not_found', message: 'nope' } });
    });
    renderWithProviders(<ServiceFormPage />);
    fireEvent.change(await screen.findByLabelText(/^Name/), { target: { value: 'shop' } });
    fireEvent.change(screen.getByLabelText(/^Hostnames/), { target: { value: 'Shop.example.com, www.shop.example.com' } });
    fireEvent.change(screen.getByLabelText(/^Image/), { target: { value: 'nginx:1.27' } });
    fireEvent.change(screen.getByLabelText(/^Environment/), { target: { value: 'MODE=prod' } });
    fireEvent.change(screen.getByLabelText(/^Secret environment/), { target: { value: 'DB_PASSWORD=hunter2' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create service' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'POST')).toBe(true));
    const post = calls.find((c) => c.method === 'POST')!;
    expect(post.path).toBe('/api/v1/containers');
    expect(post.body).toMatchObject({
      name: 'shop',
      hostnames: ['shop.example.com', 'www.shop.example.com'],
      containers: [{ name: 'web', image: 'nginx:1.27', env: [{ name: 'MODE', value: 'prod', secret: false }, { name: 'DB_PASSWORD', value: 'hunter2', secret: true }], healthCheck: { type: 'http', path: '/' } }],
      http: { port: 80, container: 'web' },
      sleep: { mode: 'stop', idleTimeoutSeconds: 900 },
    });
  });

  it('a non-admin is offered named volumes only: a host path is refused at the field before sending', async () => {
    const calls = mockFetch((req) => (new URL(req.url).pathname === '/api/v1/auth/me' ? me('user') : json(404, { error: { code: 'not_found', message: 'nope' } })));
    await signIn();
    renderWithProviders(<ServiceFormPage />);
    const volumes = await screen.findByLabelText(/^Volumes/);
    expect(screen.getByText(/each name is a volume of this service alone/)).toBeTruthy();
    expect(screen.queryByText(/Admins may also bind/)).toBeNull();
    fireEvent.change(screen.getByLabelText(/^Name/), { target: { value: 'shop' } });
    fireEvent.change(screen.getByLabelText(/^Hostnames/), { target: { value: 'shop.example.com' } });
    fireEvent.change(screen.getByLabelText(/^Image/), { target: { value: 'nginx:1.27' } });
    fireEvent.change(volumes, { target: { value: '/:/host' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create service' }));
    expect(await screen.findByText(/Host paths are for admins only/)).toBeTruthy();
    expect(calls.some((c) => c.method === 'POST')).toBe(false);
    fireEvent.change(volumes, { target: { value: 'data:/var/lib/app\ncache:/cache:ro' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create service' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'POST')).toBe(true));
    expect(calls.find((c) => c.method === 'POST')!.body).toMatchObject({ containers: [{ volumes: [{ source: 'data', target: '/var/lib/app', readOnly: false }, { source: 'cache', target: '/cache', readOnly: true }] }] });
  });

  it("the server's field errors appear at their field (host path, masked secret)", async () => {
    mockFetch((req) => {
      const path = new URL(req.url).pathname;
      if (path === '/api/v1/auth/me') return me('admin');
      if (path === '/api/v1/containers' && req.method === 'POST') {
        return json(422, { error: { code: 'host_path_not_allowed', message: 'not allowed', details: { issues: [
          { path: 'containers.0.volumes.0.source', message: '/srv/x is not under an allowed host path root' },
          { path: 'containers.0.env.1.value', message: 'the masked value of DB_PASSWORD can only be kept on the same entry' },
        ] } } });
      }
      return json(404, { error: { code: 'not_found', message: 'nope' } });
    });
    await signIn();
    renderWithProviders(<ServiceFormPage />);
    expect(await screen.findByText(/Admins may also bind/)).toBeTruthy();
    fireEvent.change(screen.getByLabelText(/^Name/), { target: { value: 'shop' } });
    fireEvent.change(screen.getByLabelText(/^Hostnames/), { target: { value: 'shop.example.com' } });
    fireEvent.change(screen.getByLabelText(/^Image/), { target: { value: 'nginx:1.27' } });
    fireEvent.change(screen.getByLabelText(/^Environment/), { target: { value: 'MODE=prod' } });
    fireEvent.change(screen.getByLabelText(/^Secret environment/), { target: { value: 'DB_PASSWORD=********' } });
    fireEvent.change(screen.getByLabelText(/^Volumes/), { target: { value: '/srv/x:/data' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create service' }));
    const volErr = await screen.findByText('/srv/x is not under an allowed host path root');
    expect(screen.getByLabelText(/^Volumes/).getAttribute('aria-describedby') ?? '').toContain(volErr.id);
    const envErr = screen.getByText(/masked value of DB_PASSWORD/);
    expect(screen.getByLabelText(/^Secret environment/).getAttribute('aria-describedby') ?? '').toContain(envErr.id);
  });
});
