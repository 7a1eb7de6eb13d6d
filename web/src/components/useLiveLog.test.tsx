import { act, renderHook, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { useJobLog } from './useJobLog';
import { useLiveLog } from './useLiveLog';

/**
 * useLiveLog against a mocked server (fetch answering text/event-stream). Issue 18, finding 1:
 * a reconnect must resume from the last line (Last-Event-ID) and never append the tail again;
 * an ended log (a stopped container) must stop, not loop on "reconnecting".
 */
type Handler = (req: Request, n: number) => Response;

function sse(events: { id?: string; event: string; data: unknown }[], opts: { keepOpen?: boolean } = {}): Response {
  const text = events.map((e) => `${e.id ? `id: ${e.id}\n` : ''}event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`).join('');
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode(`: connected\n\n${text}`));
      if (!opts.keepOpen) c.close();
    },
  });
  return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
}
const log = (id: string, line: string, extra: Record<string, unknown> = {}) => ({ id, event: 'log', data: { seq: Number(id.replace(/\D/g, '')) || 0, stream: 'stdout', line, cursor: id, ...extra } });

let requests: Request[] = [];
function serve(handler: Handler) {
  requests = [];
  vi.stubGlobal('fetch', vi.fn(async (input: Request) => {
    requests.push(input);
    return handler(input, requests.length);
  }));
}
const lines = (b: { flush(): void; all(): readonly { line: string }[] }) => {
  b.flush();
  return b.all().map((l) => l.line);
};

beforeEach(() => {
  vi.useRealTimers();
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe('useLiveLog', () => {
  it('a dropped stream reconnects with Last-Event-ID and appends only the new lines', async () => {
    serve((req, n) => {
      if (n === 1) return sse([log('c1', 'one'), log('c2', 'two'), log('c3', 'three')]); // then the connection drops
      // The server resumes after the id it is given.
      expect(req.headers.get('last-event-id')).toBe('c3');
      return sse([log('c4', 'four'), { event: 'end', data: { reason: 'stopped', message: 'The container stopped (exit code 1)' } }]);
    });
    const { result } = renderHook(() => useLiveLog('/api/v1/containers/x/logs'));
    await waitFor(() => expect(result.current.status).toBe('ended'), { timeout: 4000 });
    expect(lines(result.current.buffer)).toEqual(['one', 'two', 'three', 'four']);
    expect(result.current.end).toMatchObject({ reason: 'stopped' });
    expect(result.current.label).toBe('ended: The container stopped (exit code 1)');
    expect(requests).toHaveLength(2);
    // Ended: no more reconnects (the bug looped here, appending the tail each time).
    await new Promise((r) => setTimeout(r, 1200));
    expect(requests).toHaveLength(2);
  });

  it('never re-appends a line it has, even from a server that replays the tail', async () => {
    serve((_req, n) => {
      if (n === 1) return sse([log('t1', 'crashing now'), log('t2', 'crashing now (2)')]);
      if (n === 2) return sse([log('t1', 'crashing now'), log('t2', 'crashing now (2)'), log('t3', 'new')]);
      return sse([{ event: 'end', data: { reason: 'stopped' } }]);
    });
    const { result } = renderHook(() => useLiveLog('/api/v1/containers/y/logs'));
    await waitFor(() => expect(result.current.status).toBe('ended'), { timeout: 6000 });
    expect(lines(result.current.buffer)).toEqual(['crashing now', 'crashing now (2)', 'new']);
  });

  it('“Follow again” after an end resumes from the last line: nothing twice', async () => {
    serve((req, n) => {
      if (n === 1) return sse([log('a1', 'first run'), { event: 'end', data: { reason: 'stopped', message: 'stopped' } }]);
      expect(req.headers.get('last-event-id')).toBe('a1');
      return sse([log('a2', 'second run'), { event: 'end', data: { reason: 'stopped', message: 'stopped again' } }]);
    });
    const { result } = renderHook(() => useLiveLog('/api/v1/containers/z/logs'));
    await waitFor(() => expect(result.current.status).toBe('ended'));
    act(() => result.current.restart());
    await waitFor(() => expect(result.current.end?.message).toBe('stopped again'));
    expect(lines(result.current.buffer)).toEqual(['first run', 'second run']);
  });

  it('a refused stream (422, 404) ends with the server\'s message instead of retrying', async () => {
    serve(() => new Response(JSON.stringify({ error: { code: 'foreign_container', message: 'That container is not this service\'s' } }), { status: 422, headers: { 'content-type': 'application/json' } }));
    const { result } = renderHook(() => useLiveLog('/api/v1/containers/w/logs'));
    await waitFor(() => expect(result.current.status).toBe('ended'));
    expect(result.current.end).toMatchObject({ reason: 'refused', message: 'That container is not this service\'s' });
    await new Promise((r) => setTimeout(r, 800));
    expect(requests).toHaveLength(1);
  });

  it('shows notices inline, maps levels to colours, and reports live while open', async () => {
    serve(() => sse([
      log('f1.1', 'GET / 200'),
      { event: 'state', data: { state: 'notice', message: 'app.log was rotated; following the new file' } },
      log('f2.1', 'ERROR db gone', { level: 'error' }),
    ], { keepOpen: true }));
    const { result, unmount } = renderHook(() => useLiveLog('/api/v1/server/logs/app/stream?host=local'));
    await waitFor(() => expect(lines(result.current.buffer)).toHaveLength(3));
    expect(result.current.status).toBe('live');
    expect(lines(result.current.buffer)[1]).toBe('— app.log was rotated; following the new file —');
    expect(result.current.buffer.all()[2]!.stream).toBe('error');
    unmount();
  });
});

describe('useJobLog (on useLiveLog)', () => {
  it('tracks the job from `state` and `end`, resuming by seq', async () => {
    const job = (state: string) => ({ id: 'j1', type: 't', state, steps: [] });
    serve((req, n) => {
      if (n === 1) return sse([{ id: '1', event: 'log', data: { seq: 1, at: 1, stream: 'info', line: 'step 1' } }, { event: 'state', data: { state: 'running', job: job('running') } }]);
      expect(req.headers.get('last-event-id')).toBe('1');
      return sse([{ id: '2', event: 'log', data: { seq: 2, at: 2, stream: 'info', line: 'step 2' } }, { event: 'end', data: { reason: 'finished', job: job('succeeded') } }]);
    });
    const { result } = renderHook(() => useJobLog('j1'));
    await waitFor(() => expect(result.current.status).toBe('ended'), { timeout: 4000 });
    expect(result.current.job?.state).toBe('succeeded');
    expect(lines(result.current.buffer)).toEqual(['step 1', 'step 2']);
  });
});
