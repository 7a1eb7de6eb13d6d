import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { modules } from '../modules.js';
import { roleHas } from '../platform/rbac/permissions.js';
import { ROLES, type Role } from '../platform/rbac/roles.js';
import { createTestApp, type TestApp } from '../testing/harness.js';

/**
 * Walks every registered route (HTTP, SSE and WebSocket) of the panel with all modules enabled and
 * proves each refuses an anonymous caller (401) and a caller whose role lacks the permission (403).
 * Public routes (health, setup, login, docs, static console) are listed explicitly.
 */
const EXPECTED_PUBLIC = [
  /^\/api\/v1\/health$/, /^\/api\/v1\/ready$/, /^\/api\/v1\/setup$/, /^\/api\/v1\/auth\/(login|login\/mfa|refresh|logout)$/,
  /^\/api\/openapi\.json$/, /^\/metrics$/, /^\/$/, /^\/\*$/,
  /^\/api\/v1\/netboot\/boot\/:file$/, // iPXE scripts: PXE has no credentials; the per-machine token guards them
];

function concrete(url: string): string {
  return url.replace(/:([A-Za-z]+)/g, (_m, name: string) => (name.toLowerCase().includes('id') ? '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b' : 'example.com')).replace(/\*$/, 'x');
}

describe('route table: every route checks authentication and permission', () => {
  let t: TestApp;
  const tokens = new Map<Role, Record<string, string>>();

  beforeAll(async () => {
    t = await createTestApp({ modules, startBackground: false });
    for (const role of ROLES) tokens.set(role, (await t.signIn(role, { username: `rt-${role}` })).headers);
  }, 120_000);
  afterAll(async () => t?.close());

  it('has routes from the core and every enabled module', () => {
    const urls = t.app.routeTable.map((r) => r.url);
    expect(urls).toContain('/api/v1/auth/me');
    expect(urls).toContain('/api/v1/jobs');
    expect(urls).toContain('/api/v1/audit');
    for (const m of modules) expect(urls.some((u) => u.startsWith(`/api/v1/`) && u.includes(m.id === 'server' ? 'server' : m.id))).toBe(true);
  });

  it('only the expected routes are public', () => {
    const publicRoutes = t.app.routeTable.filter((r) => r.access.public).map((r) => r.url);
    for (const url of publicRoutes) expect(EXPECTED_PUBLIC.some((re) => re.test(url)), `${url} is public`).toBe(true);
  });

  it('refuses anonymous callers with 401 on every non-public route', async () => {
    const failures: string[] = [];
    for (const r of t.app.routeTable.filter((x) => !x.access.public)) {
      const res = await t.app.inject({ method: r.method as 'GET', url: concrete(r.url), payload: ['GET', 'DELETE'].includes(r.method) ? undefined : {} });
      if (res.statusCode !== 401) failures.push(`${r.method} ${r.url} → ${res.statusCode}`);
    }
    expect(failures).toEqual([]);
  });

  it('refuses with 403 every role that lacks the route permission', async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const r of t.app.routeTable.filter((x) => x.access.permission)) {
      for (const role of ROLES.filter((ro) => !roleHas(ro, r.access.permission!))) {
        const res = await t.app.inject({ method: r.method as 'GET', url: concrete(r.url), headers: tokens.get(role), payload: ['GET', 'DELETE'].includes(r.method) ? undefined : {} });
        checked++;
        if (res.statusCode !== 403) failures.push(`${r.method} ${r.url} as ${role} → ${res.statusCode}`);
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(10);
  });

  it('answers malformed bodies with 400 and a clear message, changing nothing', async () => {
    const admin = tokens.get('admin')!;
    const countRows = async () => Number((await t.services.database.db.selectFrom('audit_log').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const before = await countRows();
    const failures: string[] = [];
    const bodyRoutes = t.app.routeTable.filter((r) => r.hasBody && !r.access.public);
    for (const r of bodyRoutes) {
      for (const payload of ['[1,2,3]', '{"unterminated": ']) {
        const res = await t.app.inject({ method: r.method as 'POST', url: concrete(r.url), headers: { ...admin, 'content-type': 'application/json' }, payload });
        const body = res.json() as { error?: { message?: string } };
        if (res.statusCode !== 400 || !body.error?.message) failures.push(`${r.method} ${r.url} with ${payload} → ${res.statusCode}`);
      }
    }
    expect(failures).toEqual([]);
    expect(bodyRoutes.length).toBeGreaterThan(5);
    expect(await countRows()).toBe(before);
  });

  it('refuses a real anonymous WebSocket upgrade', async () => {
    const ws = t.app.routeTable.find((r) => r.websocket);
    expect(ws, 'at least one WebSocket route').toBeDefined();
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const status = await new Promise<number>((resolve) => {
      const sock = new WebSocket(`${address.replace('http', 'ws')}${concrete(ws!.url)}`, ['slipway.v1']);
      sock.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      sock.on('open', () => resolve(101));
      sock.on('error', () => resolve(-1));
    });
    expect(status).toBe(401);
  });
});
