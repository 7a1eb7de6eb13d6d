import { fireEvent, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { json, mockApi, resetApi, signIn } from '../../../web/src/testing/api-mock';
import { renderWithProviders } from '../../../web/src/testing/render';
import type { HostView } from './api';

const PINNED = `SHA256:${'a'.repeat(43)}`;
const PRESENTED = `SHA256:${'b'.repeat(43)}`;
const hosts: HostView[] = [
  { id: 'local', name: 'local', kind: 'local', address: null, port: null, username: null, hostKeyFingerprint: null, capabilities: { docker: true, netdata: true }, status: 'online', lastCheckedAt: null },
  { id: 'h1', name: 'edge1', kind: 'ssh', address: '10.0.0.5', port: 22, username: 'root', hostKeyFingerprint: PINNED, capabilities: { systemd: true }, status: 'host-key-mismatch', lastCheckedAt: Date.now() },
];
vi.mock('@slipway/web', async (original) => ({ ...(await original<typeof import('@slipway/web')>()), useCan: () => true }));

const { default: HostsPage } = await import('./HostsPage');
afterEach(resetApi);

describe('hosts page', () => {
  it('shows capabilities and, for a host whose key changed, both fingerprints before re-pinning', async () => {
    const calls = mockApi((req, path) => {
      if (req.method === 'GET' && path === '/api/v1/hosts') return json(200, { items: hosts });
      if (req.method === 'POST' && path === '/api/v1/hosts/probe') return json(200, { fingerprint: PRESENTED, keyType: 'ssh-ed25519', panelPublicKey: 'ssh-ed25519 AAAA slipway' });
      return undefined;
    });
    await signIn();
    renderWithProviders(<HostsPage />);
    expect(await screen.findByText('This server (local)')).toBeTruthy();
    expect(screen.getByText('Docker')).toBeTruthy();
    expect(screen.getByText('systemd')).toBeTruthy();
    const review = screen.getAllByRole('button', { name: 'Review key' });
    expect(review).toHaveLength(1);
    fireEvent.click(review[0]!);
    expect(await screen.findByText(PRESENTED)).toBeTruthy();
    expect(screen.getAllByText(PINNED).length).toBeGreaterThan(0);
    const sent = calls.filter((c) => c.method !== 'GET');
    expect(sent).toEqual([{ method: 'POST', path: '/api/v1/hosts/probe', body: { address: '10.0.0.5', port: 22 } }]);
    // Re-pinning needs the host's name typed: nothing was changed yet.
    expect(sent.some((c) => c.method === 'PATCH')).toBe(false);
  });
});
