import type { SignedIn, TestApp } from '../../../../server/src/testing/harness.js';

export type Json = Record<string, any>;
type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** `api(method, '/netboot/…', who, payload?, headers?)` against the test app: status, JSON body ({} when not JSON) and raw text. */
export function injector(app: () => TestApp) {
  return async (method: Method, url: string, who: SignedIn | null, payload?: unknown, headers: Record<string, string> = {}) => {
    const res = await app().app.inject({ method, url: `/api/v1${url}`, headers: { ...(who?.headers ?? {}), ...headers }, ...(payload !== undefined ? { payload: payload as Json } : {}) });
    let body: Json = {};
    try {
      body = res.json() as Json;
    } catch {
      body = {};
    }
    return { status: res.statusCode, body, text: res.body };
  };
}
