import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../testing/harness.js';

// Security headers are computed once (issue 16) but must still be on every response.
describe('security headers on every response', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ modules: [] });
  });
  afterAll(async () => t?.close());

  const expectHeaders = (h: Record<string, unknown>) => {
    expect(String(h['content-security-policy'])).toContain("default-src 'self'");
    expect(String(h['content-security-policy'])).toContain("frame-ancestors 'none'");
    expect(String(h['content-security-policy'])).toContain("script-src 'self'");
    expect(h['x-content-type-options']).toBe('nosniff');
    expect(h['x-frame-options']).toBe('SAMEORIGIN');
    expect(String(h['strict-transport-security'])).toContain('max-age=');
    expect(h['referrer-policy']).toBe('no-referrer');
    expect(h['cross-origin-opener-policy']).toBe('same-origin');
  };

  it('a public route, a refused request, an unknown route and a bad body all carry them', async () => {
    const admin = await t.signIn('admin');
    const cases = [
      { method: 'GET' as const, url: '/api/v1/health', status: 200 },
      { method: 'GET' as const, url: '/api/v1/auth/me', status: 401 },
      { method: 'GET' as const, url: '/api/v1/auth/me', status: 200, headers: admin.headers },
      { method: 'GET' as const, url: '/api/v1/no-such-route', status: 404 },
      { method: 'POST' as const, url: '/api/v1/auth/login', status: 400, payload: '{not json', headers: { 'content-type': 'application/json' } },
    ];
    for (const c of cases) {
      const res = await t.app.inject(c);
      expect(res.statusCode, `${c.method} ${c.url}`).toBe(c.status);
      expectHeaders(res.headers);
    }
  });
});
