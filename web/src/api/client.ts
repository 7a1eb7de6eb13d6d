import { createSlipwayClient } from '@slipway/client';
import { abs, session } from '../auth/session';
import { ApiError, errorFromResponse } from './errors';
import type { paths } from './schema';

/**
 * The typed API client: `@slipway/client` (packages/client, generated from the server's OpenAPI
 * document), sending requests through the session (access token, refresh on 401).
 *   const { data } = await api.GET('/api/v1/users', { params: { query: { search } } });
 * Prefer `call(api.GET(...))`, which throws an ApiError carrying the server's message.
 */
export const api = createSlipwayClient({ baseUrl: typeof location === 'undefined' ? '' : location.origin, fetch: (req: Request) => session.authedFetch(req) });

/** Unwraps an openapi-fetch result: returns data or throws ApiError (status, code, server message, Retry-After). */
export async function call<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const r = await p;
  if (r.response.ok) return r.data as T;
  throw await errorFromResponse(r.response, r.error);
}

/** The JSON body of a path+method's success response. */
export type ApiData<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  responses: infer R;
}
  ? R extends { 200: { content: { 'application/json': infer D } } }
    ? D
    : R extends { 201: { content: { 'application/json': infer D } } }
      ? D
      : R extends { 202: { content: { 'application/json': infer D } } }
        ? D
        : never
  : never;

/** The JSON request body of a path+method (`never` when it takes none). */
export type ApiBody<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends { requestBody?: infer B }
  ? NonNullable<B> extends { content: { 'application/json': infer D } }
    ? D
    : never
  : never;

/** The query parameters of a path+method (`never` when it takes none). */
export type ApiQuery<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends { parameters: { query?: infer Q } }
  ? NonNullable<Q>
  : never;

export type { paths };

/** Raw authenticated fetch for things the typed client does not cover (CSV downloads, streams). */
export async function authedFetch(url: string, init?: RequestInit): Promise<Response> {
  const res = await session.authedFetch(new Request(abs(url), init));
  if (!res.ok) throw await errorFromResponse(res);
  return res;
}

/** GET a JSON resource (errors become ApiError with the server's message). */
export async function getJson<T>(url: string): Promise<T> {
  return (await (await authedFetch(url)).json()) as T;
}

/** Send a JSON body (or none) and read the JSON answer. */
export async function sendJson<T>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<T> {
  const res = await authedFetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await res.json()) as T;
}

export { ApiError };
