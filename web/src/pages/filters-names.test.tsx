import { fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { json, mockApi, resetApi, signIn, testUser } from '../testing/api-mock';
import { renderAt } from '../testing/render';
import AuditPage from './AuditPage';
import JobsPage from './JobsPage';

/** Issue 18, items 9 and 10: filters in the address, "Clear filters" on empty results, names not ids. */
describe('jobs filters in the address', () => {
  afterEach(resetApi);

  it('reads the type prefix from the URL, says "no matches" and clears', async () => {
    const queries: string[] = [];
    mockApi((req, path) => {
      if (path === '/api/v1/jobs') {
        const q = new URL(req.url).searchParams;
        queries.push(`${q.get('type') ?? ''}|${q.get('state') ?? ''}`);
        return json(200, { items: [], nextBefore: null });
      }
      return undefined;
    }, { me: () => testUser({ permissions: ['core.jobs.read'] }) });
    await signIn();
    renderAt('/jobs?type=sites.&state=failed', '/jobs', JobsPage);
    expect(await screen.findByText('No matches')).toBeTruthy();
    await waitFor(() => expect(queries).toContain('sites.|failed'));
    expect((screen.getByLabelText('Filter by job type') as HTMLInputElement).value).toBe('sites.');
    fireEvent.click(screen.getAllByRole('button', { name: 'Clear filters' })[0]!);
    await waitFor(() => expect(queries.at(-1)).toBe('|'));
    expect(await screen.findByText('No jobs')).toBeTruthy();
  });
});

describe('audit log', () => {
  afterEach(resetApi);

  it('names targets and links them, shows a job still running as started, and keeps filters in the URL', async () => {
    const queries: string[] = [];
    const entry = (seq: number, action: string, outcome: string, target: unknown) => ({ seq, id: `e${seq}`, at: Date.now(), actor: { id: 'u1', name: 'alice', kind: 'user' }, ip: null, userAgent: null, action, target, outcome, details: { jobId: 'j1' }, hash: 'h' });
    mockApi((req, path) => {
      if (path === '/api/v1/audit/verify') return json(200, { ok: true, checked: 2, head: null, publishedHead: null });
      if (path === '/api/v1/audit') {
        queries.push(new URL(req.url).searchParams.get('action') ?? '');
        return json(200, { items: [
          entry(2, 'containers.create', 'failure', { type: 'container', id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', name: 'shop' }),
          entry(1, 'containers.create', 'started', { type: 'container', id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', name: 'shop' }),
        ], nextBefore: null });
      }
      return undefined;
    }, { me: () => testUser({ permissions: ['core.audit.read'] }) });
    await signIn();
    renderAt('/audit?action=containers.*', '/audit', AuditPage);
    const links = await screen.findAllByRole('link', { name: 'service shop' });
    expect(links[0]!.getAttribute('href')).toBe('/containers/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b');
    expect(document.querySelector('[data-status="started"]')?.textContent).toBe('started');
    expect(document.querySelector('[data-status="failure"]')).toBeTruthy();
    expect(screen.queryByText(/0190a1b2-c3d4/)).toBeNull();
    await waitFor(() => expect(queries).toContain('containers.*'));
    expect((screen.getByLabelText('Action') as HTMLInputElement).value).toBe('containers.*');
  });
});
