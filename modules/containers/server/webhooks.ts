import { createHmac } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { type EventBus, type PublishedEvent } from '../../../server/src/sdk.js';

export const SIGNATURE_HEADER = 'x-slipway-signature';
export const TIMESTAMP_HEADER = 'x-slipway-timestamp';

/** HMAC-SHA256 over `<timestamp>.<body>`: the receiver recomputes it with the shared secret. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Posts every wake and sleep (`container.woke`, `container.slept`) to a configured URL with a
 * signed body. Best effort: a receiver that is down only costs a warning in the log.
 */
export function startWebhooks(events: EventBus, opts: { url: string; secret: string; log: FastifyBaseLogger; timeoutMs?: number }): () => void {
  return events.subscribe((e: PublishedEvent) => {
    if (e.type !== 'container.woke' && e.type !== 'container.slept') return;
    const body = JSON.stringify({ id: e.id, type: e.type, at: e.at, service: e.resource?.id ?? null, data: e.data ?? {} });
    const timestamp = String(Math.floor(e.at / 1000));
    void fetch(opts.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signWebhook(opts.secret, timestamp, body), [TIMESTAMP_HEADER]: timestamp },
      body,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
    })
      .then(async (res) => {
        await res.arrayBuffer().catch(() => {});
        if (!res.ok) opts.log.warn({ status: res.status, event: e.type }, 'containers webhook answered an error');
      })
      .catch((err: unknown) => opts.log.warn({ err: (err as Error).message, event: e.type }, 'containers webhook failed'));
  });
}
