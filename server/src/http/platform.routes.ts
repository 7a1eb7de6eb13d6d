import { sql } from 'kysely';
import { z } from 'zod';
import type { Services } from '../app.js';
import { AUDIT_OUTCOMES } from '../platform/audit/audit.service.js';
import { MODULE_STATES } from '../platform/engines/module-status.js';
import { corePermissions } from '../platform/rbac/core-permissions.js';
import { ROLE_DESCRIPTIONS, ROLES } from '../platform/rbac/roles.js';
import type { HttpApp } from '../platform/module.js';
import { Limit } from './schemas.js';
import { eventVisibleTo, type PublishedEvent } from '../platform/events/event-bus.js';
import { lastEventId, openSse } from './sse.js';

const AuditEntry = z.object({
  seq: z.number(),
  id: z.string(),
  at: z.number(),
  actor: z.object({ id: z.string().nullable(), name: z.string().nullable(), kind: z.string() }),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  action: z.string(),
  target: z.object({ type: z.string(), id: z.string(), name: z.string().optional() }).nullable(),
  outcome: z.string(),
  details: z.record(z.string(), z.unknown()).nullable(),
  hash: z.string(),
});

const AuditQuery = z.object({
  actor: z.string().max(200).optional(),
  action: z.string().max(200).regex(/^[a-z0-9_.*-]+$/i, 'letters, digits, . _ - and a trailing *').optional(),
  targetType: z.string().max(100).optional(),
  targetId: z.string().max(300).optional(),
  outcome: z.enum(AUDIT_OUTCOMES).optional(),
  from: z.coerce.number().int().nonnegative().optional(),
  to: z.coerce.number().int().nonnegative().optional(),
  before: z.coerce.number().int().positive().optional(),
  limit: Limit,
});

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  // Neutralise spreadsheet formulas as well as quoting.
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

const serializedPages = new WeakMap<object, string>();

const ReadyBody = z.object({
  status: z.enum(['ready', 'degraded']),
  checks: z.record(z.string(), z.object({ ok: z.boolean(), message: z.string().optional() })),
  modules: z.record(z.string(), z.object({ status: z.enum(MODULE_STATES) })),
  /** Platform-level problems by code only (e.g. `proxy_untrusted`); the explanation and fix are in GET /modules. */
  warnings: z.array(z.object({ code: z.string() })),
});

