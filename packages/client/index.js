// @slipway/client: a typed client for the Slipway API (types in index.d.ts and the generated schema.d.ts).
import createFetchClient from 'openapi-fetch';
import { OPERATIONS } from './operations.js';

export { OPERATIONS };

/** A 4xx/5xx answer of the API: `{ error: { code, message, details } }` with its HTTP status. */
export class SlipwayApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.name = 'SlipwayApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Builds a SlipwayApiError from a failed response (and its already-parsed body, when there is one). */
export async function errorFromResponse(response, body) {
  let b = body;
  if (b === undefined) {
    const text = await response.text().catch(() => '');
    try {
      b = JSON.parse(text);
    } catch {
      b = text;
    }
  }
  const e = b && typeof b === 'object' ? b.error : undefined;
  if (e && typeof e === 'object' && typeof e.code === 'string') return new SlipwayApiError(response.status, e.code, String(e.message ?? e.code), e.details);
  return new SlipwayApiError(response.status, 'http_error', typeof b === 'string' && b ? b.slice(0, 500) : `HTTP ${response.status}`);
}

/** Unwraps an openapi-fetch result: the data, or throws SlipwayApiError. */
export async function unwrap(promise) {
  const r = await promise;
  if (r.response.ok) return r.data;
  throw await errorFromResponse(r.response, r.error);
}

/**
 * A client for one panel. `token` (an API token `slw_…` or an access token; a string or a function
 * returning one) travels in the Authorization header only, never in a URL.
 */
export function createSlipwayClient(options = {}) {
  const baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
  const client = createFetchClient({ baseUrl, fetch: options.fetch, headers: options.headers });
  if (options.token !== undefined) {
    client.use({
      async onRequest({ request }) {
        const token = typeof options.token === 'function' ? await options.token() : options.token;
        if (token && !request.headers.has('authorization')) request.headers.set('authorization', `Bearer ${token}`);
        return request;
      },
    });
  }
  return Object.assign(client, {
    baseUrl,
    /** Calls an operation by its operationId: `call('createSite', { body })`; resolves to the data or throws SlipwayApiError. */
    call(operationId, input = {}) {
      const op = OPERATIONS[operationId];
      if (!op) return Promise.reject(new Error(`unknown operation ${operationId}`));
      const init = { params: { path: input.path, query: input.query }, ...(input.body === undefined ? {} : { body: input.body }), signal: input.signal };
      return unwrap(client.request(op.method, op.path, init));
    },
  });
}

/** Signs in with a username and password (no second factor) and returns the access token. */
export async function signIn({ baseUrl, username, password, fetch: f = globalThis.fetch }) {
  const res = await f(`${baseUrl.replace(/\/+$/, '')}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const body = await res.json().catch(() => undefined);
  if (!res.ok) throw await errorFromResponse(res, body);
  if (!body?.accessToken) throw new SlipwayApiError(res.status, body?.status ?? 'second_factor_required', 'This account needs a second factor: use an API token for scripts');
  return body.accessToken;
}

/** Parses a Server-Sent Events response body into `{ id, event, data }` (data JSON-parsed when it is JSON). */
export async function* readEvents(response) {
  if (!response.body) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let ev = { data: [] };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let nl;
      while ((nl = buffer.search(/\r?\n/)) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer[nl] === '\r' ? 2 : 1));
        if (line === '') {
          if (ev.data.length || ev.event) {
            const text = ev.data.join('\n');
            let data = text;
            try {
              data = JSON.parse(text);
            } catch {
              /* not JSON */
            }
            yield { id: ev.id, event: ev.event ?? 'message', data };
          }
          ev = { data: [] };
        } else if (!line.startsWith(':')) {
          const i = line.indexOf(':');
          const field = i < 0 ? line : line.slice(0, i);
          const v = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
          if (field === 'data') ev.data.push(v);
          else if (field === 'event') ev.event = v;
          else if (field === 'id') ev.id = v;
        }
      }
    }
  } finally {
    reader.releaseLock();
    await response.body.cancel().catch(() => {});
  }
}

/**
 * Follows a job's log (SSE) to its end, resuming after the last line when the stream drops.
 * Calls `onLine` for each line; resolves to the `end` event's data (`{ reason, job }`).
 */
export async function followJobLog(client, jobId, { onLine, signal, maxReconnects = 20 } = {}) {
  let since;
  for (let attempt = 0; attempt <= maxReconnects; attempt++) {
    const r = await client.GET('/api/v1/jobs/{id}/logs', {
      params: { path: { id: jobId }, query: since === undefined ? {} : { since: Number(since) } },
      headers: { accept: 'text/event-stream' },
      parseAs: 'stream',
      signal,
    });
    if (!r.response.ok) throw await errorFromResponse(r.response);
    for await (const e of readEvents(r.response)) {
      if (e.event === 'log') {
        if (e.id !== undefined) since = e.id;
        onLine?.(e.data);
      } else if (e.event === 'end') return e.data;
      else if (e.event === 'revoked') throw new SlipwayApiError(401, 'unauthorized', 'The credentials behind the stream were revoked');
    }
    if (signal?.aborted) throw signal.reason ?? new Error('aborted');
  }
  throw new Error(`the log of job ${jobId} kept dropping; gave up after ${maxReconnects} reconnects`);
}
