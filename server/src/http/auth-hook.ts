import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket, WebSocketServer } from 'ws';
import { ForbiddenError, UnauthorizedError } from '../platform/errors.js';
import type { ProxyGuard } from '../platform/auth/proxy-guard.js';
import type { StreamRegistry } from '../platform/events/stream-registry.js';
import type { Actor } from '../platform/rbac/permissions.js';
import type { PermissionRegistry } from '../platform/rbac/registry.js';

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
    /** Live SSE and WebSocket streams by session/token: closed on revocation, capped per user. */
    streams: StreamRegistry | null;
  }
}

/** The actor of an upgrade request, kept on the raw request for the WebSocket `connection` event. */
const kActor = Symbol('slipway.actor');
/** WebSocket close codes: 4401 the credentials behind the stream were revoked, 4429 too many streams. */
export const WS_CLOSE_REVOKED = 4401;
export const WS_CLOSE_TOO_MANY = 4429;

/**
 * Registers every WebSocket the panel accepts with the stream registry, under the session or API
 * token that opened it (the actor the auth hook authenticated), so revocation closes it.
 */
function trackWebSockets(app: FastifyInstance, streams: StreamRegistry): void {
  const wss = (app as unknown as { websocketServer?: WebSocketServer }).websocketServer;
  if (!wss) return;
  wss.on('connection', (socket: WebSocket, raw: { [kActor]?: Actor; url?: string }) => {
    const actor = raw[kActor];
    if (!actor) return;
    let unregister: () => void;
    try {
      unregister = streams.register(actor, {
        close(reason) {
          if (socket.readyState === socket.OPEN) socket.close(WS_CLOSE_REVOKED, reason.slice(0, 100));
          // A client that does not answer the close frame is cut off; nothing more is sent meanwhile.
          setTimeout(() => socket.terminate(), 2000).unref();
        },
      }, raw.url?.split('?')[0] ?? '');
    } catch {
      socket.close(WS_CLOSE_TOO_MANY, 'too many live streams');
      return;
    }
    socket.once('close', unregister);
  });
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
export interface AuthHookOptions {
  /**
   * This app's permissions: a route naming one it did not register fails at start-up, and each
   * request's role check reads it.
   */
  permissions: PermissionRegistry;
  /** Registers every stream under its session/token (closed on revocation, capped per user). */
  streams?: StreamRegistry | null;
  /** Refuses proxied requests the panel cannot attribute (SLIPWAY_TRUST_PROXY unset). */
  proxyGuard?: ProxyGuard | null;
}

export function installAuthHook(app: FastifyInstance, authenticator: Authenticator, opts: AuthHookOptions): void {
  const permissions = opts.permissions;
  const streams = opts.streams ?? null;
  const proxyGuard = opts.proxyGuard ?? null;
  const table: RouteEntry[] = [];
  app.decorate('routeTable', table);
  app.decorate('streams', streams);
  if (streams) {
    trackWebSockets(app, streams);
    // Before the server waits for open connections: live streams would keep it from closing.
    app.addHook('preClose', async () => {
      streams.closeAll('shutdown');
    });
  }
  app.addHook('onRoute', (route) => {
    const c = route.config ?? {};
    if (route.method === 'HEAD' || route.url.startsWith('/api/docs')) return;
    if (!c.public && !c.authenticated && !c.permission) {
      throw new Error(`route ${String(route.method)} ${route.url} declares no access rule (config.public/authenticated/permission)`);
    }
    if (c.permission) permissions.assertRegistered(c.permission, `route ${String(route.method)} ${route.url}`);
    for (const method of [route.method].flat()) {
      table.push({ method: String(method), url: route.url, websocket: !!(route as { websocket?: boolean }).websocket, hasBody: !!(route.schema as { body?: unknown } | undefined)?.body, access: { public: c.public, authenticated: c.authenticated, permission: c.permission } });
    }
  });

  app.decorateRequest('actor', null as unknown as Actor);
  const authenticate = async (req: FastifyRequest): Promise<void> => {
    const c = req.routeOptions.config ?? {};
    const actor = await authenticator.authenticate(req);
    if (!actor) throw new UnauthorizedError();
    req.actor = actor;
    if (actor.mustChangePassword && !c.allowPasswordChangePending) {
      throw new ForbiddenError('You must change your password before continuing', 'password_change_required');
    }
    if (c.permission && !permissions.can(actor, c.permission)) {
      throw new ForbiddenError(`Your role (${actor.role}) lacks the permission ${c.permission}`, 'forbidden', { permission: c.permission });
    }
    if ((req as { ws?: boolean }).ws && streams) {
      // Refused before the upgrade (a plain 429) when the caller already holds too many streams.
      streams.assertCapacity(actor);
      (req.raw as { [kActor]?: Actor })[kActor] = actor;
    }
  };
  // A callback hook: a public route costs no promise (issue 16); the rest wait for the authenticator.
  app.addHook('onRequest', (req, reply, done) => {
    if (proxyGuard?.check(req, reply)) return; // answered (503): the reply is sent, the chain ends
    const c = req.routeOptions.config ?? {};
    if (c.public || req.routeOptions.url === undefined || req.routeOptions.url.startsWith('/api/docs')) return done();
    authenticate(req).then(() => done(), done);
  });
}
