import { screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { sitesWeb } from '../../../modules/sites/web';
import { containersWeb } from '../../../modules/containers/web';
import { serverWeb } from '../../../modules/server/web';
import type { ModuleStatus } from '../platform/module-status';
import { renderWithProviders } from '../testing/render';

const modules = vi.hoisted(() => ({ items: [] as ModuleStatus[] }));
vi.mock('../api/client', async (original) => ({ ...(await original<typeof import('../api/client')>()), getJson: vi.fn(async () => ({ items: modules.items })) }));
vi.mock('../components/useLiveEvents', async (original) => ({ ...(await original<typeof import('../components/useLiveEvents')>()), useLiveInvalidate: () => {} }));

const { ModuleGate } = await import('./ModuleGate');
const { navItems } = await import('./nav');
const { default: ModulesPage } = await import('../pages/ModulesPage');

const base = { navPermission: null, visible: true, engines: [], schedules: [], checkedAt: Date.now(), reason: null, fix: null };
const sitesDegraded: ModuleStatus = {
  ...base, id: 'sites', title: 'Sites', status: 'degraded', navPermission: 'sites.read',
  reason: 'WordOps is not installed on this host (`wo` not found in /usr/local/bin or on PATH)',
  fix: 'install WordOps on this machine (https://docs.wordops.net/getting-started/installation-guide/), or add a host that runs it',
  engines: [{ id: 'wordops', title: 'WordOps', optional: true, ok: false, version: null, reason: 'WordOps is not installed on this host', fix: 'install WordOps', checkedAt: 1 }],
};
const containersDown: ModuleStatus = {
  ...base, id: 'containers', title: 'Containers', status: 'unavailable', navPermission: 'containers.read',
  reason: 'Caddy admin API at 127.0.0.1:2019 not answering (connection refused)', fix: 'install the `caddy` package and start it (`caddy run`)',
  engines: [
    { id: 'caddy', title: 'Caddy admin API', optional: false, ok: false, version: null, reason: 'Caddy admin API at 127.0.0.1:2019 not answering (connection refused)', fix: 'install the `caddy` package', checkedAt: 1 },
    { id: 'docker', title: 'Docker', optional: false, ok: true, version: '20.10.24 (API 1.41)', reason: null, fix: null, checkedAt: 1 },
  ],
  schedules: [],
};
const serverDegraded: ModuleStatus = {
  ...base, id: 'server', title: 'Server', status: 'degraded', navPermission: 'server.metrics.read', reason: 'Netdata at 127.0.0.1:19999 not answering (optional)', fix: 'optional: install the `netdata` package',
  schedules: [{ name: 'server.metrics-prune', everyMs: 3_600_000, running: false, runs: 3, lastRunAt: Date.now() - 60_000, lastDurationMs: 12, lastOk: false, lastError: 'database is locked', lastErrorAt: Date.now() - 60_000 }],
};

describe('module pages while a module is not ready', () => {
  it('the sites page on a machine without WordOps says so and how to fix it, instead of "No sites yet"', async () => {
    modules.items = [sitesDegraded];
    renderWithProviders(<ModuleGate module={sitesWeb}><p>No sites yet on this host</p></ModuleGate>);
    const banner = await screen.findByTestId('module-status-sites');
    expect(banner.textContent).toContain('WordOps is not installed on this host');
    expect(banner.textContent).toContain('How to fix: install WordOps on this machine');
    expect(screen.queryByText('No sites yet on this host')).toBeNull();
  });

  it('an unavailable module shows the reason and fix in place of its pages', async () => {
    modules.items = [containersDown];
    renderWithProviders(<ModuleGate module={containersWeb}><p>Services table</p></ModuleGate>);
    const banner = await screen.findByTestId('module-status-containers');
    expect(banner.textContent).toContain('Containers is unavailable');
    expect(banner.textContent).toContain('Caddy admin API at 127.0.0.1:2019 not answering');
    expect(banner.querySelector('code')?.textContent).toBe('caddy');
    expect(screen.queryByText('Services table')).toBeNull();
  });

  it('a degraded module keeps its pages with a banner above them; a ready one shows no banner', async () => {
    modules.items = [serverDegraded];
    const { unmount } = renderWithProviders(<ModuleGate module={serverWeb}><p>Host dashboard</p></ModuleGate>);
    expect((await screen.findByTestId('module-status-server')).textContent).toContain('Server is running with limits');
    expect(screen.getByText('Host dashboard')).toBeTruthy();
    unmount();
    modules.items = [{ ...serverDegraded, status: 'ready', reason: null, fix: null }];
    renderWithProviders(<ModuleGate module={serverWeb}><p>Host dashboard</p></ModuleGate>);
    expect(await screen.findByText('Host dashboard')).toBeTruthy();
    expect(screen.queryByTestId('module-status-server')).toBeNull();
  });

  it('a module the server does not list is not enabled on this panel', async () => {
    modules.items = [sitesDegraded];
    renderWithProviders(<ModuleGate module={containersWeb}><p>Services table</p></ModuleGate>);
    expect((await screen.findByTestId('module-status-containers')).textContent).toContain('not enabled');
    expect(screen.queryByText('Services table')).toBeNull();
  });
});

describe('navigation from GET /api/v1/modules', () => {
  it('lists the modules the server reports as visible, in its order, with their status; nothing else', () => {
    const items = navItems(['core.jobs.read'], [
      { ...containersDown },
      { ...sitesDegraded, visible: false },
      { ...serverDegraded, status: 'ready' },
      { ...base, id: 'gadgets', title: 'Gadgets', status: 'ready' }, // no web half in this console: no entry
    ]);
    expect(items.map((i) => i.label)).toEqual(['Dashboard', 'Containers', 'Server', 'Jobs', 'Modules', 'My account']);
    expect(items.find((i) => i.label === 'Containers')).toMatchObject({ to: '/containers', status: 'unavailable' });
    expect(navItems([], []).map((i) => i.label)).toEqual(['Dashboard', 'Modules', 'My account']);
  });
});

describe('the Modules page', () => {
  it('shows every module with its status, reason, fix, engines with versions and schedules with their last error', async () => {
    modules.items = [sitesDegraded, containersDown, serverDegraded];
    renderWithProviders(<ModulesPage />);
    const containers = await screen.findByTestId('module-containers');
    expect(containers.textContent).toContain('unavailable');
    expect(containers.textContent).toContain('How to fix: install the caddy package and start it');
    expect(containers.textContent).toContain('20.10.24 (API 1.41)');
    const server = screen.getByTestId('module-server');
    expect(server.textContent).toContain('server.metrics-prune');
    expect(server.textContent).toContain('every 1 h');
    expect(server.textContent).toContain('database is locked');
    expect(screen.getByTestId('module-sites').textContent).toContain('WordOps is not installed on this host');
  });
});
