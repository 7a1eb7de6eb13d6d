import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit.service.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import { SYSTEM_ACTOR, type Actor } from '../rbac/permissions.js';

/**
 * Expiry as a platform lifecycle policy (issue 12). Any module's resource may carry one: it
 * expires at a time; N days before, an event `lifecycle.expiring` is published (webhooks and email
 * subscribe to events); at expiry the module's handler stops the resource (`shutdown` or
 * `suspend`); after the grace period the module's handler deletes it. `renew` moves the expiry
 * (and brings an expired resource back through the module's `restore`). Every action the policy
 * takes is audited as the system actor, with the resource as target. Time comes from `clock`,
 * so tests run a simulated calendar.
 *
 * One instance per module and resource type (`new LifecyclePolicies({ module: 'vps', resourceType:
 * 'vps', handlers })`); the module runs `sweep()` from `ctx.schedule`.
 */

export const DAY_MS = 86_400_000;
export type ExpiryAction = 'shutdown' | 'suspend';
export type LifecyclePhase = 'active' | 'notified' | 'expired';

export interface LifecycleHandlers {
  /** Stop the resource at expiry (it must stay restorable). */
  expire(resourceId: string, action: ExpiryAction): Promise<void>;
  /** Delete the resource after the grace period (the policy row goes with it). */
  remove(resourceId: string): Promise<void>;
  /** Optional: bring an expired resource back when it is renewed. */
  restore?(resourceId: string, wasAction: ExpiryAction): Promise<void>;
}

export interface LifecyclePolicyInput {
  expiresAt: number;
  ownerId?: string | null;
  notifyDays?: number;
  graceDays?: number;
  onExpiry?: ExpiryAction;
}

export interface LifecyclePolicyView {
  resourceType: string;
  resourceId: string;
  ownerId: string | null;
  expiresAt: number;
  notifyDays: number;
  graceDays: number;
  onExpiry: ExpiryAction;
  phase: LifecyclePhase;
  notifiedAt: number | null;
  expiredAt: number | null;
  /** When the resource will be deleted (expiry + grace). */
  deleteAt: number;
  lastError: string | null;
}

interface Row {
  resource_type: string; resource_id: string; module: string; owner_id: string | null; expires_at: number; notify_days: number; grace_days: number;
  on_expiry: string; phase: string; notified_at: number | null; expired_at: number | null; last_error: string | null; updated_at: number;
}

export interface LifecycleOptions {
  db: Kysely<any>;
  audit: AuditLog;
  events: EventBus;
  module: string;
  resourceType: string;
  handlers: LifecycleHandlers;
  clock?: () => number;
  defaults?: { notifyDays?: number; graceDays?: number; onExpiry?: ExpiryAction };
  /** The permission subscribers need for the policy's events (the module's read permission). */
  permission?: string;
}

const intIn = (v: number | undefined, d: number, max: number, what: string): number => {
  const x = v ?? d;
  if (!Number.isInteger(x) || x < 0 || x > max) throw new ValidationError(`${what} must be a whole number between 0 and ${max}`);
  return x;
};

export class LifecyclePolicies {
  readonly now: () => number;
  constructor(private readonly o: LifecycleOptions) {
    this.now = o.clock ?? Date.now;
  }

  private view(r: Row): LifecyclePolicyView {
    const expiresAt = Number(r.expires_at);
    const graceDays = Number(r.grace_days);
    return {
      resourceType: r.resource_type, resourceId: r.resource_id, ownerId: r.owner_id, expiresAt, notifyDays: Number(r.notify_days), graceDays,
      onExpiry: r.on_expiry as ExpiryAction, phase: r.phase as LifecyclePhase, notifiedAt: r.notified_at === null ? null : Number(r.notified_at),
      expiredAt: r.expired_at === null ? null : Number(r.expired_at), deleteAt: expiresAt + graceDays * DAY_MS, lastError: r.last_error,
    };
  }

  private base() {
    return this.o.db.selectFrom('lifecycle_policies').selectAll().where('resource_type', '=', this.o.resourceType);
  }