/** Health, readiness, roles, audit log and the live event stream. */
export function registerPlatformRoutes(app: HttpApp, s: Services): void {
  app.get('/health', { config: { public: true }, schema: { operationId: 'getHealth', summary: 'Liveness: the API answers', tags: ['platform'], response: { 200: z.object({ status: z.literal('ok') }) } } }, async () => ({ status: 'ok' as const }));

  app.get('/ready', {
    config: { public: true },
    schema: {
      operationId: 'getReadiness', summary: 'Readiness of the database, the job workers and each module',
      tags: ['platform'],
      description: 'Readiness: the database, the job workers and each module\'s status. 503 only when the database does not answer.',
      response: {
        200: ReadyBody,
        503: ReadyBody,
      },
    },
  }, async (req, reply) => {
    const checks: Record<string, { ok: boolean; message?: string }> = {};
    try {
      await sql`select 1`.execute(s.database.db);
      checks.database = { ok: true };
    } catch (e) {
      // The anonymous caller learns only that it failed; the error (host names, users, paths) goes to the log.
      req.log.error({ err: e }, 'readiness: the database did not answer');
      checks.database = { ok: false, message: 'the database is not answering (details in the panel log)' };
    }
    checks.jobs = { ok: s.jobs.isRunning(), ...(s.jobs.isRunning() ? {} : { message: 'job workers are not running' }) };
    // Status words only: reasons name the machine's internals and are for signed-in operators (GET /modules).
    const modules = Object.fromEntries(s.modules.list().map((m) => [m.id, { status: m.status }]));
    const ok = checks.database.ok;
    const warnings = s.warnings().map((w) => ({ code: w.code }));
    const allReady = ok && checks.jobs.ok && !warnings.length && Object.values(modules).every((m) => m.status === 'ready');
    return reply.code(ok ? 200 : 503).send({ status: allReady ? 'ready' : 'degraded', checks, modules, warnings });
  });

  app.get('/roles', {
    config: { authenticated: true },
    schema: { operationId: 'listRoles', summary: 'Roles and the permissions each grants', tags: ['platform'], response: { 200: z.object({ items: z.array(z.object({ name: z.enum(ROLES), description: z.string(), permissions: z.array(z.string()) })) }) } },
  }, async () => ({
    // This app's permissions (core + enabled modules), never those of a module it does not run.
    items: ROLES.map((r) => ({ name: r, description: ROLE_DESCRIPTIONS[r], permissions: s.permissions.permissionsOf(r) })),
  }));

  app.get('/permissions', {
    config: { authenticated: true },
    schema: { operationId: 'listPermissions', summary: 'Every permission of this panel and whether I have it', tags: ['platform'], response: { 200: z.object({ items: z.array(z.object({ name: z.string(), description: z.string(), granted: z.boolean() })) }) } },
  }, async (req) => ({ items: s.permissions.all().map((p) => ({ name: p.name, description: p.description, granted: s.permissions.can(req.actor, p.name) })) }));

  app.get('/audit', {
    config: { permission: corePermissions['audit.read'] },
    schema: { operationId: 'listAuditEntries', summary: 'Page through the audit log, newest first (filters; `before` pages)', tags: ['audit'], querystring: AuditQuery, response: { 200: z.object({ items: z.array(AuditEntry), nextBefore: z.number().nullable() }) } },
  }, async (req, reply) => {
    const page = await s.audit.list(req.query);
    // Pages are shared from the audit page cache: serialise each once. Entries are built field by
    // field by the service, so skipping the response-schema pass cannot leak a column.
    let body = serializedPages.get(page);
    if (!body) serializedPages.set(page, (body = JSON.stringify(page)));
    // A JSON string with a JSON content type goes out as it is (Fastify skips serialisation).
    return reply.type('application/json; charset=utf-8').send(body as unknown as typeof page);
  });

  app.get('/audit/export.csv', {
    config: { permission: corePermissions['audit.read'] },
    schema: { operationId: 'exportAuditLog', summary: 'Export the audit log as CSV (at most 100,000 rows)', 'x-produces': { 'text/csv': 'The audit log, one row per entry, newest first' }, tags: ['audit'], querystring: AuditQuery.omit({ limit: true, before: true }) },
  }, async (req, reply) => {
    const header = ['seq', 'at', 'actor', 'actor_kind', 'ip', 'user_agent', 'action', 'target_type', 'target_id', 'outcome', 'details', 'hash'];
    const lines = [header.join(',')];
    let before: number | undefined;
    // Bounded export: at most 100,000 rows, newest first.
    for (let page = 0; page < 200; page++) {
      const { items, nextBefore } = await s.audit.list({ ...req.query, limit: 500, before });
      for (const e of items) {
        lines.push([e.seq, new Date(e.at).toISOString(), e.actor.name, e.actor.kind, e.ip, e.userAgent, e.action, e.target?.type, e.target?.id, e.outcome, e.details, e.hash].map(csvCell).join(','));
      }
      if (nextBefore === null) break;
      before = nextBefore;
    }
    await s.audit.record({ actor: req.actor, action: 'audit.export', outcome: 'success', details: { rows: lines.length - 1 } });
    return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="slipway-audit.csv"').send(`${lines.join('\n')}\n`);
  });

  app.get('/audit/verify', {
    config: { permission: corePermissions['audit.read'] },
    schema: { operationId: 'verifyAuditLog', summary: 'Verify the audit log\'s hash chain', tags: ['audit'], response: { 200: z.object({ ok: z.boolean(), checked: z.number(), brokenAt: z.number().optional(), reason: z.string().optional() }) } },
  }, async () => s.audit.verify());

  app.get('/events', {
    config: { permission: corePermissions['events.read'] },
    schema: { operationId: 'streamEvents', summary: 'Live resource changes (SSE)', 'x-sse': { '<event type>': 'one change `{ id, type, resource, data, at }`, named by its type (e.g. `job.state`, `module.status`); the id resumes with Last-Event-ID' }, tags: ['platform'], description: 'Server-Sent Events: resource changes. Resumable with Last-Event-ID.' },
  }, async (req, reply) => {
    const stream = openSse(req, reply);
    const actor = req.actor;
    // The read permission of each event (audit.* needs core.audit.read), and ownership for `user`.
    const visible = (e: PublishedEvent) => eventVisibleTo(actor, e);
    const since = Number(lastEventId(req));
    if (Number.isFinite(since) && since > 0) for (const e of s.events.since(since)) if (visible(e)) stream.send({ id: e.id, event: e.type, data: e });
    const unsubscribe = s.events.subscribe((e) => {
      if (visible(e)) stream.send({ id: e.id, event: e.type, data: e });
    });
    stream.onClose(unsubscribe);
  });
}
