import { EventEmitter } from 'node:events';

export interface ResourceEvent {
  /** e.g. `job.updated`, `container.woke`, `audit.created` */
  type: string;
  resource?: { type: string; id: string };
  /** Owner of the resource, when it has one: `user`-role subscribers only see their own. */
  ownerId?: string | null;
  data?: Record<string, unknown>;
}

export interface PublishedEvent extends ResourceEvent {
  id: number;
  at: number;
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
