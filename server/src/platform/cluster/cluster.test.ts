import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type Services } from '../../app.js';
import { loadConfig } from '../../config.js';
import { migrate, openDatabase, SchemaNewerError, type Database } from '../../db/database.js';
import type { HttpApp } from '../module.js';
import { SYSTEM_ACTOR } from '../rbac/permissions.js';
import { loadOrCreateSecrets } from '../secrets.js';
import { ScheduleLeases } from '../schedule/leases.js';
import { Scheduler } from '../schedule/scheduler.js';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db.js';
import { createTestApp, testPassword } from '../../testing/harness.js';
import { sseEvents } from '../../testing/sse-client.js';
import { SELFTEST_JOB } from '../jobs/selftest.job.js';
import type { PublishedEvent } from '../events/event-bus.js';

const PG = process.env.SLIPWAY_TEST_DATABASE_URL;
const onPg = !!PG && /^postgres/.test(PG);
const silent = { level: 'silent' } as never;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface Replica { app: HttpApp; s: Services; database: Database; base: string }

/** Two panels in this process on one PostgreSQL schema, sharing the data dir's secrets as replicas must. */
describe.skipIf(!onPg)('replicas on one PostgreSQL (in process)', () => {
  let tdb: TestDatabase;
  const replicas: Replica[] = [];

  async function replica(): Promise<Replica> {
    const database = replicas.length === 0 ? tdb.database : openDatabase({ url: PG!, dataDir: tdb.dataDir, pgSchema: tdb.pgSchema });
    const config = loadConfig({ SLIPWAY_DATA_DIR: tdb.dataDir, SLIPWAY_LOG_LEVEL: 'silent', SLIPWAY_JOB_LEASE_MS: '2000', SLIPWAY_CLUSTER_HEARTBEAT_MS: '200' }, []);
    const app = await buildApp({ config, database, secrets: loadOrCreateSecrets(tdb.dataDir), modules: [], logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address() as { port: number };
    const r = { app, s: app.slipway, database, base: `http://127.0.0.1:${addr.port}/api/v1` };
    replicas.push(r);
    return r;
  }

  let a: Replica;
  let b: Replica;
  let admin: { username: string; password: string };

  async function login(r: Replica, u = admin): Promise<{ accessToken: string; refreshToken: string }> {
    const res = await fetch(`${r.base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(u) });
    expect(res.status).toBe(200);
    return (await res.json()) as { accessToken: string; refreshToken: string };
  }

  beforeAll(async () => {
    tdb = await createTestDatabase();
    a = await replica();
    b = await replica();
    admin = { username: `adm-${process.pid}`, password: testPassword() };
    await a.s.auth.users.create(SYSTEM_ACTOR, { username: admin.username, email: 'adm@example.test', role: 'admin', password: admin.password });
  }, 60_000);

  afterAll(async () => {
    for (const r of replicas.reverse()) {
      await r.app.close().catch(() => {});
      if (r.database !== tdb.database) await r.database.close().catch(() => {});
    }
    await tdb?.cleanup();
  });

  it('an event published on A reaches B once, in order, large payloads included', async () => {
    const got: PublishedEvent[] = [];
    const off = b.s.events.subscribe((e) => {
      if (e.type.startsWith('test.')) got.push(e);
    });
    const big = 'x'.repeat(20_000);
    for (let i = 0; i < 30; i++) a.s.events.publish({ type: 'test.seq', resource: { type: 'thing', id: 'r1' }, data: { i, ...(i === 7 ? { big } : {}) } });
    await until('30 events on B', () => got.length >= 30);
    await sleep(200);
    off();
    expect(got.map((e) => e.data!.i)).toEqual([...Array(30).keys()]);
    expect(got[7]!.data!.big).toBe(big);
    // B's own subscribers see remote events as remote, and B does not send them back to A.
    expect(got.every((e) => b.s.events.isRemote(e))).toBe(true);
  });

  it('an SSE client on B receives an event published on A', async () => {
    const { accessToken } = await login(b);
    const ctl = new AbortController();
    const res = await fetch(`${b.base}/events`, { headers: { authorization: `Bearer ${accessToken}` }, signal: ctl.signal });
    expect(res.status).toBe(200);
    const it = sseEvents(res);
    await sleep(100);
    const sent = Date.now();
    a.s.events.publish({ type: 'host.updated', resource: { type: 'host', id: 'h-sse' }, data: { from: 'A' } });
    for (;;) {
      const { value } = await it.next();
      if (value && value.event === 'host.updated') {
        expect(JSON.parse(value.data).data).toEqual({ from: 'A' });
        break;
      }
    }
    expect(Date.now() - sent).toBeLessThan(1000);
    ctl.abort();
  });

  it('a parallel refresh through A and B gets the same successor; a revoked session fails on B at once', async () => {
    const t = await login(a);
    // B caches the session check first.
    expect((await fetch(`${b.base}/auth/me`, { headers: { authorization: `Bearer ${t.accessToken}` } })).status).toBe(200);
    const refresh = (r: Replica, token: string) => fetch(`${r.base}/auth/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: token }) });
    const [ra, rb] = await Promise.all([refresh(a, t.refreshToken), refresh(b, t.refreshToken)]);
    expect([ra.status, rb.status]).toEqual([200, 200]);
    const [ja, jb] = (await Promise.all([ra.json(), rb.json()])) as { refreshToken: string; accessToken: string }[];
    expect(ja!.refreshToken).toBe(jb!.refreshToken);
    // Twenty more, alternating replicas: never a reuse alarm.
    let token = ja!.refreshToken;
    let access = ja!.accessToken;
    for (let i = 0; i < 20; i++) {
      const r = await refresh(i % 2 ? a : b, token);
      expect(r.status).toBe(200);
      const j = (await r.json()) as { refreshToken: string; accessToken: string };
      token = j.refreshToken;
      access = j.accessToken;
    }
    expect((await fetch(`${b.base}/auth/me`, { headers: { authorization: `Bearer ${access}` } })).status).toBe(200);
    // Logout on A: B refuses the access token well within its 5 s cache.
    const out = await fetch(`${a.base}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${access}`, 'content-type': 'application/json' }, body: JSON.stringify({}) });
    expect(out.status).toBeLessThan(300);
    const t0 = Date.now();
    await until('B refuses the revoked token', async () => (await fetch(`${b.base}/auth/me`, { headers: { authorization: `Bearer ${access}` } })).status === 401, 1000);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('a job running on A streams its log live to a follower on B', async () => {
    const { accessToken } = await login(b);
    // Only A's workers run: B stops claiming so the job runs on A.
    await b.s.jobs.stop();
    try {
      const job = await a.s.jobs.enqueue(SELFTEST_JOB, { pauseMs: 200 }, { actor: SYSTEM_ACTOR });
      const res = await fetch(`${b.base}/jobs/${job.id}/logs`, { headers: { authorization: `Bearer ${accessToken}` } });
      expect(res.status).toBe(200);
      const lags: number[] = [];
      let lines = 0;
      for await (const ev of sseEvents(res)) {
        if (ev.event === 'log') {
          const rec = JSON.parse(ev.data) as { at: number };
          lags.push(Date.now() - rec.at);
          lines++;
        }
        if (ev.event === 'end') break;
      }
      expect(lines).toBeGreaterThan(5);
      lags.sort((x, y) => x - y);
      // Lines written while the follower was connected arrive within the batch delay plus NOTIFY, not the 1 s poll.
      expect(lags[Math.floor(lags.length / 2)]!).toBeLessThan(250);
      const done = await a.s.jobs.waitFor(job.id);
      expect(done.state).toBe('succeeded');
    } finally {
      await b.s.jobs.start();
    }
  }, 30_000);

  it('GET /cluster lists both replicas (admin only) with heartbeats', async () => {
    const { accessToken } = await login(a);
    const res = await fetch(`${a.base}/cluster`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { shared: boolean; replicaId: string; replicas: { id: string; state: string; current: boolean }[] };
    expect(body.shared).toBe(true);
    const ids = body.replicas.filter((r) => r.state === 'alive').map((r) => r.id);
    expect(ids).toEqual(expect.arrayContaining([a.s.cluster.replicaId, b.s.cluster.replicaId]));
    expect(body.replicas.find((r) => r.current)!.id).toBe(a.s.cluster.replicaId);
  });
});

