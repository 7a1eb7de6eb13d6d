import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ForbiddenError, UnauthorizedError } from '../platform/errors.js';
import { requirePermission, type Actor } from '../platform/rbac/permissions.js';

/** Turns a request's credentials (Bearer JWT, API token, WebSocket subprotocol) into an actor. */
export interface Authenticator {
  /** null when the request carries no credentials; throws UnauthorizedError when they are bad. */
  authenticate(req: FastifyRequest): Promise<Actor | null>;
}

export interface RouteEntry {
  method: string;
  url: string;
  websocket: boolean;
  /** The route validates a request body. */
  hasBody: boolean;
  access: { public?: boolean; authenticated?: boolean; permission?: string };
}

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor;
  }
  interface FastifyInstance {
    /** Every registered route with its access rule (the route-table test walks it). */
    routeTable: RouteEntry[];
  }
}

/** Browsers cannot set headers on a WebSocket: the token travels as a subprotocol `bearer.<token>`. */
export const WS_PROTOCOL = 'slipway.v1';
export function bearerFromRequest(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (h?.startsWith('Bearer ')) return h.slice(7).trim() || null;
  const proto = req.headers['sec-websocket-protocol'];
  if (typeof proto === 'string') {
    const entry = proto.split(',').map((p) => p.trim()).find((p) => p.startsWith('bearer.'));
    if (entry) return entry.slice('bearer.'.length);
  }
  return null;
}

/**
 * Every route must say who may call it (config.public | config.authenticated | config.permission);
 * a route without one fails at start-up, so nothing is left open by accident. Checked here for every
 * request, HTTP, SSE and WebSocket alike, before the handler runs.
 */
export function installAuthHook(app: FastifyInstance, authenticator: Authenticator): void {
  const table: RouteEntry[] = [];
  app.decorate('routeTable', table);
  app.addHook('onRoute', (route) => {
    const c = route.config ?? {};
    if (route.method === 'HEAD' || route.url.startsWith('/api/docs')) return;
    if (!c.public && !c.authenticated && !c.permission) {
      throw new Error(`route ${String(route.method)} ${route.url} declares no access rule (config.public/authenticated/permission)`);
    }
    for (const method of [route.method].flat()) {
      table.push({ method: String(method), url: route.url, websocket: !!(route as { websocket?: boolean }).websocket, hasBody: !!(route.schema as { body?: unknown } | undefined)?.body, access: { public: c.public, authenticated: c.authenticated, permission: c.permission } });
    }
  });

  app.decorateRequest('actor', null as unknown as Actor);
  app.addHook('onRequest', async (req) => {
    const c = req.routeOptions.config ?? {};
    if (c.public || req.routeOptions.url === undefined || req.routeOptions.url.startsWith('/api/docs')) {
      // Public routes still learn who is calling when credentials are present (optional).
      return;
    }
    const actor = await authenticator.authenticate(req);
    if (!actor) throw new UnauthorizedError();
    req.actor = actor;
    if (actor.mustChangePassword && !c.allowPasswordChangePending) {
      throw new ForbiddenError('You must change your password before continuing', 'password_change_required');
    }
    if (c.permission) requirePermission(actor, c.permission);
  });
}
