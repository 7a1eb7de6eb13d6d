import { fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { json, mockApi, resetApi, signIn, testUser } from '../../../web/src/testing/api-mock';
import { renderWithProviders } from '../../../web/src/testing/render';
import { SiteSettings } from './SiteSettings';

const site = {
  id: 's1', host: 'local', domain: 'blog.example.com', type: 'wp', cache: 'wpfc', php: '8.2', enabled: true,
  ssl: { enabled: false, provider: null, expiresAt: null, daysLeft: null, checkedAt: null }, hsts: false,
  webroot: '/var/www/blog.example.com', databaseName: 'blog', diskBytes: 1, ownerId: 'me', state: 'ready' as const, refreshedAt: 1, createdAt: 1, updatedAt: 1,
};

describe('site settings apply explicitly (issue 18, item 7)', () => {
  afterEach(resetApi);

  it('changing a select runs nothing; Apply shows the summary and sends one change', async () => {
    let jobs: unknown[] = [];
    const calls = mockApi((req, path) => {
      if (path === '/api/v1/jobs') return json(200, { items: jobs, nextBefore: null });
      if (path === '/api/v1/sites/blog.example.com' && req.method === 'PUT') return json(202, { job: { id: 'j1', title: 'Update site blog.example.com: PHP 8.2 → 8.3, disable' } });
      return undefined;
    }, { me: () => testUser({ permissions: ['sites.read', 'sites.update', 'core.jobs.read'] }) });
    await signIn();
    renderWithProviders(<SiteSettings site={site} busy={false} resource="site:local:blog.example.com" />);
    fireEvent.click(await screen.findByRole('combobox', { name: 'PHP version' }));
    fireEvent.click(await screen.findByRole('option', { name: 'PHP 8.3', hidden: true }));
    fireEvent.click(screen.getByRole('switch', { name: 'Enabled' }));
    const summary = await screen.findByTestId('settings-summary');
    expect(summary.textContent).toContain('PHP 8.2 → 8.3');
    expect(summary.textContent).toContain('Disable the site');
    expect(calls.some((c) => c.method === 'PUT')).toBe(false);
    fireEvent.click(screen.getByRole('button', { name: 'Apply 2 changes' }));
    await waitFor(() => expect(calls.find((c) => c.method === 'PUT')?.body).toEqual({ host: 'local', php: '8.3', enabled: false }));
    expect(await screen.findByText('Update site blog.example.com: PHP 8.2 → 8.3, disable')).toBeTruthy();
    expect(document.body.textContent).not.toMatch(/previousPhp/);
    jobs = [];
  });

  it('a change the server refuses is shown on the page', async () => {
    mockApi((req, path) => {
      if (path === '/api/v1/jobs') return json(200, { items: [], nextBefore: null });
      if (req.method === 'PUT') return json(409, { error: { code: 'conflict', message: 'Site blog.example.com is being changed by job j0; wait for it to finish' } });
      return undefined;
    }, { me: () => testUser({ permissions: ['sites.update', 'core.jobs.read'] }) });
    await signIn();
    renderWithProviders(<SiteSettings site={site} busy={false} resource="site:local:blog.example.com" />);
    fireEvent.click(await screen.findByRole('switch', { name: "Let's Encrypt SSL" }));
    fireEvent.click(screen.getByRole('button', { name: 'Apply 1 change' }));
    const alert = await screen.findByTestId('settings-error');
    expect(alert.textContent).toContain('is being changed by job j0');
  });

  it('a failed job on the site shows its error next to the settings', async () => {
    mockApi((req, path) => {
      if (path === '/api/v1/jobs') return json(200, { items: [{ id: 'j9', type: 'sites.update', title: 'Update site blog.example.com: SSL on', state: 'failed', resource: 'site:local:blog.example.com', steps: [{ name: 'SSL', state: 'failed', progress: 0, startedAt: 1, finishedAt: 2 }], currentStep: 0, progress: 0, error: "SSL: Let's Encrypt could not reach blog.example.com", actor: { id: 'me', name: 'me' }, cancelRequested: false, createdAt: Date.now() - 5000, startedAt: Date.now() - 4000, finishedAt: Date.now() - 1000 }], nextBefore: null });
      return undefined;
    }, { me: () => testUser({ permissions: ['sites.update', 'core.jobs.read'] }) });
    await signIn();
    renderWithProviders(<SiteSettings site={site} busy={false} resource="site:local:blog.example.com" />);
    expect((await screen.findByTestId('latest-job')).textContent).toContain("Let's Encrypt could not reach blog.example.com");
  });
});
