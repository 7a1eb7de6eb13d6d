import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../server/src/testing/index.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhook, startWebhooks } from './webhooks.js';

const silent = { warn() {} } as never;

describe('wake/sleep webhooks', () => {
  it('posts woke and slept events with a body the receiver can verify, nothing else', async () => {
    const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const events = new EventBus();
    const stop = startWebhooks(events, { url: `http://127.0.0.1:${port}/hook`, secret: 'a-shared-secret-of-32-characters', log: silent });
    try {
      events.publish({ type: 'container.state', resource: { type: 'container', id: 's1' }, data: { state: 'waking' } });
      events.publish({ type: 'container.woke', resource: { type: 'container', id: 's1' }, data: { name: 'blog', startToReadyMs: 420 } });
      events.publish({ type: 'container.slept', resource: { type: 'container', id: 's1' }, data: { name: 'blog', reason: 'idle' } });
      for (let i = 0; i < 50 && received.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      expect(received.map((r) => JSON.parse(r.body).type).sort()).toEqual(['container.slept', 'container.woke']);
      for (const r of received) {
        const ts = r.headers[TIMESTAMP_HEADER] as string;
        expect(r.headers[SIGNATURE_HEADER]).toBe(signWebhook('a-shared-secret-of-32-characters', ts, r.body));
        expect(r.headers[SIGNATURE_HEADER]).not.toBe(signWebhook('another-secret-of-32-characters!', ts, r.body));
      }
      expect(JSON.parse(received.find((r) => r.body.includes('woke'))!.body)).toMatchObject({ service: 's1', data: { name: 'blog', startToReadyMs: 420 } });
    } finally {
      stop();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
