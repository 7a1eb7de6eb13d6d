import path from 'node:path';
import { createSlipwayClient, followJobLog, signIn, SlipwayApiError, type JobLogLine } from '@slipway/client';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeWo, type FakeWo } from '../modules/sites/server/test-fixtures/fake-wo.js';
import { repoRoot, startPanel, type Panel } from './panel.js';

/**
 * Issue 17: a script drives a real panel process through the generated client `@slipway/client`
 * only (no hand-written requests): first-run setup, sign-in, an API token, a user, the self-test
 * job and its log, the audit log page by page. Then `slipway api <operationId>` does the same
 * kind of calls from a shell with the API token.
 */
const PASSWORD = 'Harbour-Compass-Lantern-82';

interface Run { code: number | null; stdout: string; stderr: string }
function slipwayApi(args: string[], env: Record<string, string>): Promise<Run> {
  return run([path.join(repoRoot, 'node_modules/tsx/dist/cli.mjs'), 'server/src/main.ts', 'api', ...args], env);
}
async function run(argv: string[], env: Record<string, string>): Promise<Run> {
  const r = await execa(process.execPath, argv, {
    cwd: repoRoot, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, extendEnv: false, stdin: 'ignore', reject: false, stripFinalNewline: false,
  });
  return { code: r.exitCode ?? null, stdout: r.stdout, stderr: r.stderr };
}

