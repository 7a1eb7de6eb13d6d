/**
 * Replicas benchmark (issue 15): built panel processes on one fresh PostgreSQL database behind one
 * Caddy `reverse_proxy` (round-robin, active health checks). In one run, first with the balancer
 * pointing at one replica, then at two:
 *   - authenticated req/s and p99 of GET /api/v1/auth/me (Debian's `wrk` through Caddy);
 *   - event fan-out latency p50/p99: SSE clients on every replica, events published on one
 *     (sign-ins write audit entries), latency = arrival minus the publisher's timestamp.
 *
 *   npm run build:server && npx tsx bench/replicas.ts
 *   BENCH_SECONDS=5 BENCH_CONNECTIONS=50 BENCH_ROUNDS=3 BENCH_EVENTS=40 BENCH_SSE_CLIENTS=4
 *   SLIPWAY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres (the default)
 *
 * The machine's load average is printed with the figures: on a shared 2-core machine the three
 * processes (Caddy, panels, wrk) compete for the same cores, so 2 replicas measure the overhead
 * of sharing more than a gain in throughput.
 */
import { loadavg } from 'node:os';
import { replicaSetUnavailable, startReplicaSet, type ReplicaProcess } from '../server/src/testing/replicas.js';
import { sseEvents } from '../server/src/testing/sse-client.js';
import { median, wrk } from './wrk.js';

const PG = process.env.SLIPWAY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 40);
const SSE_CLIENTS = Number(process.env.BENCH_SSE_CLIENTS ?? 4);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

async function login(base: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  if (res.status !== 200) throw new Error(`login: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { accessToken: string }).accessToken;
}

/** SSE clients spread over `over` (directly, so each replica has its own), events published on the first. */
async function fanOut(over: ReplicaProcess[], token: string, username: string, password: string): Promise<number[]> {
  const latencies: number[] = [];
  const ctl = new AbortController();
  const readers: Promise<void>[] = [];
  for (let i = 0; i < SSE_CLIENTS; i++) {
    const r = over[i % over.length]!;
    const res = await fetch(`${r.url}/api/v1/events`, { headers: { authorization: `Bearer ${token}` }, signal: ctl.signal });
    readers.push((async () => {
      try {
        for await (const ev of sseEvents(res)) {
          if (ev.event !== 'audit.created') continue;
          const e = JSON.parse(ev.data) as { at: number; data: { action: string } };
          if (e.data.action === 'auth.login') latencies.push(Date.now() - e.at);
        }
      } catch {
        // aborted at the end
      }
    })());
  }
  await sleep(300);
  for (let i = 0; i < EVENTS; i++) {
    await login(over[0]!.url, username, password);
    await sleep(20);
  }
  await sleep(500);
  ctl.abort();
  await Promise.allSettled(readers);
  return latencies;
}

async function main(): Promise<void> {
  const why = replicaSetUnavailable(PG);
  if (why) throw new Error(`cannot run: ${why}`);
  const set = await startReplicaSet({ pgUrl: PG, count: 2 });
  const username = 'benchadmin';
  const password = `Bench-${Math.random().toString(36).slice(2)}-Pw1`;
  try {
    await set.createAdmin(username, password);
    const token = await login(set.lb, username, password);
    const rows: string[] = [];
    for (const n of [1, 2]) {
      const over = set.replicas.slice(0, n);
      await set.balance(over);
      const runs = [];
      for (let i = 0; i < ROUNDS; i++) {
        runs.push(await wrk({ label: `${n} replica(s)`, url: `${set.lb}/api/v1/auth/me`, headers: { authorization: `Bearer ${token}` }, connections: CONNECTIONS, seconds: SECONDS }));
      }
      const lat = await fanOut(over, token, username, password);
      const errors = runs.reduce((a, r) => a + r.errors, 0);
      rows.push(`${String(n).padStart(8)}  ${median(runs.map((r) => r.rps)).toFixed(0).padStart(10)}  ${median(runs.map((r) => r.p99)).toFixed(1).padStart(8)}  ${String(errors).padStart(6)}  ` +
        `${pct(lat, 50).toFixed(1).padStart(10)}  ${pct(lat, 99).toFixed(1).padStart(10)}  ${String(lat.length).padStart(6)}/${EVENTS * SSE_CLIENTS}  ${load()}`);
    }
    process.stdout.write(`\nReplicas behind Caddy on PostgreSQL: GET /api/v1/auth/me (${CONNECTIONS} connections, ${SECONDS} s, median of ${ROUNDS} rounds); ` +
      `event fan-out to ${SSE_CLIENTS} SSE clients over the replicas, ${EVENTS} events published on the first\n\n`);
    process.stdout.write(`replicas     req/s    p99 ms  errors  fanout p50  fanout p99  events     load avg\n${rows.join('\n')}\n`);
  } finally {
    await set.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
