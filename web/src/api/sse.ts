import { abs, session } from '../auth/session';

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/** Splits a text/event-stream into messages; feed it chunks, it calls `onMessage` per complete event. */
export function createSseParser(onMessage: (m: SseMessage) => void) {
  let buffer = '';
  let id: string | undefined;
  let event = '';
  let data: string[] = [];
  return (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.search(/\r\n|\n|\r/)) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer[nl] === '\r' && buffer[nl + 1] === '\n' ? 2 : 1));
      if (line === '') {
        if (data.length) onMessage({ id, event: event || 'message', data: data.join('\n') });
        event = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') data.push(value);
      else if (field === 'event') event = value;
      else if (field === 'id') id = value;
    }
  };
}

export interface SseOptions {
  onMessage(m: SseMessage): void;
  /** Called when the stream (re)connects or drops; for "live"/"reconnecting" indicators. */
  onStatus?(s: 'open' | 'reconnecting' | 'closed'): void;
  /** Resume point (sent as Last-Event-ID). */
  lastEventId?: string;
  signal: AbortSignal;
  /** Checked when the server closes the stream: true stops (e.g. a job log after its `end` event), otherwise it reconnects and resumes. */
  isDone?(): boolean;
  /**
   * The server refused the stream (401/403/404, or another 4xx but 408/429): it is not retried.
   * Gets the response so the caller can show why.
   */
  onRefused?(res: Response): void | Promise<void>;
}

/**
 * SSE over fetch, so the Authorization header can be sent (EventSource cannot). Reconnects with
 * backoff and resumes from the last seen id.
 */
export async function streamSse(url: string, o: SseOptions): Promise<void> {
  let lastId = o.lastEventId;
  let delay = 500;
  while (!o.signal.aborted) {
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (lastId) headers['last-event-id'] = lastId;
      const res = await session.authedFetch(new Request(abs(url), { headers, signal: o.signal }));
      // A refusal does not change by asking again (a 422 "not running", a 404): retrying it would loop.
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
        await o.onRefused?.(res);
        o.onStatus?.('closed');
        return;
      }
      if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
      o.onStatus?.('open');
      delay = 500;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      const parse = createSseParser((m) => {
        if (m.id) lastId = m.id;
        o.onMessage(m);
      });
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parse(value);
      }
      if (o.isDone?.()) {
        o.onStatus?.('closed');
        return;
      }
    } catch (e) {
      if (o.signal.aborted) break;
      void e;
    }
    o.onStatus?.('reconnecting');
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 10_000);
  }
  o.onStatus?.('closed');
}
