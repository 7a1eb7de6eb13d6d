import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { json, mockApi, resetApi, signIn as signInAs, testUser, type ApiHandler } from '../../../web/src/testing/api-mock';
import { renderAt, renderWithProviders } from '../../../web/src/testing/render';
import { appNameProblem, type App, type ConfigItem } from './api';
import AppPage from './AppPage';
import AppsPage from './AppsPage';
import NewAppPage from './NewAppPage';

const mockFetch = (handler: ApiHandler) => mockApi(handler, { me: () => testUser({ role: 'operator', permissions }) });
afterEach(resetApi);

const ALL = ['apps.read', 'apps.deploy', 'apps.configure', 'apps.destroy', 'core.jobs.cancel'];
let permissions = ALL;
async function signIn(perms = ALL) {
  permissions = perms;
  await signInAs();
}

const app = (over: Partial<App> = {}): App => ({
  id: 'id', host: 'local', name: 'shop', ownerId: 'u-owner', state: 'ready', status: 'running', deploySource: 'docker-image', image: 'nginx:1.27',
  gitCommit: null, gitRemote: null, domains: [], url: 'http://shop.dokku.example.net', scale: { web: 1 }, processes: 1,
  lastDeploy: { jobId: 'j1', outcome: 'succeeded', at: Date.now() - 60_000 }, refreshedAt: Date.now(), createdAt: 0, updatedAt: 0, ...over,
});

describe('apps list', () => {
  it('renders each app with its status badge, source and last deploy', async () => {
    const calls = mockFetch((_req, path) => {
      if (path === '/api/v1/apps') {
        return json(200, {
          total: 3, limit: 50, offset: 0, refreshedAt: Date.now(), items: [
            app({ id: 'a', name: 'shop' }),
            app({ id: 'b', name: 'blog', status: 'stopped', lastDeploy: { jobId: 'j2', outcome: 'failed', at: Date.now() } }),
            app({ id: 'c', name: 'new-one', status: 'not_deployed', deploySource: '', image: null, url: null, lastDeploy: null }),
          ],
        });
      }
    });
    await signIn();
    renderWithProviders(<AppsPage />);
    expect(await screen.findByText('shop', {}, { timeout: 5000 })).toBeTruthy();
    expect(screen.getByText('blog')).toBeTruthy();
    const rows = screen.getAllByRole('row').slice(1);
    expect(rows.map((r) => within(r).getAllByText(/running|stopped|not deployed/)[0]!.closest('[data-status]')?.getAttribute('data-status'))).toEqual(['running', 'stopped', 'not_deployed']);
    expect(within(rows[0]!).getByText('nginx:1.27')).toBeTruthy();
    expect(within(rows[1]!).getByText('failed')).toBeTruthy();
    expect(within(rows[2]!).getByText('never')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'New app' })).toBeTruthy();
    expect(screen.getByText('3 apps')).toBeTruthy();
    // The status filter and the search go to the server (the inventory), not filtered here.
    fireEvent.change(screen.getByRole('textbox', { name: 'Search' }), { target: { value: 'sho' } });
    await waitFor(() => expect(calls.some((c) => c.path === '/api/v1/apps' && c.method === 'GET')).toBe(true));
  });

  it('says there are no apps yet (and offers to create one) when the inventory is empty', async () => {
    mockFetch((_req, path) => (path === '/api/v1/apps' ? json(200, { items: [], total: 0, limit: 50, offset: 0, refreshedAt: Date.now() }) : undefined));
    await signIn();
    renderWithProviders(<AppsPage />);
    expect(await screen.findByText('No apps yet')).toBeTruthy();
    expect(screen.getAllByRole('button', { name: 'New app' }).length).toBe(2);
  });

  it('a reader sees no create button', async () => {
    mockFetch((_req, path) => (path === '/api/v1/apps' ? json(200, { items: [], total: 0, limit: 50, offset: 0, refreshedAt: null }) : undefined));
    await signIn(['apps.read']);
    renderWithProviders(<AppsPage />);
    expect(await screen.findByText('No apps yet')).toBeTruthy();
    expect(screen.getByText(/has not been read from Dokku yet/)).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'New app' })).toBeNull();
  });
});

