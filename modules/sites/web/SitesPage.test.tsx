import { fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { json, mockApi, resetApi, signIn, testUser } from '../../../web/src/testing/api-mock';
import { renderWithProviders } from '../../../web/src/testing/render';
import SitesPage from './SitesPage';

const me = () => testUser({ permissions: ['sites.read', 'sites.refresh'] });
const list = () => json(200, { items: [], total: 0, refreshedAt: null });

describe('sites page refresh (issue 18: success that was not)', () => {
  afterEach(resetApi);

  it('does not say "Inventory refreshed" when nothing was refreshed', async () => {
    mockApi((req, path) => {
      if (path === '/api/v1/sites') return list();
      if (path === '/api/v1/sites/alerts') return json(200, { items: [] });
      if (path === '/api/v1/sites/refresh') return json(503, { error: { code: 'unavailable', message: 'Nothing was refreshed: WordOps (wo) is not installed on local' } });
      return undefined;
    }, { me });
    await signIn();
    renderWithProviders(<SitesPage />);
    fireEvent.click(await screen.findByRole('button', { name: 'Refresh' }));
    expect(await screen.findByText('Nothing was refreshed: WordOps (wo) is not installed on local')).toBeTruthy();
    expect(screen.queryByText(/Inventory refreshed/)).toBeNull();
  });

  it('names the hosts that failed on a partial refresh, and counts what was refreshed otherwise', async () => {
    let failures: { host: string; reason: string }[] = [{ host: 'web2', reason: 'WordOps (wo) is not installed on web2' }];
    mockApi((req, path) => {
      if (path === '/api/v1/sites') return list();
      if (path === '/api/v1/sites/alerts') return json(200, { items: [] });
      if (path === '/api/v1/sites/refresh') return json(200, { reports: [{ host: 'local', sites: 3, removed: 0, failed: 0, durationMs: 5 }], failures });
      return undefined;
    }, { me });
    await signIn();
    renderWithProviders(<SitesPage />);
    fireEvent.click(await screen.findByRole('button', { name: 'Refresh' }));
    expect(await screen.findByText('Refreshed 1 of 2 hosts')).toBeTruthy();
    expect(screen.getByText('WordOps (wo) is not installed on web2')).toBeTruthy();
    failures = [];
    await waitFor(() => expect((screen.getByRole('button', { name: 'Refresh' }) as HTMLButtonElement).disabled).toBe(false));
    fireEvent.click(screen.getByRole('button', { name: 'Refresh' }));
    expect(await screen.findByText('Inventory refreshed: 3 sites on 1 host')).toBeTruthy();
  });
});
