/**
 * The API benchmark's baseline: a bare Fastify 5 app (no plugins, no hooks) answering the same JSON
 * the panel answers, on the same routes. Started by bench/api.ts: BARE_PORT, BARE_BODIES (a JSON
 * object of path -> body).
 */
import Fastify from 'fastify';

const bodies = JSON.parse(process.env.BARE_BODIES ?? '{}') as Record<string, unknown>;
const app = Fastify({ logger: false });
for (const [url, body] of Object.entries(bodies)) app.get(url, async () => body);
await app.listen({ host: '127.0.0.1', port: Number(process.env.BARE_PORT) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
