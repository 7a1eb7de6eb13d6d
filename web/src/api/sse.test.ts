import { describe, expect, it } from 'vitest';
import { createSseParser, type SseMessage } from './sse';

describe('SSE parser', () => {
  it('splits events across arbitrary chunk boundaries, with ids, names, multi-line data and comments', () => {
    const got: SseMessage[] = [];
    const feed = createSseParser((m) => got.push(m));
    const stream = ': connected\n\nid: 1\nevent: log\ndata: {"seq":1}\n\nid: 2\ndata: a\ndata: b\n\r\nevent: end\ndata: {}\n\n';
    for (let i = 0; i < stream.length; i += 3) feed(stream.slice(i, i + 3));
    expect(got).toEqual([
      { id: '1', event: 'log', data: '{"seq":1}' },
      { id: '2', event: 'message', data: 'a\nb' },
      { id: '2', event: 'end', data: '{}' },
    ]);
  });
});
