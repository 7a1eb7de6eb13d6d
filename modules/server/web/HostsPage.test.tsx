import { fireEvent, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { renderWithProviders } from '../../../web/src/testing/render';
import type { HostView } from './api';

const PINNED = `SHA256:${'a'.repeat(43)}`;
const PRESENTED = `SHA256:${'b'.repeat(43)}`;
const hosts: HostView[] = [
  { id: 'local', name: 'local', kind: 'local', address: null, port: null, username: null, hostKeyFingerprint: null, capabilities: { docker: true, netdata: true }, status: 'online', lastCheckedAt: null },
  { id: 'h1', name: 'edge1', kind: 'ssh', address: '10.0.0.5', port: 22, username: 'root', hostKeyFingerprint: PINNED, capabilities: { systemd: true }, status: 'host-key-mismatch', lastCheckedAt: Date.now() },
];
const sent = vi.hoisted(() => [] as unknown[][]);
vi.mock('./api', async (original) => ({
  ...(await original<typeof import('./api')>()),
  getJson: vi.fn(async () => ({ items: hosts })),
  sendJson: vi.fn(async (...args: unknown[]) => {
    sent.push(args);
    return { fingerprint: PRESENTED, keyType: 'ssh-ed25519', panelPublicKey: 'ssh-ed25519 AAAA slipway' };
  }),
}));
vi.mock('@slipway/web', async (original) => ({ ...(await original<typeof import('@slipway/web')>()), useCan: () => true }));

const { default: HostsPage } = await import('./HostsPage');

describe('hosts page', () => {
  it('shows capabilities and, for a host whose key changed, both fingerprints before re-pinning', async () => {
    renderWithProviders(<HostsPage />);
    expect(await screen.findByText('This server (local)')).toBeTruthy();
    expect(screen.getByText('Docker')).toBeTruthy();
    expect(screen.getByText('systemd')).toBeTruthy();
    const review = screen.getAllByRole('button', { name: 'Review key' });
    expect(review).toHaveLength(1);
    fireEvent.click(review[0]!);
    expect(await screen.findByText(PRESENTED)).toBeTruthy();
    expect(screen.getAllByText(PINNED).length).toBeGreaterThan(0);
    expect(sent[0]).toEqual(['POST', '/api/v1/hosts/probe', { address: '10.0.0.5', port: 22 }]);
    // Re-pinning needs the host's name typed: nothing was changed yet.
    expect(sent.some((a) => a[0] === 'PATCH')).toBe(false);
  });
});
