import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyDynamicSwaggerOptions as SwaggerOptions } from '@fastify/swagger';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { WS_CLOSE_REVOKED, WS_CLOSE_TOO_MANY, WS_PROTOCOL } from './auth-hook.js';

/**
 * The API contract (issue 17). Every documented route declares its own `operationId`, `summary`
 * and `tags`; everything the document can derive from what the route already declares is added
 * here, in one place, so no route repeats it:
 * - security from the route's access rule (`config.public` → none, else bearer JWT or API token);
 * - the 4xx/5xx responses, each a reference to the shared `Error` schema;
 * - `text/event-stream` for SSE routes (`schema['x-sse']`), other media types (`schema['x-produces']`);
 * - WebSocket routes (hidden by @fastify/websocket) with their subprotocol and close codes.
 * A route under /api/ without an operationId, summary or tag fails at start-up.
 */

declare module 'fastify' {
  interface FastifySchema {
    /**
     * The route answers Server-Sent Events (documented as `text/event-stream`): `'live-log'` for
     * the live-log wire format, or each event name with what its data is.
     */
    'x-sse'?: 'live-log' | Record<string, string>;
    /** Non-JSON success bodies: media type → what the body is (documented on the 200 response). */
    'x-produces'?: Record<string, string>;
  }
}

/** The package version (info.version). */
export const API_VERSION: string = (() => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // server/src/http (tsx) or dist/server/src/http (built)
  for (const up of ['../../..', '../../../..']) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(here, up, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'slipway' && pkg.version) return pkg.version;
    } catch {
      /* next candidate */
    }
  }
  return '0.0.0';
})();

interface ErrorStatus {
  /** components.responses key */
  name: string;
  description: string;
  codes: string[];
  retryAfter?: boolean;
}

/**
 * The error responses, by status, with the codes each carries (server/src/platform/errors.ts, the
 * error handler, and the domain rules of the core and the modules). `code` is the stable part.
 */
export const ERROR_STATUSES: Record<string, ErrorStatus> = {
  400: { name: 'BadRequest', description: 'The request is malformed or fails validation (`details.issues` lists each problem).', codes: ['validation_failed', 'bad_request', 'content_rejected'] },
  401: { name: 'Unauthorized', description: 'No valid credentials: missing, expired or revoked access token or API token.', codes: ['unauthorized', 'invalid_token', 'invalid_password', 'invalid_code', 'invalid_refresh_token', 'two_factor_required'] },
  403: { name: 'Forbidden', description: 'Signed in, but this role lacks the permission (`details.permission`), or the account must change its password first.', codes: ['forbidden', 'password_change_required', 'role_ceiling', 'user_session_required', 'two_factor_enrollment_required'] },
  404: { name: 'NotFound', description: 'The resource does not exist or is not visible to the caller.', codes: ['not_found'] },
  409: { name: 'Conflict', description: 'The resource is in a state that does not allow this now, or the name is taken.', codes: ['conflict', 'hostname_taken', 'name_taken'] },
  413: { name: 'PayloadTooLarge', description: 'The upload is larger than allowed.', codes: ['payload_too_large'] },
  415: { name: 'UnsupportedMediaType', description: 'The request body has a media type this route does not take.', codes: ['unsupported_media_type'] },
  422: { name: 'RuleViolated', description: 'Well-formed, but breaks a domain rule; the code says which (e.g. `hostname_reserved`, `quota_exceeded`, `confirmation_mismatch`, `last_admin`, `network_target_refused`, `image_refused`).', codes: ['rule_violated', 'hostname_reserved', 'quota_exceeded', 'confirmation_required', 'confirmation_mismatch', 'last_admin', 'self_action', 'network_target_refused', 'image_refused', 'dokku_refused'] },
  429: { name: 'TooManyRequests', description: 'Rate limited, or the caller already holds as many live streams as allowed. See Retry-After.', codes: ['rate_limited'], retryAfter: true },
  500: { name: 'InternalError', description: 'An unexpected error; the details are in the panel log.', codes: ['internal'] },
  502: { name: 'ToolFailed', description: 'A tool the panel drives (docker, virsh, wo, dokku, ssh …) failed: `details` names the program, host and exit code.', codes: ['tool_failed'] },
  503: { name: 'Unavailable', description: 'The module\'s required engine is missing (`module_unavailable`, `details.module`, `details.fix` for staff), a tool is not installed or timed out, or the panel refuses a proxied request it cannot attribute (`proxy_untrusted`).', codes: ['module_unavailable', 'unavailable', 'tool_unavailable', 'tool_timeout', 'proxy_untrusted'], retryAfter: true },
};

export const ALL_ERROR_CODES = [...new Set(Object.values(ERROR_STATUSES).flatMap((s) => s.codes))];