describe.skipIf(!onPg)('schedule leases across replicas', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase();
    await migrate(tdb.database.db);
  });
  afterAll(async () => tdb?.cleanup());

  it('runs a schedule once per interval across three schedulers, and another takes over when the holder dies', async () => {
    const log = { warn() {}, info() {}, error() {} } as never;
    const runs: string[] = [];
    const mk = (id: string) => {
      const s = new Scheduler(log, new ScheduleLeases(tdb.database.db, id));
      s.define('t', 'tick', 500, () => void runs.push(id));
      s.start('t');
      return s;
    };
    const s1 = mk('r1');
    const s2 = mk('r2');
    const s3 = mk('r3');
    const t0 = Date.now();
    await sleep(3200);
    const first = runs.length;
    // ~6 intervals: once each, never two replicas in one interval.
    expect(first).toBeGreaterThanOrEqual(4);
    expect(first).toBeLessThanOrEqual(Math.ceil((Date.now() - t0) / 500) + 1);
    const holder = runs[runs.length - 1]!;
    expect(new Set(runs)).toEqual(new Set([holder])); // sticky: the holder keeps it
    // The holder dies without handing over: its timers stop, its lease stays until it expires.
    const byId: Record<string, Scheduler> = { r1: s1, r2: s2, r3: s3 };
    const dead = byId[holder]!;
    (dead as unknown as { entries: Map<string, { timer: NodeJS.Timeout | null }> }).entries.forEach((e) => e.timer && clearInterval(e.timer));
    const killedAt = Date.now();
    await until('another replica runs it', () => runs.slice(first).some((r) => r !== holder), 3000);
    const takeover = Date.now() - killedAt;
    expect(takeover).toBeLessThan(1000 + 500); // lease ttl (1 s) + one poll, within about one interval of due
    const after = runs.slice(first).filter((r) => r !== holder);
    expect(new Set(after).size).toBe(1);
    await Promise.all([s1, s2, s3].map((s) => s.close()));
  });
});