  async get(resourceId: string): Promise<LifecyclePolicyView | null> {
    const r = (await this.base().where('resource_id', '=', resourceId).executeTakeFirst()) as Row | undefined;
    return r ? this.view(r) : null;
  }

  /** The policies of many resources at once (list views). */
  async getMany(ids: readonly string[]): Promise<Map<string, LifecyclePolicyView>> {
    const out = new Map<string, LifecyclePolicyView>();
    if (ids.length > 200) {
      // A large page: one scan of this resource type beats long IN lists.
      const want = new Set(ids);
      for (const r of (await this.base().execute()) as Row[]) if (want.has(r.resource_id)) out.set(r.resource_id, this.view(r));
      return out;
    }
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      if (!chunk.length) continue;
      for (const r of (await this.base().where('resource_id', 'in', chunk).execute()) as Row[]) out.set(r.resource_id, this.view(r));
    }
    return out;
  }

  /** Sets (or replaces) the resource's policy; audited as `actor`. */
  async set(actor: Actor, resourceId: string, p: LifecyclePolicyInput): Promise<LifecyclePolicyView> {
    if (!Number.isSafeInteger(p.expiresAt) || p.expiresAt <= 0) throw new ValidationError('expiresAt must be a time (epoch milliseconds)');
    const d = this.o.defaults ?? {};
    const onExpiry = p.onExpiry ?? d.onExpiry ?? 'shutdown';
    if (onExpiry !== 'shutdown' && onExpiry !== 'suspend') throw new ValidationError('onExpiry must be shutdown or suspend');
    const row: Row = {
      resource_type: this.o.resourceType, resource_id: resourceId, module: this.o.module, owner_id: p.ownerId ?? null, expires_at: p.expiresAt,
      notify_days: intIn(p.notifyDays, d.notifyDays ?? 3, 365, 'notifyDays'), grace_days: intIn(p.graceDays, d.graceDays ?? 7, 365, 'graceDays'),
      on_expiry: onExpiry, phase: 'active', notified_at: null, expired_at: null, last_error: null, updated_at: this.now(),
    };
    const existing = await this.get(resourceId);
    if (existing) {
      const { resource_type: _t, resource_id: _i, ...rest } = row;
      await this.o.db.updateTable('lifecycle_policies').set(rest).where('resource_type', '=', this.o.resourceType).where('resource_id', '=', resourceId).execute();
    } else {
      await this.o.db.insertInto('lifecycle_policies').values(row).execute();
    }
    if (existing?.phase === 'expired' && row.expires_at > this.now()) await this.restore(resourceId, existing.onExpiry);
    await this.o.audit.record({ actor, action: 'lifecycle.set', target: { type: this.o.resourceType, id: resourceId }, details: { expiresAt: row.expires_at, notifyDays: row.notify_days, graceDays: row.grace_days, onExpiry } });
    return (await this.get(resourceId))!;
  }

  /** Extends the expiry to `expiresAt` (later than now); an expired resource is restored. */
  async renew(actor: Actor, resourceId: string, expiresAt: number): Promise<LifecyclePolicyView> {
    const cur = await this.get(resourceId);
    if (!cur) throw new NotFoundError('Expiry policy', resourceId);
    if (!Number.isSafeInteger(expiresAt) || expiresAt <= this.now()) throw new ValidationError('A renewal must move the expiry into the future');
    await this.o.db.updateTable('lifecycle_policies').set({ expires_at: expiresAt, phase: 'active', notified_at: null, expired_at: null, last_error: null, updated_at: this.now() })
      .where('resource_type', '=', this.o.resourceType).where('resource_id', '=', resourceId).execute();
    if (cur.phase === 'expired') await this.restore(resourceId, cur.onExpiry);
    await this.o.audit.record({ actor, action: 'lifecycle.renew', target: { type: this.o.resourceType, id: resourceId }, details: { from: cur.expiresAt, to: expiresAt } });
    return (await this.get(resourceId))!;
  }

  /** Removes the policy (the resource no longer expires, or it was deleted). */
  async clear(actor: Actor | null, resourceId: string): Promise<void> {
    const r = await this.o.db.deleteFrom('lifecycle_policies').where('resource_type', '=', this.o.resourceType).where('resource_id', '=', resourceId).executeTakeFirst();
    if (actor && Number(r.numDeletedRows) > 0) await this.o.audit.record({ actor, action: 'lifecycle.clear', target: { type: this.o.resourceType, id: resourceId } });
  }

  private async restore(resourceId: string, was: ExpiryAction): Promise<void> {
    if (!this.o.handlers.restore) return;
    try {
      await this.o.handlers.restore(resourceId, was);
    } catch (e) {
      await this.setError(resourceId, `restore failed: ${(e as Error).message}`);
    }
  }

  private async setError(resourceId: string, message: string | null): Promise<void> {
    await this.o.db.updateTable('lifecycle_policies').set({ last_error: message?.slice(0, 500) ?? null, updated_at: this.now() })
      .where('resource_type', '=', this.o.resourceType).where('resource_id', '=', resourceId).execute();
  }

  /**
   * One pass over due policies: notify, expire, delete. A handler failure is recorded on the
   * policy (and in the audit log, outcome failure) and tried again on the next pass.
   */
  async sweep(): Promise<{ notified: string[]; expired: string[]; deleted: string[] }> {
    const now = this.now();
    const out = { notified: [] as string[], expired: [] as string[], deleted: [] as string[] };
    const due = (await this.o.db.selectFrom('lifecycle_policies').selectAll().where('module', '=', this.o.module).where('resource_type', '=', this.o.resourceType)
      .where('expires_at', '<=', now + 366 * DAY_MS).execute()) as Row[];
    for (const r of due) {
      const p = this.view(r);
      const target = { type: this.o.resourceType, id: p.resourceId };
      const at = (phase: LifecyclePhase, extra: Record<string, unknown>) => this.o.db.updateTable('lifecycle_policies').set({ phase, ...extra, last_error: null, updated_at: now })
        .where('resource_type', '=', this.o.resourceType).where('resource_id', '=', p.resourceId).execute();
      try {
        if (p.phase !== 'expired' && now >= p.expiresAt) {
          await this.o.handlers.expire(p.resourceId, p.onExpiry);
          await at('expired', { expired_at: now });
          await this.o.audit.record({ actor: SYSTEM_ACTOR, action: 'lifecycle.expire', target, details: { action: p.onExpiry, expiresAt: p.expiresAt, deleteAt: p.deleteAt } });
          this.o.events.publish({ type: 'lifecycle.expired', resource: target, ownerId: p.ownerId, permission: this.o.permission, data: { module: this.o.module, action: p.onExpiry, deleteAt: p.deleteAt } });
          out.expired.push(p.resourceId);
        } else if (p.phase === 'expired' && now >= p.deleteAt) {
          await this.o.handlers.remove(p.resourceId);
          await this.clear(null, p.resourceId);
          await this.o.audit.record({ actor: SYSTEM_ACTOR, action: 'lifecycle.delete', target, details: { expiredAt: p.expiredAt, graceDays: p.graceDays } });
          this.o.events.publish({ type: 'lifecycle.deleted', resource: target, ownerId: p.ownerId, permission: this.o.permission, data: { module: this.o.module } });
          out.deleted.push(p.resourceId);
        } else if (p.phase === 'active' && p.notifyDays > 0 && now >= p.expiresAt - p.notifyDays * DAY_MS) {
          await at('notified', { notified_at: now });
          await this.o.audit.record({ actor: SYSTEM_ACTOR, action: 'lifecycle.notify', target, details: { expiresAt: p.expiresAt } });
          this.o.events.publish({ type: 'lifecycle.expiring', resource: target, ownerId: p.ownerId, permission: this.o.permission, data: { module: this.o.module, expiresAt: p.expiresAt, action: p.onExpiry } });
          out.notified.push(p.resourceId);
        }
      } catch (e) {
        const message = (e as Error).message;
        await this.setError(p.resourceId, message);
        await this.o.audit.record({ actor: SYSTEM_ACTOR, action: p.phase === 'expired' ? 'lifecycle.delete' : 'lifecycle.expire', target, outcome: 'failure', details: { error: message.slice(0, 300) } });
      }
    }
    return out;
  }
}
