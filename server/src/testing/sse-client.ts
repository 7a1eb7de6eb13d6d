/** A test client for SSE streams (live logs, events): reads events as a browser's EventSource would. */

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

export async function* sseEvents(res: Response): AsyncGenerator<SseEvent> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = buf.indexOf('\n\n')) !== -1) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const ev: SseEvent = { event: 'message', data: '' };
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const i = line.indexOf(':');
          const [field, value] = i === -1 ? [line, ''] : [line.slice(0, i), line.slice(i + 1).replace(/^ /, '')];
          if (field === 'id') ev.id = value;
          else if (field === 'event') ev.event = value;
          else if (field === 'data') data.push(value);
        }
        if (!data.length) continue;
        ev.data = data.join('\n');
        yield ev;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

export interface LiveLogRead {
  status: number;
  /** `log` events: their id and data. */
  lines: { id: string; line: string; data: Record<string, unknown> }[];
  states: Record<string, unknown>[];
  end: Record<string, unknown> | null;
  /** The id of the last `log` event (what a reconnecting EventSource sends as Last-Event-ID). */
  lastId: string | undefined;
  /** True when the server closed the stream (with or without `end`). */
  closedByServer: boolean;
}

/**
 * Follows a live-log SSE URL until `end`, until the server closes, until `idleMs` pass with no
 * event, or until `stopWhen` says so; then disconnects (like a tab being closed).
 */
export async function readLiveLog(url: string, o: { headers: Record<string, string>; lastEventId?: string; idleMs?: number; timeoutMs?: number; stopWhen?: (r: LiveLogRead) => boolean }): Promise<LiveLogRead> {
  const ac = new AbortController();
  const headers: Record<string, string> = { ...o.headers, accept: 'text/event-stream' };
  if (o.lastEventId) headers['last-event-id'] = o.lastEventId;
  const res = await fetch(url, { headers, signal: ac.signal });
  const out: LiveLogRead = { status: res.status, lines: [], states: [], end: null, lastId: o.lastEventId, closedByServer: false };
  if (res.status !== 200) {
    await res.body?.cancel();
    return out;
  }
  const it = sseEvents(res);
  const overall = Date.now() + (o.timeoutMs ?? 20_000);
  try {
    for (;;) {
      const left = Math.min(o.idleMs ?? 1500, overall - Date.now());
      if (left <= 0) break;
      let timer: NodeJS.Timeout | undefined;
      const next = await Promise.race([it.next(), new Promise<'idle'>((r) => (timer = setTimeout(() => r('idle'), left)))]);
      clearTimeout(timer);
      if (next === 'idle') break;
      if (next.done) {
        out.closedByServer = true;
        break;
      }
      const ev = next.value;
      const data = JSON.parse(ev.data) as Record<string, unknown>;
      if (ev.event === 'log') {
        out.lines.push({ id: ev.id ?? '', line: String(data.line), data });
        out.lastId = ev.id;
      } else if (ev.event === 'state') out.states.push(data);
      else if (ev.event === 'end') out.end = data;
      if (o.stopWhen?.(out)) break;
    }
  } catch {
    /* aborted */
  } finally {
    ac.abort();
  }
  return out;
}