describe('replica facts by role (SQLite and PostgreSQL)', () => {
  it('a tenant learns nothing about the replicas; an operator sees local duties in /modules but not /cluster; an admin sees both', async () => {
    const t = await createTestApp();
    try {
      t.services.cluster.declareLocalDuty({ module: 'core', name: 'sampler', description: 'this machine' });
      const user = await t.signIn('user');
      const operator = await t.signIn('operator');
      const admin = await t.signIn('admin');
      const mods = async (h: { authorization: string }) => (await t.app.inject({ method: 'GET', url: '/api/v1/modules', headers: h })).json() as { replica: { id: string; localDuties: string[] } | null };
      expect((await mods(user.headers)).replica).toBeNull();
      expect((await mods(operator.headers)).replica).toEqual({ id: t.services.cluster.replicaId, localDuties: ['core.sampler'] });
      for (const who of [user, operator]) expect((await t.app.inject({ method: 'GET', url: '/api/v1/cluster', headers: who.headers })).statusCode).toBe(403);
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/cluster', headers: admin.headers });
      expect(res.statusCode).toBe(200);
      const body = res.json() as { shared: boolean; replicas: { id: string; current: boolean; state: string }[] };
      expect(body.shared).toBe(onPg);
      expect(body.replicas).toEqual([expect.objectContaining({ id: t.services.cluster.replicaId, current: true, state: 'alive' })]);
    } finally {
      await t.close();
    }
  });
});

describe('migrations', () => {
  it('refuses to start on a schema newer than the code, with a clear message', async () => {
    const tdb = await createTestDatabase();
    try {
      await migrate(tdb.database.db);
      const { sql } = await import('kysely');
      await sql`insert into slipway_migrations (name, timestamp) values (${'0099_from_the_future'}, ${new Date().toISOString()})`.execute(tdb.database.db);
      const err = await migrate(tdb.database.db).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SchemaNewerError);
      expect((err as Error).message).toMatch(/newer than this Slipway version.*0099_from_the_future.*refusing to start/);
      // A disabled module's migrations are not a reason to refuse.
      await sql`delete from slipway_migrations where name = ${'0099_from_the_future'}`.execute(tdb.database.db);
      await sql`insert into slipway_migrations (name, timestamp) values (${'othermod_0001_init'}, ${new Date().toISOString()})`.execute(tdb.database.db);
      await expect(migrate(tdb.database.db)).resolves.toEqual([]);
    } finally {
      await tdb.cleanup();
    }
  });

  it.skipIf(!onPg)('three replicas starting together run each migration exactly once', async () => {
    const tdb = await createTestDatabase();
    const dbs = [tdb.database, openDatabase({ url: PG!, dataDir: tdb.dataDir, pgSchema: tdb.pgSchema }), openDatabase({ url: PG!, dataDir: tdb.dataDir, pgSchema: tdb.pgSchema })];
    try {
      const applied = await Promise.all(dbs.map((d) => migrate(d.db)));
      const all = applied.flat();
      expect(all.length).toBe(new Set(all).size);
      expect(all).toContain('0005_cluster');
      const c = new pg.Client({ connectionString: PG });
      await c.connect();
      const rows = await c.query(`select name, count(*)::int as n from ${tdb.pgSchema}.slipway_migrations group by name`);
      await c.end();
      expect(rows.rows.every((r: { n: number }) => r.n === 1)).toBe(true);
    } finally {
      await dbs[1]!.close();
      await dbs[2]!.close();
      await tdb.cleanup();
    }
  });
});
