import { screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { session } from '../auth/session';
import { renderWithProviders } from '../testing/render';
import ModulesPage from './ModulesPage';

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const me = (permissions: string[]) => ({ user: { id: 'u1', username: 'alice', email: 'a@example.test', role: permissions.length ? 'admin' : 'operator', totpEnabled: true, mustChangePassword: false, permissions, require2fa: false } });
const now = Date.now();
const replica = (id: string, address: string, extra: Record<string, unknown> = {}) => ({
  id, address, version: '0.1.0', hostname: 'vm', pid: 1, startedAt: now - 60_000, lastHeartbeatAt: now - 1000, state: 'alive', current: false, leases: [], jobs: 0, localDuties: [], ...extra,
});

afterEach(() => {
  vi.unstubAllGlobals();
  session.clear();
});

function stub(permissions: string[], calls: string[]) {
  vi.stubGlobal('fetch', async (input: Request | string, init?: RequestInit) => {
    const req = input instanceof Request ? input : new Request(input, init);
    const path = new URL(req.url).pathname;
    calls.push(path);
    if (path === '/api/v1/auth/me') return json(200, me(permissions));
    if (path === '/api/v1/modules') return json(200, { items: [], replica: null, warnings: [] });
    if (path === '/api/v1/cluster') {
      return json(200, {
        shared: true, replicaId: 'vm/1/a', schedules: [],
        replicas: [
          replica('vm/1/a', '10.0.0.11:8420', { current: true, leases: ['platform.cluster-housekeeping'], localDuties: ['containers.activator'] }),
          replica('vm/2/b', '10.0.0.12:8420', { state: 'lost', jobs: 2 }),
        ],
      });
    }
    return json(404, { error: { code: 'not_found', message: path } });
  });
}

describe('Modules page: replicas', () => {
  it('shows an admin every replica with its state, leases, jobs and local duties', async () => {
    stub(['core.cluster.read'], []);
    await session.signedIn({ accessToken: 'a', expiresIn: 900 });
    renderWithProviders(<ModulesPage />);
    const table = await screen.findByRole('table', { name: 'Replicas' });
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows).toHaveLength(2);
    expect(within(rows[0]!).getByText(/10\.0\.0\.11:8420/)).toBeTruthy();
    expect(within(rows[0]!).getByText('(this one)')).toBeTruthy();
    expect(within(rows[0]!).getByText('platform.cluster-housekeeping, containers.activator (local)')).toBeTruthy();
    expect(within(rows[1]!).getByText('lost')).toBeTruthy();
    expect(within(rows[1]!).getByText('2 jobs')).toBeTruthy();
    expect(screen.getByText('PostgreSQL: shared by every replica')).toBeTruthy();
  });

  it('does not ask for the replicas without core.cluster.read', async () => {
    const calls: string[] = [];
    stub([], calls);
    await session.signedIn({ accessToken: 'a', expiresIn: 900 });
    renderWithProviders(<ModulesPage />);
    expect(await screen.findByText('Modules')).toBeTruthy();
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toContain('/api/v1/auth/me');
    expect(calls).not.toContain('/api/v1/cluster');
    expect(screen.queryByRole('table', { name: 'Replicas' })).toBeNull();
  });
});
