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

/** Carries published events to the other replicas (the cluster bus on PostgreSQL). */
export type EventRelay = (e: { event: ResourceEvent; at: number; id: number }) => void;

/**
 * Bus for resource changes, feeding SSE `/api/v1/events`. Keeps a short ring buffer so a
 * reconnecting client resumes from its Last-Event-ID without a gap. With replicas (issue 15), a
 * relay sends every locally published event to the other replicas, which `receive` it into their
 * own bus: each subscriber, on any replica, gets each event once, in the order its publisher sent
 * them. Event ids grow with the clock (microseconds since the epoch, strictly increasing per
 * replica) and a relayed event keeps its publisher's id, so a client that reconnects to another
 * replica with its Last-Event-ID resumes there too (exact on one replica; across replicas up to
 * their clock difference).
 */
export class EventBus {
  private readonly emitter = new EventEmitter();
  private readonly ring: PublishedEvent[] = [];
  private seq = 0;
  private relay: EventRelay | null = null;
  private readonly remote = new WeakSet<PublishedEvent>();
  constructor(private readonly ringSize = 1000) {
    this.emitter.setMaxListeners(0);
  }

  publish(event: ResourceEvent): PublishedEvent {
    const at = Date.now();
    this.seq = Math.max(this.seq + 1, at * 1000);
    const e = this.deliver(event, at, this.seq, false);
    this.relay?.({ event, at, id: e.id });
    return e;
  }

  /** Sends every event published here to the other replicas too. */
  relayTo(relay: EventRelay | null): void {
    this.relay = relay;
  }

  /** An event published on another replica: delivered here, never relayed again. */
  receive(event: ResourceEvent, at: number, id: number): PublishedEvent {
    return this.deliver(event, at, id, true);
  }

  /** Whether the event came from another replica. */
  isRemote(e: PublishedEvent): boolean {
    return this.remote.has(e);
  }

  private deliver(event: ResourceEvent, at: number, id: number, remote: boolean): PublishedEvent {
    const e: PublishedEvent = { ...event, id, at };
    if (remote) this.remote.add(e);
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
