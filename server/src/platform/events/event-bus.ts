import { EventEmitter } from 'node:events';
import { corePermissions } from '../rbac/core-permissions.js';
import { can, isTenant, type Actor } from '../rbac/permissions.js';

export interface ResourceEvent {
  /** e.g. `job.updated`, `container.woke`, `audit.created` */
  type: string;
  resource?: { type: string; id: string };
  /** Owner of the resource, when it has one: `user`-role subscribers only see their own. */
  ownerId?: string | null;
  /** The permission a subscriber needs to receive it (default: by type prefix, see `eventPermission`). */
  permission?: string;
  data?: Record<string, unknown>;
}

export interface PublishedEvent extends ResourceEvent {
  id: number;
  at: number;
}

/** Core event families and the permission that reads them; an event's own `permission` wins. */
const PREFIX_PERMISSIONS: [string, string][] = [
  ['audit.', corePermissions['audit.read']],
  ['job.', corePermissions['jobs.read']],
  ['host.', corePermissions['hosts.read']],
];

export function eventPermission(e: Pick<ResourceEvent, 'type' | 'permission'>): string {
  return e.permission ?? PREFIX_PERMISSIONS.find(([p]) => e.type.startsWith(p))?.[1] ?? corePermissions['events.read'];
}

/**
 * Whether a subscriber may receive an event: it needs the event's read permission, and the `user`
 * role only receives events about resources it owns (an event without an owner is staff-only).
 */
export function eventVisibleTo(actor: Actor, e: ResourceEvent): boolean {
  if (!can(actor, eventPermission(e))) return false;
  if (!isTenant(actor)) return true;
  return typeof e.ownerId === 'string' && actor.userId !== null && e.ownerId === actor.userId;
}

/**
 * In-process bus for resource changes, feeding SSE `/api/v1/events`. Keeps a short ring buffer so
 * a reconnecting client resumes from its Last-Event-ID without a gap.
 */
export class EventBus {
  private readonly emitter = new EventEmitter();
  private readonly ring: PublishedEvent[] = [];
  private seq = 0;
  constructor(private readonly ringSize = 1000) {
    this.emitter.setMaxListeners(0);
  }

  publish(event: ResourceEvent): PublishedEvent {
    const e: PublishedEvent = { ...event, id: ++this.seq, at: Date.now() };
    this.ring.push(e);
    if (this.ring.length > this.ringSize) this.ring.shift();
    this.emitter.emit('event', e);
    return e;
  }

  /** Events after `sinceId` still held in the buffer. */
  since(sinceId: number): PublishedEvent[] {
    return this.ring.filter((e) => e.id > sinceId);
  }

  subscribe(listener: (e: PublishedEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
