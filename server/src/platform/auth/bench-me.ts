/**
 * Throughput of an authenticated request (GET /api/v1/auth/me) over real HTTP with keep-alive:
 * `npx tsx server/src/platform/auth/bench-me.ts [seconds] [connections] [path]`. SQLite in a temp dir; the
 * load generator runs in a worker thread so it does not share the server's event loop.
 */
import { Worker } from 'node:worker_threads';
import { createTestApp } from '../../testing/harness.js';

const seconds = Number(process.argv[2] ?? 5);
const connections = Number(process.argv[3] ?? 32);
const path = process.argv[4] ?? '/api/v1/auth/me';

const LOAD = `
const http = require('node:http');
const { workerData, parentPort } = require('node:worker_threads');
const { port, headers, seconds, connections } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
let ok = 0, failed = 0;
const until = Date.now() + seconds * 1000;
const once = () => new Promise((resolve) => {
  const req = http.request({ host: '127.0.0.1', port, path: workerData.path, agent, headers }, (res) => {
    res.resume();
    res.on('end', () => { res.statusCode === 200 ? ok++ : failed++; resolve(); });
  });
  req.on('error', () => { failed++; resolve(); });
  req.end();
});
const started = Date.now();
Promise.all(Array.from({ length: connections }, async () => { while (Date.now() < until) await once(); }))
  .then(() => { agent.destroy(); parentPort.postMessage({ ok, failed, elapsed: (Date.now() - started) / 1000 }); });
`;

const t = await createTestApp({ startBackground: false });
try {
  const { headers } = await t.signIn('operator');
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = t.app.server.address() as { port: number };
  const result = await new Promise<{ ok: number; failed: number; elapsed: number }>((resolve, reject) => {
    const w = new Worker(LOAD, { eval: true, workerData: { port, headers, seconds, connections, path } });
    w.once('message', resolve);
    w.once('error', reject);
  });
  process.stdout.write(`GET ${path}: ${Math.round(result.ok / result.elapsed)} req/s (${result.ok} ok, ${result.failed} failed, ${connections} connections, ${result.elapsed.toFixed(1)} s)\n`);
} finally {
  await t.close();
}
