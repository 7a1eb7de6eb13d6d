import { vi } from 'vitest';
import { session, type Me } from '../auth/session';

/**
 * A fake API for component tests: `mockApi(handler)` stubs the global fetch (which the typed
 * client and getJson/sendJson use), records every call and answers what the handler does not
 * with 404. Pair with `afterEach(resetApi)`.
 *
 *   const calls = mockApi((req, path) => (path === '/api/v1/things' ? json(200, { items: [] }) : undefined), { me: () => testUser({ permissions: ['things.read'] }) });
 *   await signIn();
 */

export const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
export const notFound = () => json(404, { error: { code: 'not_found', message: 'nope' } });

export interface ApiCall { path: string; method: string; body: unknown }
export type ApiHandler = (req: Request, path: string) => Response | undefined | Promise<Response | undefined>;

/** The signed-in user as GET /auth/me returns it (id `me`, no 2FA). */
export function testUser(o: { permissions: string[]; role?: string; username?: string }): Me {
  const username = o.username ?? 'me';
  return { id: 'me', username, email: `${username}@example.test`, role: o.role ?? 'operator', totpEnabled: false, mustChangePassword: false, permissions: o.permissions, require2fa: false };
}

/** Stubs fetch; with `me`, GET /api/v1/auth/me answers that user (read at each request). Returns the calls, JSON bodies parsed. */
export function mockApi(handler: ApiHandler, o: { me?: () => Me } = {}): ApiCall[] {
  const calls: ApiCall[] = [];
  vi.stubGlobal('fetch', async (input: Request | string, init?: RequestInit) => {
    const req = input instanceof Request ? input : new Request(input, init);
    const text = req.method === 'GET' ? '' : await req.clone().text();
    const path = new URL(req.url).pathname;
    calls.push({ path, method: req.method, body: text ? JSON.parse(text) : undefined });
    if (o.me && path === '/api/v1/auth/me') return json(200, { user: o.me() });
    return (await handler(req, path)) ?? notFound();
  });
  return calls;
}

/** Signs the console's session in (it then loads /auth/me through the mocked fetch). */
export function signIn(accessToken = 'a'): Promise<void> {
  return session.signedIn({ accessToken, expiresIn: 900 });
}

/** Undoes mockApi and signs out. */
export function resetApi(): void {
  vi.unstubAllGlobals();
  session.clear();
}
