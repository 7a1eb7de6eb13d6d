import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';

/** Not security headers: what every response sets for itself. */
const OWN = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive', 'transfer-encoding']);

/**
 * The headers @fastify/helmet sets with these options, computed once: it answers one request of a
 * throwaway app that registers exactly the plugin. (The plugin builds a new helmet middleware for
 * every request, parsing the CSP directives each time: a tenth of an API request's CPU, issue 16.)
 */
export async function helmetHeaders(options: FastifyHelmetOptions): Promise<Record<string, string>> {
  const probe = Fastify({ logger: false });
  await probe.register(helmet, options);
  probe.get('/', async () => 'ok');
  const res = await probe.inject({ method: 'GET', url: '/' });
  await probe.close();
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) if (!OWN.has(k) && v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : String(v);
  return out;
}

/**
 * Every response (routes, 404s, errors, the 401/403 of the auth hook) carries the security headers:
 * set on the reply before anything else runs, by one synchronous hook on the root instance.
 */
export async function installSecurityHeaders(app: FastifyInstance, options: FastifyHelmetOptions): Promise<Record<string, string>> {
  const headers = await helmetHeaders(options);
  if (!headers['content-security-policy']) throw new Error('security headers: helmet produced no Content-Security-Policy');
  app.addHook('onRequest', (_req, reply, done) => {
    reply.headers(headers);
    done();
  });
  return headers;
}
