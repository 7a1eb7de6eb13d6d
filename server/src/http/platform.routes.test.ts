import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../testing/harness.js';

describe('platform routes: health, audit log over HTTP, metrics', () => {
  let t: TestApp;
  let admin: Awaited<ReturnType<TestApp['signIn']>>;

  beforeAll(async () => {
    t = await createTestApp({ startBackground: false });
    admin = await t.signIn('admin', { username: 'audit-admin' });
  });
  afterAll(async () => t?.close());

  it('answers health without credentials', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('lists the audit log newest first as JSON, and a new entry shows at once', async () => {
    const first = await t.app.inject({ method: 'GET', url: '/api/v1/audit?limit=5', headers: admin.headers });
    expect(first.statusCode).toBe(200);
    expect(first.headers['content-type']).toMatch(/^application\/json/);
    const before = first.json() as { items: { seq: number; action: string }[] };
    expect(before.items.length).toBeGreaterThan(0);
    // The page cache must not hide a change made right after a read.
    await t.services.audit.record({ actor: { kind: 'system', userId: null, username: 'test', role: 'admin' }, action: 'test.fresh', details: { token: 'secret-value' } });
    const after = (await t.app.inject({ method: 'GET', url: '/api/v1/audit?limit=5', headers: admin.headers })).json() as { items: { seq: number; action: string; details: Record<string, unknown> }[] };
    expect(after.items[0]).toMatchObject({ action: 'test.fresh', seq: before.items[0]!.seq + 1, details: { token: '[redacted]' } });
    const filtered = (await t.app.inject({ method: 'GET', url: '/api/v1/audit?action=test.*', headers: admin.headers })).json() as { items: unknown[] };
    expect(filtered.items).toHaveLength(1);
  });

  it('refuses a bad filter with 400 and names the field', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/audit?limit=5000', headers: admin.headers });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(/limit/);
  });

  it('exports CSV and verifies the chain', async () => {
    const csv = await t.app.inject({ method: 'GET', url: '/api/v1/audit/export.csv', headers: admin.headers });
    expect(csv.statusCode).toBe(200);
    expect(csv.body.split('\n')[0]).toBe('seq,at,actor,actor_kind,ip,user_agent,action,target_type,target_id,outcome,details,hash');
    expect(csv.body).toContain('test.fresh');
    const v = await t.app.inject({ method: 'GET', url: '/api/v1/audit/verify', headers: admin.headers });
    expect(v.json()).toMatchObject({ ok: true });
  });

  it('serves Prometheus metrics to loopback callers only when no token is set', async () => {
    const local = await t.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' });
    expect(local.statusCode).toBe(200);
    expect(local.body).toContain('slipway_http_requests_total');
    const remote = await t.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '203.0.113.9' });
    expect(remote.statusCode).toBe(403);
  });

  it('publishes the OpenAPI document with the core routes', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/auth/login', '/api/v1/audit', '/api/v1/jobs']));
  });
});
