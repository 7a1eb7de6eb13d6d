import { z } from 'zod';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config.js';
import { createTestApp, type TestApp } from '../../testing/harness.js';
import { defineModule } from '../module.js';
import { definePermissions } from '../rbac/permissions.js';
import { defineEngine, type ProbeResult } from './engine.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const perms = definePermissions('gizmo', {
  read: { description: 'See gizmos', roles: ['operator', 'viewer', 'user'] },
});

/** A module with one engine whose answer the test controls, one route, background work and a schedule. */
function gizmoModule(state: { probe: ProbeResult; readyCalls: number; failReady?: boolean; ticks: number; tickError?: string }) {
  return defineModule({
    id: 'gizmo',
    title: 'Gizmo',
    config: z.object({ adminUrl: z.string().default('http://127.0.0.1:1') }),
    permissions: perms,
    navPermission: perms.read,
    engines: [defineEngine<{ adminUrl: string }>({ id: 'gizmod', title: 'Gizmo daemon', probe: async () => state.probe })],
    register(ctx) {
      ctx.http.get('/gizmos', { config: { permission: perms.read }, schema: { operationId: 'listGizmos', summary: 'Gizmos', tags: ['gizmos'] } }, async () => ({ items: [] }));
      ctx.onReady(async () => {
        state.readyCalls++;
        if (state.failReady) throw new Error('gizmod refused the initial load');
      });
      ctx.schedule('tick', 60, async () => {
        state.ticks++;
        if (state.tickError) throw new Error(state.tickError);
      });
    },
  });
}

const DOWN: ProbeResult = { ok: false, reason: 'Gizmo daemon not answering at 127.0.0.1:1 (connection refused)', fix: 'install the `gizmod` package and start it' };

