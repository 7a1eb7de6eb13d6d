import { screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { json, mockApi, resetApi, signIn } from '../../../web/src/testing/api-mock';
import { renderWithProviders } from '../../../web/src/testing/render';
import type { ServicesResponse } from './api';

import ServicesPage from './ServicesPage';

const answer = { current: null as unknown };
beforeEach(async () => {
  mockApi((req, path) => (req.method === 'GET' && path === '/api/v1/server/services' && new URL(req.url).searchParams.get('host') === 'local' ? json(200, answer.current) : undefined));
  await signIn();
});
afterEach(resetApi);

describe('services page', () => {
  it('says clearly when the host has no running systemd', async () => {
    answer.current = { hostId: 'local', systemd: { live: false, state: 'offline' }, allowlist: ['nginx'], items: [] } satisfies ServicesResponse;
    renderWithProviders(<ServicesPage />);
    expect(await screen.findByText('systemd is not running on this host')).toBeTruthy();
    expect(screen.getByText('offline')).toBeTruthy();
  });

  it('lists allow-listed units with state, sub-state and main PID', async () => {
    answer.current = {
      hostId: 'h1', systemd: { live: true, state: 'running' }, allowlist: ['nginx', 'php*-fpm'],
      items: [{ unit: 'nginx.service', description: 'A high performance web server', activeState: 'active', subState: 'running', loadState: 'loaded', unitFileState: 'enabled', mainPid: 4242, memoryBytes: 2_400_000, since: Date.now() - 60_000 }],
    } satisfies ServicesResponse;
    renderWithProviders(<ServicesPage />);
    expect(await screen.findByText('nginx.service')).toBeTruthy();
    expect(screen.getByText('4242')).toBeTruthy();
    expect(screen.getByText('Allow-list: nginx, php*-fpm')).toBeTruthy();
    expect(screen.queryByText('systemd is not running on this host')).toBeNull();
  });
});
