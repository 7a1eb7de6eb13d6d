import { z } from 'zod';
import type { Services } from '../app.js';
import { MODULE_STATES, type ModuleStatusView } from '../platform/engines/module-status.js';
import type { HttpApp } from '../platform/module.js';
import { isTenant, type Actor } from '../platform/rbac/permissions.js';

const Engine = z.object({
  id: z.string(),
  title: z.string(),
  optional: z.boolean(),
  ok: z.boolean(),
  version: z.string().nullable(),
  reason: z.string().nullable(),
  fix: z.string().nullable(),
  checkedAt: z.number().nullable(),
});

const Schedule = z.object({
  name: z.string(),
  everyMs: z.number(),
  running: z.boolean(),
  runs: z.number(),
  lastRunAt: z.number().nullable(),
  lastDurationMs: z.number().nullable(),
  lastOk: z.boolean().nullable(),
  lastError: z.string().nullable(),
  lastErrorAt: z.number().nullable(),
  scope: z.enum(['cluster', 'replica']).describe('cluster: one replica at a time runs it; replica: every replica runs it for its own machine'),
  held: z.boolean().describe('This replica runs it now (a cluster schedule: holds its lease)'),
});

const LocalDuty = z.object({ name: z.string(), description: z.string() });

export const ModuleStatusSchema = z.object({
  id: z.string(),
  title: z.string(),
  status: z.enum(MODULE_STATES),
  reason: z.string().nullable(),
  fix: z.string().nullable(),
  /** The permission that shows the module in the console's navigation (null: every signed-in user). */
  navPermission: z.string().nullable(),
  /** The signed-in user has navPermission. */
  visible: z.boolean(),
  engines: z.array(Engine),
  schedules: z.array(Schedule),
  /** Machine-local duties of the module this replica holds (every replica holds its own). */
  localDuties: z.array(LocalDuty),
  checkedAt: z.number().nullable(),
});
export type ModuleStatusItem = z.output<typeof ModuleStatusSchema>;

/**
 * One module's status as the actor may see it. Staff roles see engines, versions, reasons, fixes
 * and schedules; the `user` role (a tenant) sees only whether a module is usable, because reasons
 * name the machine's internals (addresses, paths, versions) and schedule errors name other tenants' resources.
 */
export function moduleStatusFor(actor: Actor, m: ModuleStatusView, s: Services): ModuleStatusItem {
  const staff = !isTenant(actor);
  // Checked against this app's permission registry (buildApp refuses a navPermission it did not register).
  const visible = !m.navPermission || s.permissions.can(actor, m.navPermission);
  return {
    id: m.id,
    title: m.title,
    status: m.status,
    reason: m.status === 'ready' ? null : staff ? m.reason : `${m.title} is not fully available right now`,
    fix: staff ? m.fix : null,
    navPermission: m.navPermission,
    visible,
    engines: staff ? m.engines.map((e) => ({ id: e.id, title: e.title, optional: e.optional, ok: e.ok, version: e.version ?? null, reason: e.ok ? null : (e.reason ?? null), fix: e.ok ? null : (e.fix ?? null), checkedAt: e.checkedAt })) : [],
    schedules: staff ? s.scheduler.list(m.id).map(({ module: _m, ...v }) => v) : [],
    localDuties: staff ? s.cluster.localDuties(m.id).map((d) => ({ name: d.name, description: d.description })) : [],
    checkedAt: m.checkedAt,
  };
}

/** `GET /api/v1/modules`: the enabled modules, their status and why, for the console's navigation and Modules page. */
export function registerModulesRoutes(app: HttpApp, s: Services): void {
  app.get('/modules', {
    config: { authenticated: true },
    schema: {
      operationId: 'listModules', summary: 'Enabled modules: status, engines, schedules',
      tags: ['platform'],
      description: 'Each enabled module: its status (ready, degraded, unavailable) with the reason and fix, its engines and versions, the permission that shows it, its schedules.',
      response: { 200: z.object({
        items: z.array(ModuleStatusSchema),
        /** The replica that answered (staff): its id and the machine-local duties it holds, `<module>.<name>`. */
        replica: z.object({ id: z.string(), localDuties: z.array(z.string()) }).nullable(),
        warnings: z.array(z.object({ code: z.string(), message: z.string(), fix: z.string().nullable(), since: z.number() })) }) },
    },
  }, async (req) => ({
    items: s.modules.list().map((m) => moduleStatusFor(req.actor, m, s)),
    replica: isTenant(req.actor) ? null : { id: s.cluster.replicaId, localDuties: s.cluster.localDuties().map((d) => `${d.module}.${d.name}`) },
    // Platform-level problems (e.g. proxy_untrusted): staff see the explanation and fix, a tenant the code.
    warnings: s.warnings().map((w) => (!isTenant(req.actor)
      ? { code: w.code, message: w.message, fix: w.fix ?? null, since: w.since }
      : { code: w.code, message: 'The panel is degraded; its operators have been told why', fix: null, since: w.since })),
  }));
}
