import { useQueryClient, type QueryKey } from '@tanstack/react-query';
import { useEffect, useRef, useSyncExternalStore } from 'react';
import { streamSse } from '../api/sse';

/** One resource change from GET /api/v1/events. */
export interface LiveEvent {
  id: number;
  at: number;
  type: string;
  resource?: { type: string; id: string } | null;
  data?: Record<string, unknown> | null;
}

type Listener = (e: LiveEvent) => void;

/** One shared SSE connection for the whole console, opened while anyone listens. */
class EventHub {
  private readonly listeners = new Set<Listener>();
  private abort: AbortController | null = null;
  private lastId: string | undefined;
  status: 'idle' | 'open' | 'reconnecting' | 'closed' = 'idle';
  private readonly statusListeners = new Set<() => void>();

  add(l: Listener): () => void {
    this.listeners.add(l);
    if (!this.abort) this.open();
    return () => {
      this.listeners.delete(l);
      if (!this.listeners.size) this.stop();
    };
  }

  private open() {
    const abort = new AbortController();
    this.abort = abort;
    void streamSse('/api/v1/events', {
      signal: abort.signal,
      lastEventId: this.lastId,
      onStatus: (s) => this.setStatus(s),
      onMessage: (m) => {
        if (m.id) this.lastId = m.id;
        let e: LiveEvent;
        try {
          e = JSON.parse(m.data) as LiveEvent;
        } catch {
          return;
        }
        for (const l of this.listeners) l(e);
      },
    }).finally(() => {
      if (this.abort === abort) this.abort = null;
    });
  }

  stop() {
    this.abort?.abort();
    this.abort = null;
    this.setStatus('idle');
  }

  private setStatus(s: EventHub['status']) {
    this.status = s;
    for (const l of this.statusListeners) l();
  }

  subscribeStatus = (fn: () => void) => {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  };

  getStatus = () => this.status;
}

export const eventHub = new EventHub();

/**
 * Calls `onEvent` for each live event whose type starts with one of `types` (all when omitted),
 * e.g. `useLiveEvents(['job.'], (e) => ...)`.
 */
export function useLiveEvents(types: string[] | undefined, onEvent: (e: LiveEvent) => void): void {
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const key = types?.join('|');
  useEffect(() => {
    const prefixes = key ? key.split('|') : undefined;
    return eventHub.add((e) => {
      if (!prefixes || prefixes.some((p) => e.type.startsWith(p))) handler.current(e);
    });
  }, [key]);
}

/** Re-fetches the given queries whenever an event of these types arrives (batched per 300 ms). */
export function useLiveInvalidate(types: string[], queryKeys: QueryKey[]): void {
  const qc = useQueryClient();
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useLiveEvents(types, () => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = undefined;
      for (const k of queryKeys) void qc.invalidateQueries({ queryKey: k });
    }, 300);
  });
}

/** 'open' while the live connection is up; for a "live" indicator. */
export function useLiveStatus() {
  return useSyncExternalStore(eventHub.subscribeStatus, eventHub.getStatus, eventHub.getStatus);
}
