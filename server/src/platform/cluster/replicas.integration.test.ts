/**
 * Issue 15: three built panel processes on one fresh PostgreSQL database behind a real Caddy
 * `reverse_proxy` (round-robin, active health checks). Runs in the PostgreSQL run (`npm run test:pg`,
 * after `npm run build`); skips, saying why, without PostgreSQL, a build or Caddy.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replicaSetUnavailable, startReplicaSet, type ReplicaProcess, type ReplicaSet } from '../../testing/replicas.js';
import { sseEvents } from '../../testing/sse-client.js';
import { testPassword } from '../../testing/harness.js';

const PG = process.env.SLIPWAY_TEST_DATABASE_URL;
const why = replicaSetUnavailable(PG);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HEARTBEAT_MS = 200;
/** platform.cluster-housekeeping runs every 12 heartbeats. */
const SCHEDULE_MS = HEARTBEAT_MS * 12;
const LEASE_MS = 2000;

type Replica = ReplicaProcess;

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

describe.skipIf(!!why)(`three replicas behind Caddy on one PostgreSQL${why ? ` (skipped: ${why})` : ''}`, () => {
  let set: ReplicaSet;
  let replicas: Replica[] = [];
  let lb = '';
  let dbUrl = '';
  let admin = { username: 'admin1', password: testPassword(), token: '', refresh: '' };
  const api = (base: string, p: string, init: RequestInit & { token?: string } = {}) => fetch(`${base}/api/v1${p}`, {
    ...init,
    headers: { ...(init.body ? { 'content-type': 'application/json' } : {}), ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...(init.headers as Record<string, string> | undefined) },
  });
  const aliveReplicas = () => replicas.filter((r) => r.alive);
  const kill9 = (r: Replica) => r.kill9();

  beforeAll(async () => {
    set = await startReplicaSet({ pgUrl: PG!, count: 3, env: { SLIPWAY_JOB_LEASE_MS: String(LEASE_MS), SLIPWAY_CLUSTER_HEARTBEAT_MS: String(HEARTBEAT_MS) } });
    replicas = set.replicas;
    lb = set.lb;
    dbUrl = set.dbUrl;
    await set.createAdmin(admin.username, admin.password);
    const login = (await (await api(lb, '/auth/login', { method: 'POST', body: JSON.stringify({ username: admin.username, password: admin.password }) })).json()) as { accessToken: string; refreshToken: string };
    admin = { ...admin, token: login.accessToken, refresh: login.refreshToken };
  }, 180_000);

  afterAll(async () => {
    await set?.stop();
  }, 60_000);

  it('ran each migration once, and the balancer spreads requests over all three replicas', async () => {
    const c = new pg.Client({ connectionString: dbUrl });
    await c.connect();
    const { rows } = await c.query('select name, count(*)::int as n from slipway_migrations group by name');
    await c.end();
    expect(rows.length).toBeGreaterThan(3);
    expect(rows.every((r: { n: number }) => r.n === 1)).toBe(true);
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const body = (await (await api(lb, '/cluster', { token: admin.token })).json()) as { replicaId: string; replicas: { id: string; state: string; address: string; version: string }[] };
      seen.add(body.replicaId);
      expect(body.replicas.filter((r) => r.state === 'alive').map((r) => r.address).sort()).toEqual(replicas.map((r) => `127.0.0.1:${r.port}`).sort());
    }
    expect(seen.size).toBe(3);
  });

  it('twenty refreshes, each on another replica, never end the session; a parallel pair shares one successor', async () => {
    const login = (await (await api(lb, '/auth/login', { method: 'POST', body: JSON.stringify({ username: admin.username, password: admin.password }) })).json()) as { accessToken: string; refreshToken: string };
    let refresh = login.refreshToken;
    let access = login.accessToken;
    const answered = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const res = await api(lb, '/auth/refresh', { method: 'POST', body: JSON.stringify({ refreshToken: refresh }) });
      expect(res.status, await res.clone().text()).toBe(200);
      const j = (await res.json()) as { accessToken: string; refreshToken: string };
      refresh = j.refreshToken;
      access = j.accessToken;
      // Round-robin: which replica answered the next request tells the rotation goes on.
      if (i < 3) answered.add(((await (await api(lb, '/cluster', { token: access })).json()) as { replicaId: string }).replicaId);
    }
    expect(answered.size).toBeGreaterThan(1);
    // The same token presented on two replicas at once (two tabs): both get the one successor.
    const [p1, p2] = await Promise.all([replicas[0]!, replicas[1]!].map((r) => api(r.url, '/auth/refresh', { method: 'POST', body: JSON.stringify({ refreshToken: refresh }) })));
    expect([p1!.status, p2!.status]).toEqual([200, 200]);
    const [s1, s2] = (await Promise.all([p1!.json(), p2!.json()])) as { refreshToken: string; accessToken: string }[];
    expect(s1!.refreshToken).toBe(s2!.refreshToken);
    for (const r of replicas) expect((await api(r.url, '/auth/me', { token: s1!.accessToken })).status).toBe(200);
  });

  it('a revoked session fails on every replica within 1 s', async () => {
    const login = (await (await api(lb, '/auth/login', { method: 'POST', body: JSON.stringify({ username: admin.username, password: admin.password }) })).json()) as { accessToken: string; sessionId?: string };
    // Every replica has checked (and cached) the session.
    for (const r of replicas) expect((await api(r.url, '/auth/me', { token: login.accessToken })).status).toBe(200);
    const sessions = (await (await api(lb, '/auth/sessions', { token: admin.token })).json()) as { items: { id: string; current: boolean; lastSeenAt: number }[] };
    const me = (await (await api(replicas[0]!.url, '/auth/sessions', { token: login.accessToken })).json()) as { items: { id: string; current: boolean }[] };
    const target = me.items.find((s) => s.current)!.id;
    expect(sessions.items.map((s) => s.id)).toContain(target);
    const del = await api(replicas[0]!.url, `/auth/sessions/${target}`, { method: 'DELETE', token: admin.token });
    expect(del.status).toBeLessThan(300);
    const t0 = Date.now();
    const refusedAfter = await Promise.all(replicas.map((r) => until(`${r.name} refuses`, async () => ((await api(r.url, '/auth/me', { token: login.accessToken })).status === 401 ? Date.now() - t0 : null), 1500, 20)));
    for (const ms of refusedAfter) expect(ms).toBeLessThan(1000);
  });

  it('twenty wrong passwords spread over the replicas lock the account exactly as on one replica', async () => {
    const username = 'lockme';
    const password = testPassword();
    expect((await api(lb, '/users', { method: 'POST', token: admin.token, body: JSON.stringify({ username, email: 'lock@example.test', role: 'operator', password }) })).status).toBe(201);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await api(lb, '/auth/login', { method: 'POST', body: JSON.stringify({ username, password: `wrong-${i}-${password}` }) });
      statuses.push(res.status);
    }
    // One replica: 5 failures (401), then locked (429) for the rest — never 5 per replica.
    expect(statuses).toEqual([...Array(5).fill(401), ...Array(15).fill(429)]);
    expect((await api(lb, '/auth/login', { method: 'POST', body: JSON.stringify({ username, password }) })).status).toBe(429);
  });

  it('an SSE client on C receives an event published on A', async () => {
    const [a, , c] = replicas;
    const ctl = new AbortController();
    const res = await fetch(`${c!.url}/api/v1/events`, { headers: { authorization: `Bearer ${admin.token}` }, signal: ctl.signal });
    expect(res.status).toBe(200);
    const stream = sseEvents(res);
    await sleep(200);
    // Creating a user on A writes an audit entry there: its event reaches C.
    const created = await api(a!.url, '/users', { method: 'POST', token: admin.token, body: JSON.stringify({ username: 'ssewatch', email: 'sse@example.test', role: 'viewer', password: testPassword() }) });
    expect(created.status).toBe(201);
    const t0 = Date.now();
    let got: { type: string; data: { action: string } } | null = null;
    for (;;) {
      const { value, done } = await stream.next();
      if (done) break;
      if (value.event !== 'audit.created') continue;
      const e = JSON.parse(value.data) as { type: string; data: { action: string } };
      if (e.data.action === 'user.create') {
        got = e;
        break;
      }
    }
    ctl.abort();
    expect(got?.data.action).toBe('user.create');
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('a job enqueued through A runs once, and its log streams live to a client on B', async () => {
    const [a, b] = replicas;
    const res = await api(a!.url, '/jobs/selftest', { method: 'POST', token: admin.token, body: JSON.stringify({}) });
    expect(res.status).toBe(202);
    const { job } = (await res.json()) as { job: { id: string } };
    const follow = await fetch(`${b!.url}/api/v1/jobs/${job.id}/logs`, { headers: { authorization: `Bearer ${admin.token}` } });
    expect(follow.status).toBe(200);
    const lags: number[] = [];
    const lines: string[] = [];
    let end: { job: { state: string } } | null = null;
    for await (const ev of sseEvents(follow)) {
      if (ev.event === 'log') {
        const rec = JSON.parse(ev.data) as { at: number; line: string };
        lags.push(Date.now() - rec.at);
        lines.push(rec.line);
      }
      if (ev.event === 'end') {
        end = JSON.parse(ev.data) as { job: { state: string } };
        break;
      }
    }
    expect(end?.job.state).toBe('succeeded');
    // Each check once: the job ran on one replica only.
    expect(lines.filter((l) => /^Database/.test(l)).length).toBe(1);
    lags.sort((x, y) => x - y);
    // Lines of a job on another replica: the 50 ms batch plus NOTIFY, far under the 1 s fallback poll.
    expect(lags[Math.floor(lags.length / 2)]!).toBeLessThan(250);
  });

  it('kill -9 of the replica running a long job: another takes it over and nothing is stuck', async () => {
    const res = await api(lb, '/jobs/selftest', { method: 'POST', token: admin.token, body: JSON.stringify({}) });
    expect(res.status).toBe(202);
    const { job } = (await res.json()) as { job: { id: string } };
    const holder = await until('the job running on a replica', async () => {
      for (const r of aliveReplicas()) {
        const body = (await (await api(r.url, '/cluster', { token: admin.token })).json()) as { replicas: { id: string; pid: number; jobs: number; address: string }[] };
        const h = body.replicas.find((x) => x.jobs > 0);
        if (h) return replicas.find((x) => `127.0.0.1:${x.port}` === h.address) ?? null;
      }
      return null;
    }, 5000, 30);
    await kill9(holder);
    const survivor = aliveReplicas()[0]!;
    const final = await until('the job finished elsewhere', async () => {
      const j = ((await (await api(survivor.url, `/jobs/${job.id}`, { token: admin.token })).json()) as { job: { state: string } }).job;
      return ['succeeded', 'failed', 'interrupted', 'cancelled'].includes(j.state) ? j : null;
    }, LEASE_MS * 2 + 15_000, 200);
    // Its steps are safe to repeat: resumed at the interrupted step, not abandoned.
    expect(final.state).toBe('succeeded');
    const log = ((await (await api(survivor.url, `/jobs/${job.id}/log-lines`, { token: admin.token })).json()) as { items: { line: string }[] }).items.map((l) => l.line);
    expect(log.some((l) => /lease expired|stopped/.test(l) && /continues there/.test(l))).toBe(true);
    const running = ((await (await api(survivor.url, '/jobs?state=running', { token: admin.token })).json()) as { items: unknown[] }).items;
    expect(running).toEqual([]);
  });

  it('a schedule runs once per interval across the replicas, and is taken over after its holder is killed', async () => {
    type View = { replicas: { id: string; address: string; leases: string[] }[]; schedules: { name: string; runs: number; held: boolean }[] };
    const NAME = 'platform.cluster-housekeeping';
    const view = async (r: Replica) => (await (await api(r.url, '/cluster', { token: admin.token })).json()) as View;
    const totalRuns = async () => (await Promise.all(aliveReplicas().map(view))).reduce((n, v) => n + (v.schedules.find((s) => s.name === NAME)?.runs ?? 0), 0);
    const before = await totalRuns();
    const t0 = Date.now();
    await sleep(SCHEDULE_MS * 4 + 200);
    const ran = (await totalRuns()) - before;
    const intervals = (Date.now() - t0) / SCHEDULE_MS;
    // Once per interval across all replicas (a run per replica would be ~2-3x this).
    expect(ran).toBeGreaterThanOrEqual(Math.floor(intervals) - 1);
    expect(ran).toBeLessThanOrEqual(Math.ceil(intervals) + 1);
    const holderOf = async () => {
      const v = await view(aliveReplicas()[0]!);
      const h = v.replicas.find((r) => r.leases.includes(NAME));
      return h ? replicas.find((x) => `127.0.0.1:${x.port}` === h.address && x.alive) ?? null : null;
    };
    const holder = await until('a lease holder', holderOf, SCHEDULE_MS * 2);
    const others = aliveReplicas().filter((r) => r !== holder);
    expect(others.length).toBeGreaterThan(0);
    const runsBefore = await Promise.all(others.map(async (r) => (await view(r)).schedules.find((s) => s.name === NAME)!.runs));
    await kill9(holder);
    const killedAt = Date.now();
    // Another replica holds the lease within one interval …
    await until('another holder', async () => {
      const h = await holderOf();
      return h && h !== holder ? h : null;
    }, SCHEDULE_MS + 500, 50);
    expect(Date.now() - killedAt).toBeLessThan(SCHEDULE_MS + 500);
    // … and runs the schedule.
    await until('a run by another replica', async () => {
      const now = await Promise.all(others.map(async (r) => (await view(r)).schedules.find((s) => s.name === NAME)!.runs));
      return now.some((n, i) => n > runsBefore[i]!);
    }, SCHEDULE_MS * 2 + 1000, 100);
  }, 60_000);
});