const ErrorSchema = {
  type: 'object',
  description: 'Every error the API answers: `{ error: { code, message, details } }`.',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: {
          type: 'string',
          description: `A stable machine-readable code. Known codes: ${ALL_ERROR_CODES.map((c) => `\`${c}\``).join(', ')}; modules add their own domain-rule codes.`,
          example: 'validation_failed',
        },
        message: { type: 'string', description: 'What went wrong, in words, for people.' },
        details: { description: 'Structured context: `issues` for validation, `module`/`fix` for module_unavailable, `program`/`host`/`exitCode` for tool failures, `retryAfterSeconds` for rate limits.' },
      },
    },
  },
} as const;

const LIVE_LOG_EVENTS: Record<string, string> = {
  log: 'one line `{ seq, at?, stream, line, level?, cursor }`; the event id is the cursor (resume with Last-Event-ID or ?since=)',
  state: 'what the follower should know `{ state, message?, … }` (live, waiting, notice, skipped, a job\'s state with `{ job }`)',
  end: 'the log is over, do not reconnect: `{ reason: finished | stopped | gone | error, message? }`',
};
/** Sent by every SSE stream when the session or API token behind it is revoked (openSse). */
const SSE_COMMON: Record<string, string> = { revoked: 'the credentials behind the stream were revoked `{ reason }`; the stream closes' };

const WS_DESCRIPTION = `WebSocket (GET with \`Upgrade: websocket\`). Authenticate with the Authorization header, or, from a browser, ` +
  `with the subprotocols \`${WS_PROTOCOL}\` and \`bearer.<token>\` (the server answers \`${WS_PROTOCOL}\`). ` +
  `Close codes: ${WS_CLOSE_REVOKED} the credentials were revoked, ${WS_CLOSE_TOO_MANY} too many live streams. ` +
  'Refusals (401/403/404/409/429) come before the upgrade as plain JSON errors.';

/** Any of: an access token, an API token, or Swagger UI's sign-in (the OAuth2 password flow of POST /auth/login). */
const SECURED: { [scheme: string]: string[] }[] = [{ bearer: [] }, { apiToken: [] }, { password: [] }];

type RouteConfig = { public?: boolean; authenticated?: boolean; permission?: string };

/** Per-route facts the document needs, kept on the route's schema as x-slipway-* (removed again in transformObject). */
const X = 'x-slipway-route';
interface RouteFacts { public: boolean; permission?: string; websocket: boolean; module?: string; mutating: boolean; input: boolean; pathParams: boolean }

const kModule = Symbol('slipway.module');

/** Called in a module's plugin scope: its routes document the module's 502/503. */
export function markModuleRoutes(scope: FastifyInstance, moduleId: string): void {
  scope.addHook('onRoute', (route) => {
    (route as { [kModule]?: string })[kModule] = moduleId;
  });
}

function isDocumented(route: RouteOptions): boolean {
  if (route.method === 'HEAD' || (Array.isArray(route.method) && route.method.every((m) => m === 'HEAD'))) return false;
  if (!route.url.startsWith('/api/') || route.url.startsWith('/api/docs')) return false;
  return !(route.schema as { hide?: boolean } | undefined)?.hide || !!(route as { websocket?: boolean }).websocket;
}

/**
 * Checks every route's contract metadata as it is registered (so a route without an operationId
 * fails at start-up and in every test that builds the app), and un-hides WebSocket routes.
 */
export function installOpenapiChecks(app: FastifyInstance): void {
  const seen = new Map<string, string>();
  app.addHook('onRoute', (route) => {
    if (!isDocumented(route)) return;
    const where = `route ${String(route.method)} ${route.url}`;
    const schema = (route.schema ??= {}) as Record<string, unknown>;
    // @fastify/websocket hides its routes from the document; ours are part of the contract.
    if ((route as { websocket?: boolean }).websocket) schema.hide = false;
    const id = schema.operationId;
    if (typeof id !== 'string' || !/^[a-z][A-Za-z0-9]*$/.test(id)) {
      throw new Error(`${where} has no operationId (schema.operationId, camelCase such as listSites; see docs/API.md)`);
    }
    if (typeof schema.summary !== 'string' || !schema.summary.trim() || schema.summary.includes('\n')) throw new Error(`${where} has no one-line summary (schema.summary)`);
    if (!Array.isArray(schema.tags) || !schema.tags.length) throw new Error(`${where} has no tag (schema.tags)`);
    const other = seen.get(id);
    if (other && other !== where) throw new Error(`${where} reuses the operationId ${id} of ${other}`);
    seen.set(id, where);
  });
}

/** @fastify/swagger's per-route transform: zod → JSON Schema, plus the facts transformObject needs. */
function transform(arg: Parameters<typeof jsonSchemaTransform>[0]): ReturnType<typeof jsonSchemaTransform> {
  const route = arg.route as RouteOptions & { websocket?: boolean; [kModule]?: string };
  const websocket = !!route.websocket;
  const res = jsonSchemaTransform(websocket && arg.schema ? { ...arg, schema: { ...arg.schema, hide: false } } : arg);
  const schema = res.schema as Record<string, unknown> | undefined;
  if (!schema || schema.hide) return res;
  const c = (route.config ?? {}) as RouteConfig;
  const methods = [route.method].flat().map(String);
  const facts: RouteFacts = {
    public: !!c.public,
    permission: c.permission,
    websocket,
    module: route[kModule],
    mutating: methods.some((m) => m !== 'GET'),
    input: !!(schema.body || schema.querystring || schema.params),
    pathParams: route.url.includes(':'),
  };
  schema[X] = facts;
  schema.security = c.public ? [] : SECURED;
  return res;
}

type Json = Record<string, unknown>;
interface Operation extends Json { responses?: Record<string, Json>; description?: string }

function errorStatuses(f: RouteFacts, declared: string[], sse: boolean): string[] {
  const s = new Set(declared.filter((d) => Number(d) >= 400 && ERROR_STATUSES[d]));
  if (f.input) s.add('400');
  if (!f.public) {
    s.add('401');
    s.add('403');
  }
  if (f.pathParams) s.add('404');
  if (f.mutating && !f.public) {
    s.add('409');
    s.add('422');
  }
  if (f.websocket) s.add('409');
  // Live streams are capped per user (429 before anything is sent).
  if (f.websocket || sse) s.add('429');
  s.add('500');
  if (f.module) s.add('502');
  // Any route: a module without its engine, or proxied requests the panel cannot attribute (proxy_untrusted).
  s.add('503');
  return [...s].sort();
}

function isErrorShaped(r: Json | undefined): boolean {
  const schema = ((r?.content as Json | undefined)?.['application/json'] as Json | undefined)?.schema as Json | undefined;
  const props = schema?.properties as Json | undefined;
  return !!(props?.error && Object.keys(props).length === 1);
}

function eventList(events: Record<string, string>): string {
  return Object.entries(events).map(([name, what]) => `- \`${name}\`: ${what}`).join('\n');
}

/** Whole-document pass: shared error responses, security schemes, streams, servers, info. */
function finishDocument(doc: Json): Json {
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Operation>>;
  const used = new Set<string>();
  for (const ops of Object.values(paths)) {
    for (const op of Object.values(ops)) {
      const f = op[X] as RouteFacts | undefined;
      delete op[X];
      if (!f) continue;
      const sse = op['x-sse'] as 'live-log' | Record<string, string> | undefined;
      const produces = op['x-produces'] as Record<string, string> | undefined;
      const responses = (op.responses ??= {});
      const declared = Object.keys(responses);
      const access = f.public
        ? 'Public: no credentials needed.'
        : f.permission ? `Requires the permission \`${f.permission}\`.` : 'Any signed-in user.';
      const parts = [op.description, access];
      if (f.permission) op['x-permission'] = f.permission;

      if (f.websocket) {
        delete responses['200'];
        responses['101'] = { description: 'Switching Protocols: the WebSocket is open.' };
        op['x-websocket'] = { subprotocols: [WS_PROTOCOL, 'bearer.<token>'] };
        parts.push(WS_DESCRIPTION);
        if (sse === undefined && !op.description) parts.push('Messages: see the summary.');
      }
      if (sse) {
        const events = { ...(sse === 'live-log' ? LIVE_LOG_EVENTS : sse), ...SSE_COMMON };
        op['x-sse-events'] = Object.keys(events);
        const ok = (responses['200'] ??= { description: 'The event stream' });
        if (ok.description === 'Default Response') ok.description = 'The event stream';
        ok.content = {
          ...((ok.content as Json | undefined) ?? {}),
          'text/event-stream': { schema: { type: 'string', description: `Server-Sent Events. Event types:\n${eventList(events)}` } },
        };
        parts.push(`Server-Sent Events (\`text/event-stream\`), a comment every 15 s keeps it open. Events:\n${eventList(events)}`);
      }
      if (produces) {
        const ok = (responses['200'] ??= { description: 'OK' });
        if (ok.description === 'Default Response') ok.description = 'OK';
        ok.content = Object.fromEntries(Object.entries(produces).map(([type, what]) => [type, { schema: { type: 'string', ...(type.startsWith('application/octet') ? { format: 'binary' } : {}), description: what } }]));
      }
      for (const [status, r] of Object.entries(responses)) {
        if (Number(status) < 400) {
          if (r.description === 'Default Response') r.description = Number(status) === 202 ? 'Accepted' : 'OK';
          continue;
        }
        if (ERROR_STATUSES[status] && (isErrorShaped(r) || !r.content)) delete responses[status];
      }
      for (const status of errorStatuses(f, declared, !!sse)) {
        if (responses[status]) continue;
        responses[status] = { $ref: `#/components/responses/${ERROR_STATUSES[status]!.name}` };
        used.add(status);
      }
      op.description = parts.filter(Boolean).join('\n\n');
      delete op['x-sse'];
      delete op['x-produces'];
    }
  }
  const components = (doc.components ??= {}) as Json;
  components.schemas = { Error: ErrorSchema, ...((components.schemas as Json | undefined) ?? {}) };
  components.responses = Object.fromEntries(Object.entries(ERROR_STATUSES).filter(([status]) => used.has(status)).map(([, s]) => [s.name, {
    description: `${s.description} Codes: ${s.codes.map((c) => `\`${c}\``).join(', ')}.`,
    ...(s.retryAfter ? { headers: { 'Retry-After': { description: 'Seconds to wait before retrying (when known)', schema: { type: 'integer' } } } } : {}),
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  }]));
  return doc;
}

const TAGS: { name: string; description: string }[] = [
  { name: 'platform', description: 'Health, readiness, modules, roles, permissions and the live event stream.' },
  { name: 'setup', description: 'The first-run setup (creates the first admin).' },
  { name: 'auth', description: 'Sign-in, tokens, sessions, two-factor authentication.' },
  { name: 'users', description: 'Users and their roles (admins).' },
  { name: 'settings', description: 'Panel-wide settings.' },
  { name: 'api-tokens', description: 'Named, expiring personal API tokens for scripts.' },
  { name: 'ssh-keys', description: 'SSH public keys of the signed-in user.' },
  { name: 'audit', description: 'The tamper-evident audit log.' },
  { name: 'hosts', description: 'Managed hosts (local and over SSH).' },
  { name: 'jobs', description: 'Long operations: state, logs (JSON, SSE, WebSocket), cancel, the self-test.' },
  { name: 'sites', description: 'WordPress and PHP sites (WordOps).' },
  { name: 'server', description: 'The server: metrics, services, logs.' },
  { name: 'containers', description: 'Sleeping containers and Docker on each host.' },
  { name: 'apps', description: 'PaaS apps (Dokku): deploys, releases, config, domains, scale.' },
  { name: 'vps', description: 'Virtual machines (libvirt): plans, images, quotas, power, snapshots, consoles.' },
  { name: 'netboot', description: 'Netboot machines (iSCSI/iPXE): images, machines, sessions.' },
];

/** The @fastify/swagger options: info, servers (SLIPWAY_PUBLIC_URL), security schemes, the transforms. */
export function openapiOptions(opts: { publicUrl?: string }): SwaggerOptions {
  const server = opts.publicUrl
    ? { url: opts.publicUrl.replace(/\/+$/, ''), description: 'This panel (SLIPWAY_PUBLIC_URL)' }
    : { url: '/', description: 'This panel (set SLIPWAY_PUBLIC_URL for an absolute address)' };
  return {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Slipway API',
        version: API_VERSION,
        description: 'Control panel API: sites, apps, containers, VPS, netboot machines, hosts, jobs, users and the audit log. ' +
          'Authenticate with `Authorization: Bearer <token>`, where the token is an access token from POST /api/v1/auth/login ' +
          'or a personal API token (`slw_…`, POST /api/v1/api-tokens). Errors are `{ error: { code, message, details } }`. ' +
          'A long operation answers 202 with a job; follow it at /api/v1/jobs/{id}.',
        license: { name: 'AGPL-3.0-only', url: 'https://www.gnu.org/licenses/agpl-3.0.html' },
      },
      servers: [server],
      tags: TAGS,
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from POST /api/v1/auth/login (15 minutes; renew with POST /api/v1/auth/refresh).' },
          apiToken: { type: 'http', scheme: 'bearer', bearerFormat: 'slw_<prefix>_<secret>', description: 'A personal API token (POST /api/v1/api-tokens): named, expiring, at most the role of its owner.' },
          password: { type: 'oauth2', description: 'Sign in from Swagger UI (/api/docs): the OAuth2 password flow of POST /api/v1/auth/login.', flows: { password: { tokenUrl: '/api/v1/auth/login', scopes: {} } } },
        },
      },
      security: SECURED,
    },
    transform: transform as SwaggerOptions['transform'],
    transformObject: ((d: { openapiObject?: Json; swaggerObject?: Json }) => finishDocument((d.openapiObject ?? d.swaggerObject)!)) as SwaggerOptions['transformObject'],
  };
}