describe('the API through @slipway/client and `slipway api`', () => {
  let panel: Panel;
  let fake: FakeWo;
  let apiToken: string;

  beforeAll(async () => {
    // WordOps played by the fake `wo` (it cannot be installed here), for the docs/API.md script.
    fake = createFakeWo();
    panel = await startPanel(fake.env);
  });
  afterAll(async () => {
    await panel?.stop();
    fake?.cleanup();
  });

  it('sets up, signs in, creates a user, runs the self-test and reads its log, pages through the audit log', async () => {
    const anonymous = createSlipwayClient({ baseUrl: panel.url });
    const setupToken = new URL(panel.setupUrl).hash.replace(/^#token=/, '');
    expect((await anonymous.call('getSetupStatus')).required).toBe(true);
    await anonymous.call('completeSetup', { body: { token: setupToken, username: 'owner', email: 'owner@example.net', password: PASSWORD } });

    // A signed-in script: access token from a password, then its own API token.
    const accessToken = await signIn({ baseUrl: panel.url, username: 'owner', password: PASSWORD });
    const session = createSlipwayClient({ baseUrl: panel.url, token: accessToken });
    const created = await session.call('createApiToken', { body: { name: 'e2e script', role: 'admin', expiresInDays: 1 } });
    apiToken = created.token;
    expect(apiToken).toMatch(/^slw_/);

    const api = createSlipwayClient({ baseUrl: panel.url, token: apiToken });
    expect((await api.call('getMe')).user.username).toBe('owner');
    const { user } = await api.call('createUser', { body: { username: 'viewer-one', email: 'viewer-one@example.net', role: 'viewer', password: PASSWORD } });
    expect((await api.call('getUser', { path: { id: user.id } })).user).toMatchObject({ username: 'viewer-one', role: 'viewer' });
    // A refusal is a SlipwayApiError with the shared error shape.
    const refused = await api.call('createUser', { body: { username: 'viewer-one', email: 'other@example.net', role: 'viewer', password: PASSWORD } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SlipwayApiError);
    expect((refused as SlipwayApiError).status).toBe(409);

    // The self-test job: followed to its end over SSE, then the same lines as JSON pages.
    const { job } = await api.call('runSelftest');
    const lines: JobLogLine[] = [];
    const end = await followJobLog(api, job.id, { onLine: (l) => lines.push(l) });
    expect(end.reason).toBe('finished');
    expect(lines.length).toBeGreaterThan(0);
    const finished = (await api.call('getJob', { path: { id: job.id } })).job;
    expect(finished.state).toBe('succeeded');
    const page = await api.call('listJobLogLines', { path: { id: job.id }, query: { after: 0, limit: 1000 } });
    expect(page.items.map((l) => l.line)).toEqual(lines.map((l) => l.line));

    // The audit log, two entries a page, newest first, until nextBefore is null.
    const seen: { seq: number; action: string }[] = [];
    let before: number | undefined;
    for (let i = 0; i < 200; i++) {
      const p = await api.call('listAuditEntries', { query: { limit: 2, ...(before === undefined ? {} : { before }) } });
      expect(p.items.length).toBeLessThanOrEqual(2);
      seen.push(...p.items);
      if (p.nextBefore === null) break;
      before = p.nextBefore;
    }
    expect(seen.length).toBeGreaterThan(4);
    const seqs = seen.map((e) => e.seq);
    expect([...seqs].sort((a, b) => b - a)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seen.map((e) => e.action)).toEqual(expect.arrayContaining(['user.create']));
  });

  it('`slipway api` calls operations with the API token, prints JSON, exits non-zero on errors, never shows the token', async () => {
    const env = { SLIPWAY_API_TOKEN: apiToken, SLIPWAY_URL: panel.url };
    const me = await slipwayApi(['getMe'], env);
    expect(me.stderr).toBe('');
    expect(me.code).toBe(0);
    expect(JSON.parse(me.stdout).user.username).toBe('owner');

    const made = await slipwayApi(['createUser', '--username', 'cli-user', '--email', 'cli-user@example.net', '--role', 'support', '--mustChangePassword', 'true'], env);
    expect(made.code, made.stderr).toBe(0);
    const id = JSON.parse(made.stdout).user.id as string;
    expect(JSON.parse(made.stdout).temporaryPassword).toEqual(expect.any(String));
    // Seen through the client too.
    const api = createSlipwayClient({ baseUrl: panel.url, token: apiToken });
    expect((await api.call('getUser', { path: { id } })).user).toMatchObject({ username: 'cli-user', role: 'support', mustChangePassword: true });

    const page = await slipwayApi(['listAuditEntries', '--limit', '3', '--action', 'user.*'], env);
    expect(page.code).toBe(0);
    const entries = JSON.parse(page.stdout).items as { action: string }[];
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.every((e) => e.action.startsWith('user.'))).toBe(true);

    const missing = await slipwayApi(['getUser', '--id', 'no-such-user'], env);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(JSON.parse(missing.stderr)).toMatchObject({ status: 404, error: { code: 'not_found' } });

    const invalid = await slipwayApi(['createUser', '--username', 'x', '--email', 'not-an-email', '--role', 'viewer'], env);
    expect(invalid.code).toBe(1);
    expect(JSON.parse(invalid.stderr)).toMatchObject({ status: 400, error: { code: 'validation_failed' } });

    const anonymous = await slipwayApi(['getMe'], { SLIPWAY_URL: panel.url });
    expect(anonymous.code).toBe(2);
    expect(anonymous.stderr).toMatch(/SLIPWAY_API_TOKEN/);
    const badToken = await slipwayApi(['getMe', '--token', 'slw_00000000_' + '0'.repeat(64)], { SLIPWAY_URL: panel.url });
    expect(badToken.code).toBe(1);
    expect(JSON.parse(badToken.stderr)).toMatchObject({ status: 401 });

    for (const r of [me, made, page, missing, invalid, anonymous, badToken]) {
      expect(r.stdout + r.stderr).not.toContain(apiToken);
      expect(r.stdout + r.stderr).not.toContain(apiToken.split('_')[2]!);
    }
    // The token went in a header, never in a URL: the panel's output never shows it either.
    expect(panel.output()).not.toContain(apiToken.split('_')[2]!);
  });

  it('runs the docs/API.md script: an API token creates a site and follows its job log to the end', async () => {
    const domain = 'api-script.example.com';
    const r = await run([path.join(repoRoot, 'packages/client/examples/create-site.mjs'), domain], { SLIPWAY_URL: panel.url, SLIPWAY_API_TOKEN: apiToken });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^signed in as owner \(admin\)$/m);
    expect(r.stdout).toMatch(/^job succeeded$/m);
    expect(r.stdout).toMatch(/^\[\w+\] /m);
    expect(r.stdout).toContain(`"domain": "${domain}"`);
    expect(fake.state().sites[domain]).toBeDefined();
  });
});