describe('new app', () => {
  it('checks the name with the server\'s rule', () => {
    expect(appNameProblem('shop')).toBeNull();
    expect(appNameProblem('my.app-2')).toBeNull();
    for (const bad of ['', 'Shop', '-x', '.x', 'a_b', 'a b', 'a;id', '$(id)', 'ѕhop', 'a'.repeat(64)]) expect(appNameProblem(bad), bad).not.toBeNull();
    expect(appNameProblem('a;id')).toBe('";" is not allowed: only a-z, 0-9, dots and hyphens');
    expect(appNameProblem('my app')).toBe('Spaces are not allowed: only a-z, 0-9, dots and hyphens');
  });

  it('shows the server\'s 400 at the name field and sends nothing while the name is invalid', async () => {
    const calls = mockFetch((req, path) => {
      if (path === '/api/v1/apps' && req.method === 'POST') {
        return json(400, { error: { code: 'validation_failed', message: 'body.name: name: an app name has lowercase letters…', details: { issues: [{ path: 'body.name', message: 'name: an app name has lowercase letters, digits, dots and hyphens (server)' }] } } });
      }
    });
    await signIn();
    renderWithProviders(<NewAppPage />);
    const input = await screen.findByLabelText(/App name/);
    fireEvent.change(input, { target: { value: 'Bad_Name' } });
    expect(screen.getByText('No capital letters: Dokku app names are lowercase')).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Create app' }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(input, { target: { value: 'shop' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create app' }));
    const err = await screen.findByText('an app name has lowercase letters, digits, dots and hyphens (server)');
    expect(input.getAttribute('aria-describedby') ?? '').toContain(err.id);
    expect(calls.filter((c) => c.method === 'POST').map((c) => c.body)).toEqual([{ name: 'shop' }]);
  });

  it('a name already taken (409) is shown at the field', async () => {
    mockFetch((req, path) => (path === '/api/v1/apps' && req.method === 'POST' ? json(409, { error: { code: 'name_taken', message: 'An app named shop already exists on local' } }) : undefined));
    await signIn();
    renderWithProviders(<NewAppPage />);
    const input = await screen.findByLabelText(/App name/);
    fireEvent.change(input, { target: { value: 'shop' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create app' }));
    const err = await screen.findByText('An app named shop already exists on local');
    expect(input.getAttribute('aria-describedby') ?? '').toContain(err.id);
  });
});

function appRoutes(over: Partial<App> = {}, config: ConfigItem[] = []) {
  return (req: Request, path: string) => {
    if (path === '/api/v1/apps/shop' && req.method === 'GET') return json(200, { app: app(over) });
    if (path === '/api/v1/apps/shop/releases') return json(200, { items: [] });
    if (path === '/api/v1/apps/shop/deploys') return json(200, { items: [] });
    if (path === '/api/v1/apps/shop/config' && req.method === 'GET') return json(200, { items: config });
    if (path === '/api/v1/apps/shop' && req.method === 'DELETE') return json(202, { job: { id: 'jd', title: 'Destroy shop', type: 'apps.destroy', state: 'queued', progress: 0, steps: [] } });
    return undefined;
  };
}

describe('app page', () => {
  it('destroys only after the app name is typed again, and sends it as confirm', async () => {
    const calls = mockFetch(appRoutes());
    await signIn();
    renderAt('/apps/shop', '/apps/$appName', AppPage);
    fireEvent.click(await screen.findByRole('button', { name: 'Destroy' }));
    const dialog = await screen.findByRole('dialog');
    const confirm = within(dialog).getByRole('button', { name: 'Destroy app' }) as HTMLButtonElement;
    expect(confirm.disabled).toBe(true);
    const typed = within(dialog).getByLabelText(/Type/);
    fireEvent.change(typed, { target: { value: 'sho' } });
    expect(confirm.disabled).toBe(true);
    fireEvent.change(typed, { target: { value: 'shop ' } });
    expect(confirm.disabled).toBe(true);
    fireEvent.click(confirm);
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false);
    fireEvent.change(typed, { target: { value: 'shop' } });
    expect(confirm.disabled).toBe(false);
    fireEvent.click(confirm);
    await waitFor(() => expect(calls.filter((c) => c.method === 'DELETE')).toEqual([{ path: '/api/v1/apps/shop', method: 'DELETE', body: { confirm: 'shop' } }]));
  });

  it('hides the actions a role lacks', async () => {
    mockFetch(appRoutes());
    await signIn(['apps.read']);
    renderAt('/apps/shop', '/apps/$appName', AppPage);
    const configTab = await screen.findByRole('tab', { name: 'Config' });
    expect(screen.queryByRole('button', { name: 'Destroy' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Deploy' })).toBeNull();
    fireEvent.click(configTab);
    await screen.findByText('No environment variables.');
    expect(screen.queryByRole('button', { name: 'Add variable' })).toBeNull();
  });

  it('the config tab never shows a secret\'s value, not even when editing it', async () => {
    // Even a value the server sent for a key marked secret would stay masked.
    const calls = mockFetch(appRoutes({}, [
      { key: 'API_TOKEN', value: null, secret: true },
      { key: 'LEAKY', value: 'hunter2-leaked', secret: true },
      { key: 'MODE', value: 'production', secret: false },
    ]));
    await signIn();
    renderAt('/apps/shop', '/apps/$appName', AppPage);
    fireEvent.click(await screen.findByRole('tab', { name: 'Config' }));
    expect(await screen.findByText('production')).toBeTruthy();
    expect(screen.getAllByLabelText('masked value')).toHaveLength(2);
    expect(document.body.textContent).not.toContain('hunter2-leaked');
    const row = screen.getByText('LEAKY').closest('tr')!;
    fireEvent.click(within(row).getByRole('button', { name: 'Replace' }));
    const dialog = await screen.findByRole('dialog');
    const value = within(dialog).getByLabelText(/^Value/) as HTMLInputElement;
    expect(value.value).toBe('');
    expect(value.type).toBe('password');
    expect((within(dialog).getByRole('switch', { name: /Secret/ }) as HTMLInputElement).disabled).toBe(true);
    expect(dialog.innerHTML).not.toContain('hunter2-leaked');
    expect(document.body.innerHTML).not.toContain('hunter2-leaked');
    expect(calls.some((c) => c.method === 'PATCH')).toBe(false);
  });

  it('sets a secret with "apply on next deploy", and the server\'s 400 shows at the field', async () => {
    let first = true;
    const calls = mockFetch((req, path) => {
      if (path === '/api/v1/apps/shop/config' && req.method === 'PATCH') {
        if (first) {
          first = false;
          return json(400, { error: { code: 'validation_failed', message: 'body: key: "lower-case" is not a valid name', details: { issues: [{ path: 'body', message: 'key: "X-1" is not a valid name (server)' }] } } });
        }
        return json(202, { job: { id: 'jc', title: 'Config', type: 'apps.config', state: 'queued', progress: 0, steps: [] } });
      }
      return appRoutes()(req, path);
    });
    await signIn();
    renderAt('/apps/shop', '/apps/$appName', AppPage);
    fireEvent.click(await screen.findByRole('tab', { name: 'Config' }));
    fireEvent.click(await screen.findByRole('button', { name: 'Add variable' }));
    const dialog = await screen.findByRole('dialog');
    const key = within(dialog).getByLabelText(/^Name/);
    fireEvent.change(key, { target: { value: 'STRIPE_KEY' } });
    fireEvent.change(within(dialog).getByLabelText(/^Value/), { target: { value: 'sk_live_123' } });
    fireEvent.click(within(dialog).getByRole('switch', { name: /Secret/ }));
    expect((within(dialog).getByLabelText(/^Value/) as HTMLInputElement).type).toBe('password');
    fireEvent.click(within(dialog).getByLabelText('Apply on next deploy'));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    const err = await within(dialog).findByText('"X-1" is not a valid name (server)');
    expect(key.getAttribute('aria-describedby') ?? '').toContain(err.id);
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(calls.filter((c) => c.method === 'PATCH')).toHaveLength(2));
    expect(calls.filter((c) => c.method === 'PATCH')[1]!.body).toEqual({ set: { STRIPE_KEY: 'sk_live_123' }, secret: ['STRIPE_KEY'], restart: false });
    // The dialog closes; the typed value is gone from the page.
    await waitFor(() => expect(screen.queryByLabelText(/^Value/)).toBeNull());
    expect(document.body.innerHTML).not.toContain('sk_live_123');
  });

  it('the deploy dialog shows the server\'s 400 at the image field', async () => {
    mockFetch((req, path) => {
      if (path === '/api/v1/apps/shop/deploys' && req.method === 'POST') {
        return json(400, { error: { code: 'validation_failed', message: 'x', details: { issues: [{ path: 'body.image', message: 'image: not a Docker image reference (server)' }] } } });
      }
      return appRoutes()(req, path);
    });
    await signIn();
    renderAt('/apps/shop', '/apps/$appName', AppPage);
    fireEvent.click(await screen.findByRole('button', { name: 'Deploy' }));
    const dialog = await screen.findByRole('dialog');
    const image = within(dialog).getByLabelText(/^Image/);
    fireEvent.change(image, { target: { value: '-oops' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Deploy' }));
    expect(await within(dialog).findByText(/A Docker image reference/)).toBeTruthy();
    fireEvent.change(image, { target: { value: 'nginx:1.28' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Deploy' }));
    const err = await within(dialog).findByText('not a Docker image reference (server)');
    expect(image.getAttribute('aria-describedby') ?? '').toContain(err.id);
  });
});

describe('issue 11 gaps: hosts, owners, build output, certificate alerts', () => {
  const hosts = { items: [
    { id: 'local', name: 'This machine', kind: 'local', default: true, status: 'online' },
    { id: 'dokku-2', name: 'Dokku two', kind: 'ssh', default: false, status: 'online' },
  ] };

  it('new app: picks the Dokku host, sends it, and shows the server\'s refusal at the host field', async () => {
    const calls = mockFetch((req, path) => {
      if (path === '/api/v1/apps/-/hosts') return json(200, hosts);
      if (path === '/api/v1/apps' && req.method === 'POST') return json(422, { error: { code: 'host_without_dokku', message: 'Host dokku-2 does not run Dokku (configure SLIPWAY_APPS_HOSTS or its dokku capability)' } });
    });
    await signIn();
    renderWithProviders(<NewAppPage />);
    const host = await screen.findByRole('combobox', { name: /Dokku host/ });
    expect((host as HTMLInputElement).value).toBe('This machine (this machine) · default');
    fireEvent.click(host);
    fireEvent.click(await screen.findByRole('option', { name: 'Dokku two', hidden: true }));
    fireEvent.change(screen.getByLabelText(/App name/), { target: { value: 'shop' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create app' }));
    const err = await screen.findByText(/Host dokku-2 does not run Dokku/);
    expect(host.getAttribute('aria-describedby') ?? '').toContain(err.id);
    expect(calls.filter((c) => c.method === 'POST').map((c) => c.body)).toEqual([{ name: 'shop', hostId: 'dokku-2' }]);
  });

  it('apps list: certificate alerts on top, ownerless apps marked, and staff can list only those', async () => {
    const urls: string[] = [];
    mockFetch((req, path) => {
      urls.push(req.url);
      if (path === '/api/v1/apps/-/alerts') return json(200, { items: [{ host: 'local', name: 'shop', kind: 'expiring', daysLeft: 3, expiresAt: Date.now() + 3 * 86_400_000, message: 'The certificate of shop expires in 3 days (2026-12-06)', since: Date.now(), checkedAt: Date.now() }] });
      if (path === '/api/v1/apps') return json(200, { total: 1, limit: 50, offset: 0, refreshedAt: Date.now(), items: [app({ ownerId: null })] });
    });
    await signIn([...ALL, 'apps.assign']);
    renderWithProviders(<AppsPage />);
    const banner = await screen.findByTestId('cert-alerts');
    expect(within(banner).getByText('shop')).toBeTruthy();
    expect(banner.textContent).toContain('expires in 3 days (2026-12-06)');
    expect(await screen.findByTestId('ownerless-badge')).toBeTruthy();
    fireEvent.click(screen.getByRole('checkbox', { name: 'Without owner only' }));
    await waitFor(() => expect(urls.some((u) => u.includes('/api/v1/apps?') && u.includes('ownerless=true'))).toBe(true));
  });

  it('app page: an ownerless app is given to a user; a bad pick is shown at the owner field', async () => {
    let answer = 400;
    const calls = mockFetch((req, path) => {
      if (path === '/api/v1/apps/-/owners') return json(200, { items: [{ id: 'u1', username: 'alice', role: 'user' }] });
      if (path === '/api/v1/apps/shop/owner' && req.method === 'PUT') {
        return answer === 400
          ? json(400, { error: { code: 'validation_failed', message: 'ownerId: no active user has this id', details: { issues: [{ path: 'ownerId', message: 'No active user has this id' }] } } })
          : json(200, { app: app({ ownerId: 'u1' }) });
      }
      return appRoutes({ ownerId: null })(req, path);
    });
    await signIn([...ALL, 'apps.assign']);
    renderAt('/apps/shop', '/apps/$appName', AppPage);
    const panel = await screen.findByTestId('ownerless');
    fireEvent.click(within(panel).getByRole('button', { name: 'Assign owner' }));
    const input = within(panel).getByRole('combobox', { name: 'Owner' });
    const needed = await within(panel).findByText('Pick the user who will own this app');
    expect(input.getAttribute('aria-describedby') ?? '').toContain(needed.id);
    fireEvent.click(input);
    fireEvent.click(await screen.findByRole('option', { name: 'alice (user)', hidden: true }));
    fireEvent.click(within(panel).getByRole('button', { name: 'Assign owner' }));
    const err = await within(panel).findByText('No active user has this id');
    expect(input.getAttribute('aria-describedby') ?? '').toContain(err.id);
    answer = 200;
    fireEvent.click(within(panel).getByRole('button', { name: 'Assign owner' }));
    await waitFor(() => expect(calls.filter((c) => c.method === 'PUT').map((c) => c.body)).toEqual([{ ownerId: 'u1' }, { ownerId: 'u1' }]));
  });

  it('app page: a user without apps.assign is told who can assign, with no form', async () => {
    mockFetch(appRoutes({ ownerId: null }));
    await signIn(['apps.read']);
    renderAt('/apps/shop', '/apps/$appName', AppPage);
    const panel = await screen.findByTestId('ownerless');
    expect(panel.textContent).toContain('An operator or administrator can give it to a user.');
    expect(within(panel).queryByRole('button', { name: 'Assign owner' })).toBeNull();
  });

  it('deploys tab: Dokku\'s builds, and a past build\'s output opened from Dokku', async () => {
    const calls = mockFetch((req, path) => {
      if (path === '/api/v1/apps/shop/builds') return json(200, { items: [{ id: 'mabc123def4567', kind: 'build', status: 'succeeded', source: 'git-from-image', startedAt: Date.now() - 90_000, finishedAt: Date.now() - 60_000, exitCode: 0, jobId: null, releaseNumber: null }] });
      if (path === '/api/v1/apps/shop/builds/mabc123def4567/output') {
        return json(200, { build: { id: 'mabc123def4567', kind: 'build', status: 'succeeded', source: 'git-from-image', startedAt: Date.now() - 90_000, finishedAt: Date.now() - 60_000, exitCode: 0, jobId: null, releaseNumber: null }, lines: ['-----> Building shop from Dockerfile', '=====> Application deployed:'], truncated: false });
      }
      return appRoutes()(req, path);
    });
    await signIn();
    renderAt('/apps/shop', '/apps/$appName', AppPage);
    fireEvent.click(await screen.findByRole('tab', { name: /Deploys/ }));
    expect(await screen.findByText('outside Slipway')).toBeTruthy();
    fireEvent.click(await screen.findByRole('button', { name: 'Output of build mabc123def4567' }));
    const out = await screen.findByTestId('build-output');
    // (the lines themselves are drawn by the log viewer, which jsdom cannot lay out: e2e/apps.e2e.test.ts reads them)
    expect(await within(out).findByText(/^started /)).toBeTruthy();
    expect(within(out).getByText('succeeded')).toBeTruthy();
    expect(calls.some((c) => c.path === '/api/v1/apps/shop/builds/mabc123def4567/output')).toBe(true);
  });
});