describe('modules whose engine is missing', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('registers the routes but answers 503 module_unavailable (after 401/403), and becomes ready without a restart when the engine appears', async () => {
    const state = { probe: DOWN, readyCalls: 0, ticks: 0 };
    t = await createTestApp({ modules: [gizmoModule(state)], env: { SLIPWAY_ENGINE_RETRY_MS: '100' } });
    const admin = await t.signIn('admin');
    const tenant = await t.signIn('user');
    const billing = await t.signIn('billing');

    expect((await t.app.inject({ method: 'GET', url: '/api/v1/gizmos' })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/gizmos', headers: billing.headers })).statusCode).toBe(403);
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/gizmos', headers: admin.headers });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: { code: 'module_unavailable', message: DOWN.reason, details: { module: 'gizmo', fix: DOWN.fix } } });
    // A tenant learns that it is unavailable, not the machine's addresses.
    const asTenant = await t.app.inject({ method: 'GET', url: '/api/v1/gizmos', headers: tenant.headers });
    expect(asTenant.statusCode).toBe(503);
    expect(asTenant.json().error.code).toBe('module_unavailable');
    expect(asTenant.body).not.toContain('127.0.0.1');
    expect(state.readyCalls).toBe(0);
    expect(state.ticks).toBe(0);

    const list = await t.app.inject({ method: 'GET', url: '/api/v1/modules', headers: admin.headers });
    expect(list.statusCode).toBe(200);
    expect(list.json().items).toEqual([expect.objectContaining({
      id: 'gizmo', title: 'Gizmo', status: 'unavailable', reason: DOWN.reason, fix: DOWN.fix, navPermission: 'gizmo.read', visible: true,
      engines: [expect.objectContaining({ id: 'gizmod', ok: false, reason: DOWN.reason })],
      schedules: [expect.objectContaining({ name: 'gizmo.tick', everyMs: 60, runs: 0 })],
    })]);
    const tenantList = (await t.app.inject({ method: 'GET', url: '/api/v1/modules', headers: tenant.headers })).json().items[0];
    expect(tenantList).toMatchObject({ id: 'gizmo', status: 'unavailable', fix: null, engines: [], schedules: [] });
    expect(JSON.stringify(tenantList)).not.toContain('127.0.0.1');
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/modules' })).statusCode).toBe(401);

    const ready = await t.app.inject({ method: 'GET', url: '/api/v1/ready' });
    expect(ready.json()).toMatchObject({ status: 'degraded', modules: { gizmo: { status: 'unavailable' } } });
    expect(ready.body).not.toContain('connection refused');

    state.probe = { ok: true, version: '1.2.3' };
    await until('gizmo ready', async () => (await t!.app.inject({ method: 'GET', url: '/api/v1/gizmos', headers: admin.headers })).statusCode === 200);
    expect(state.readyCalls).toBe(1);
    await until('the schedule ran', async () => state.ticks > 1);
    const after = (await t.app.inject({ method: 'GET', url: '/api/v1/modules', headers: admin.headers })).json().items[0];
    expect(after).toMatchObject({ status: 'ready', reason: null, fix: null, engines: [{ id: 'gizmod', ok: true, version: '1.2.3' }] });
    expect(after.schedules[0].runs).toBeGreaterThan(0);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/ready' })).json().modules.gizmo.status).toBe('ready');
  });

  it('a module whose start fails is unavailable with the reason, the panel keeps running, and the start is tried again', async () => {
    const state = { probe: { ok: true } as ProbeResult, readyCalls: 0, failReady: true, ticks: 0 };
    t = await createTestApp({ modules: [gizmoModule(state)], env: { SLIPWAY_ENGINE_RETRY_MS: '100' } });
    const admin = await t.signIn('admin');
    const first = (await t.app.inject({ method: 'GET', url: '/api/v1/modules', headers: admin.headers })).json().items[0];
    expect(first).toMatchObject({ status: 'unavailable', reason: 'Gizmo could not start: gizmod refused the initial load' });
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/health' })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/gizmos', headers: admin.headers })).json().error.code).toBe('module_unavailable');
    await until('tried again', async () => state.readyCalls >= 3);
    expect(state.ticks).toBe(0); // schedules wait for the start
    state.failReady = false;
    await until('started on a retry', async () => (await t!.app.inject({ method: 'GET', url: '/api/v1/gizmos', headers: admin.headers })).statusCode === 200);
    const calls = state.readyCalls;
    await sleep(300);
    expect(state.readyCalls).toBe(calls); // once started, never again
  });

  it('keeps a failing schedule running and shows its last error', async () => {
    const state = { probe: { ok: true } as ProbeResult, readyCalls: 0, ticks: 0, tickError: 'inventory host unreachable' };
    t = await createTestApp({ modules: [gizmoModule(state)] });
    const admin = await t.signIn('admin');
    await until('two failed runs', async () => state.ticks >= 2);
    const s = (await t.app.inject({ method: 'GET', url: '/api/v1/modules', headers: admin.headers })).json().items[0].schedules[0];
    expect(s).toMatchObject({ name: 'gizmo.tick', lastOk: false, lastError: 'inventory host unreachable' });
    expect(s.lastErrorAt).toBeGreaterThan(0);
    await t.close();
    const ticks = state.ticks;
    t = undefined;
    await sleep(200);
    expect(state.ticks).toBe(ticks); // stopped on close
  });

  it('an optional engine missing makes the module degraded: routes still answer', async () => {
    // Its own permissions: an app registers each module's own declarations only.
    const widgetPerms = definePermissions('widget', { read: { description: 'See widgets', roles: ['operator', 'viewer', 'user'] } });
    const mod = defineModule({
      id: 'widget', title: 'Widget', permissions: widgetPerms,
      engines: [defineEngine({ id: 'extra', title: 'Extra', optional: true, probe: async () => ({ ok: false, reason: 'Extra is not installed on this host', fix: 'install extra' }) })],
      register(ctx) {
        ctx.http.get('/widgets', { config: { permission: widgetPerms.read }, schema: { operationId: 'listWidgets', summary: 'Widgets', tags: ['widgets'] } }, async () => ({ items: [] }));
      },
    });
    t = await createTestApp({ modules: [mod] });
    const admin = await t.signIn('admin');
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/widgets', headers: admin.headers })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/modules', headers: admin.headers })).json().items[0]).toMatchObject({ status: 'degraded', reason: 'Extra is not installed on this host', fix: 'install extra' });
  });
});

describe('SLIPWAY_MODULES', () => {
  it('names a subset; an unknown id is a config error listing the valid ids', () => {
    expect(loadConfig({ SLIPWAY_MODULES: 'sites,server' }, ['sites', 'server', 'containers']).core.modules).toEqual(['sites', 'server']);
    expect(loadConfig({}, ['sites']).core.modules).toBeUndefined();
    let err: unknown;
    try {
      loadConfig({ SLIPWAY_MODULES: 'sites,vps' }, ['sites', 'server', 'containers']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual(['SLIPWAY_MODULES: unknown module vps; valid ids: sites, server, containers']);
  });
});
