import { afterEach, describe, expect, it, vi } from 'vitest';
import { session } from './session';

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

afterEach(() => {
  vi.unstubAllGlobals();
  session.clear();
  document.cookie = 'slipway_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/';
});

describe('browser session', () => {
  it('sends the bearer token, refreshes once on a 401 with the CSRF header, and retries', async () => {
    document.cookie = 'slipway_csrf=csrf-123; path=/';
    const seen: { path: string; auth: string | null; csrf: string | null }[] = [];
    let access = 'old';
    vi.stubGlobal('fetch', async (input: Request | string, init?: RequestInit) => {
      const req = input instanceof Request ? input : new Request(input, init);
      const path = new URL(req.url).pathname;
      seen.push({ path, auth: req.headers.get('authorization'), csrf: req.headers.get('x-csrf-token') });
      if (path === '/api/v1/auth/refresh') {
        access = 'new';
        return json(200, { accessToken: 'new', tokenType: 'Bearer', expiresIn: 900, refreshToken: 'r2' });
      }
      if (path === '/api/v1/auth/me') return json(200, { user: { id: 'u1', username: 'alice', email: 'a@example.test', role: 'admin', totpEnabled: false, mustChangePassword: false, permissions: [], require2fa: false } });
      return req.headers.get('authorization') === `Bearer ${access}` && access === 'new' ? json(200, { ok: true }) : json(401, { error: { code: 'unauthorized', message: 'expired' } });
    });
    await session.signedIn({ accessToken: 'old', expiresIn: 900 });
    expect(session.snapshot.status).toBe('signedIn');
    const res = await session.authedFetch(new Request('http://localhost:3000/api/v1/users', { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } }));
    expect(res.status).toBe(200);
    const users = seen.filter((s) => s.path !== '/api/v1/auth/me');
    expect(users).toEqual([
      { path: '/api/v1/users', auth: 'Bearer old', csrf: null },
      { path: '/api/v1/auth/refresh', auth: null, csrf: 'csrf-123' },
      { path: '/api/v1/users', auth: 'Bearer new', csrf: null },
    ]);
  });

  it('signs out with a reason when the refresh is refused (revoked session)', async () => {
    vi.stubGlobal('fetch', async (input: Request | string) => {
      const path = new URL(input instanceof Request ? input.url : input).pathname;
      if (path === '/api/v1/auth/me') return json(200, { user: { id: 'u1', username: 'alice', email: 'a@example.test', role: 'viewer', totpEnabled: false, mustChangePassword: false, permissions: [], require2fa: false } });
      return json(401, { error: { code: 'session_ended', message: 'Session ended' } });
    });
    await session.signedIn({ accessToken: 'a', expiresIn: 900 });
    const res = await session.authedFetch(new Request('http://localhost:3000/api/v1/jobs'));
    expect(res.status).toBe(401);
    expect(session.snapshot).toEqual({ status: 'signedOut', reason: 'Your session ended. Sign in again.' });
    expect(session.token()).toBeNull();
  });
});
