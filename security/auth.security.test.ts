import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { TOTP, Secret } from 'otpauth';
import { sql } from 'kysely';
import { readAuditHeadFile, AUDIT_HEAD_FILE } from '../server/src/platform/audit/audit.service.js';
import type { Actor } from '../server/src/platform/rbac/permissions.js';
import { auditChainKey, loadOrCreateSecrets } from '../server/src/platform/secrets.js';
import { createTestApp, type SignedIn, type TestApp } from '../server/src/testing/harness.js';

type Json = Record<string, any>;
const LOGIN = '/api/v1/auth/login';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** An OpenSSH ed25519 public key line, as ~/.ssh/id_ed25519.pub holds it. */
function ed25519PublicKey(comment: string): string {
  const raw = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]).toString('base64')} ${comment}`;
}
const actorOf = (u: SignedIn): Actor => ({ kind: 'user', userId: u.user.id, username: u.user.username, role: u.user.role });

/**
 * Hostile tenants against the platform's authentication (issue 9, findings 7–12, 14 second half,
 * and 15: /events filtering, live-stream quota). The panel is real (routes, auth, jobs, database;
 * SQLite, or PostgreSQL with SLIPWAY_TEST_DATABASE_URL) and listens on a port for the stream tests.
 */
describe('auth: a hostile tenant', () => {
  let t: TestApp;
  let base: string;
  let admin: SignedIn;
  const gates = new Map<string, () => void>();

  beforeAll(async () => {
    t = await createTestApp();
    admin = await t.signIn('admin');
    // A job that waits until the test releases it (a live log to follow).
    t.services.jobs.define({
      type: 'sec.hold',
      input: z.object({ key: z.string() }),
      title: (i) => `hold ${i.key}`,
      steps: [{ name: 'hold', async run(ctx) { ctx.log(`started ${ctx.input.key}`); await new Promise<void>((r) => gates.set(ctx.input.key, r)); ctx.log('released'); } }],
    });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    for (const open of gates.values()) open();
    await t?.close();
  });

  const inject = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, who: SignedIn | { headers: Record<string, string> } | null, payload?: unknown, extra: Record<string, unknown> = {}) => {
    const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: who?.headers ?? {}, ...(payload !== undefined ? { payload: payload as Json } : {}), ...extra });
    return { status: res.statusCode, body: (res.body ? (() => { try { return res.json() as Json; } catch { return {}; } })() : {}) as Json, headers: res.headers };
  };
  const holdJob = async (owner: SignedIn, key: string) => {
    const job = await t.services.jobs.enqueue('sec.hold', { key }, { actor: actorOf(owner) });
    for (let i = 0; i < 200 && !gates.has(key); i++) await sleep(25);
    return job.id;
  };

  /** An SSE stream read in the background: its events, and whether the server ended it. */
  async function openSse(url: string, who: SignedIn) {
    const abort = new AbortController();
    const res = await fetch(`${base}/api/v1${url}`, { headers: who.headers, signal: abort.signal });
    const events: { event: string; data: Json }[] = [];
    let ended = false;
    const done = (async () => {
      if (res.status !== 200 || !res.body) return;
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      try {
        for (;;) {
          const { value, done: d } = await reader.read();
          if (d) break;
          buf += dec.decode(value, { stream: true });
          let cut: number;
          while ((cut = buf.indexOf('\n\n')) !== -1) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data.push(line.slice(6));
            }
            if (data.length) events.push({ event, data: JSON.parse(data.join('\n')) as Json });
          }
        }
      } catch {
        // aborted
      }
      ended = true;
    })();
    return { status: res.status, events, done, get ended() { return ended; }, cancel: () => abort.abort() };
  }

  function openWs(url: string, who: SignedIn): Promise<{ ws: WebSocket; messages: Json[]; closed: Promise<{ code: number; reason: string }> }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/api/v1${url}`, ['slipway.v1', `bearer.${who.token}`]);
      const messages: Json[] = [];
      const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
      ws.on('message', (m) => messages.push(JSON.parse(m.toString()) as Json));
      ws.once('open', () => resolve({ ws, messages, closed }));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`ws refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  // ---------------------------------------------------------------------------------------------
  describe('finding 7: lockout cannot be raced, 2FA keeps the history, mfaToken is single-use', () => {
    it('30 parallel wrong passwords: at most 5 are checked (401), the rest are refused (429); then the right password is refused too', async () => {
      const victim = await t.signIn('viewer');
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) =>
        inject('POST', '/auth/login', null, { username: victim.user.username, password: `wrong-guess-${i}-xx` }, { remoteAddress: `10.70.0.${i + 1}` })));
      const codes = results.map((r) => r.status);
      expect(codes.filter((c) => c === 401).length).toBeLessThanOrEqual(5);
      expect(codes.filter((c) => c === 200)).toEqual([]);
      expect(codes.filter((c) => c === 429).length).toBeGreaterThanOrEqual(25);
      expect(codes.every((c) => c === 401 || c === 429)).toBe(true);
      const right = await inject('POST', '/auth/login', null, { username: victim.user.username, password: victim.password }, { remoteAddress: '10.70.1.1' });
      expect(right.status).toBe(429);
      expect(right.body.error.code).toBe('rate_limited');
      expect(Number(right.headers['retry-after'])).toBeGreaterThan(0);
    });

    it('variant: parallel guesses mixed with the right password never yield a session after the policy is used up', async () => {
      const victim = await t.signIn('viewer');
      const batch = Array.from({ length: 20 }, (_, i) => ({ username: victim.user.username, password: i === 19 ? victim.password : `nope-${i}-xxxxxxxx` }));
      const codes = (await Promise.all(batch.map((b, i) => inject('POST', '/auth/login', null, b, { remoteAddress: `10.71.0.${i + 1}` })))).map((r) => r.status);
      expect(codes.filter((c) => c === 401).length).toBeLessThanOrEqual(5);
    });

    it('variant: an unknown username and a spraying address are throttled the same way under concurrency', async () => {
      const ghost = await Promise.all(Array.from({ length: 12 }, (_, i) => inject('POST', '/auth/login', null, { username: 'ghost-account', password: `x-${i}-yyyyyyyy` }, { remoteAddress: `10.72.0.${i + 1}` })));
      expect(ghost.filter((r) => r.status === 401).length).toBeLessThanOrEqual(5);
      const spray = await Promise.all(Array.from({ length: 40 }, (_, i) => inject('POST', '/auth/login', null, { username: `spray-${i}`, password: 'guess-guess-guess' }, { remoteAddress: '10.73.0.1' })));
      expect(spray.filter((r) => r.status === 401).length).toBeLessThanOrEqual(25);
    });

    it('a correct password does not clear the failure history before the 2FA step; the mfaToken cannot be replayed', async () => {
      const u = await t.signIn('viewer');
      const enrol = await inject('POST', '/auth/2fa/enroll', u);
      const secret = Secret.fromBase32(enrol.body.secret as string);
      const code = (offset = 0) => TOTP.generate({ secret, algorithm: 'SHA1', digits: 6, period: 30, timestamp: Date.now() + offset * 30_000 });
      expect((await inject('POST', '/auth/2fa/confirm', u, { code: code() })).status).toBe(200);
      const ip = { remoteAddress: '10.74.0.9' };
      for (let i = 0; i < 4; i++) expect((await inject('POST', '/auth/login', null, { username: u.user.username, password: `bad-${i}-xxxxxxxx` }, ip)).status).toBe(401);
      // The attacker knows the password: step one succeeds but the four failures stay.
      const step1 = await inject('POST', '/auth/login', null, { username: u.user.username, password: u.password }, ip);
      expect(step1.body.status).toBe('mfa_required');
      const wrongCode = await inject('POST', '/auth/login/mfa', null, { mfaToken: step1.body.mfaToken, code: '000000' }, ip);
      expect(wrongCode.status).toBe(401);
      // That was the fifth failure: the account is locked, even for the right code.
      const locked = await inject('POST', '/auth/login/mfa', null, { mfaToken: step1.body.mfaToken, code: code(1) }, ip);
      expect(locked.status).toBe(429);

      // Once the lock is lifted: a good code signs in, and the same mfaToken is useless afterwards.
      await t.services.database.db.deleteFrom('login_throttle').where('key', '=', `user:${u.user.id}`).execute();
      const step = await inject('POST', '/auth/login', null, { username: u.user.username, password: u.password }, ip);
      const ok = await inject('POST', '/auth/login/mfa', null, { mfaToken: step.body.mfaToken, code: code(1) }, ip);
      expect(ok.status).toBe(200);
      const replay = await inject('POST', '/auth/login/mfa', null, { mfaToken: step.body.mfaToken, code: code(-1) }, ip);
      expect(replay.status).toBe(401);
      expect(replay.body.error.code).toBe('invalid_mfa_token');
      const viaRecovery = await inject('POST', '/auth/login/mfa', null, { mfaToken: step.body.mfaToken, recoveryCode: 'AAAA-BBBB-CCCC-DDDD' }, ip);
      expect(viaRecovery.body.error.code).toBe('invalid_mfa_token');
      // Two parallel completions of one fresh mfaToken: at most one session.
      const step2 = await inject('POST', '/auth/login', null, { username: u.user.username, password: u.password }, ip);
      const both = await Promise.all([0, -1].map((o) => inject('POST', '/auth/login/mfa', null, { mfaToken: step2.body.mfaToken, code: code(o) }, ip)));
      expect(both.filter((r) => r.status === 200).length).toBeLessThanOrEqual(1);
    });

    it('/auth/2fa/disable and /auth/password are throttled: a stolen session cannot guess the password', async () => {
      const u = await t.signIn('viewer');
      const enrol = await inject('POST', '/auth/2fa/enroll', u);
      const secret = Secret.fromBase32(enrol.body.secret as string);
      const code = () => TOTP.generate({ secret, algorithm: 'SHA1', digits: 6, period: 30 });
      expect((await inject('POST', '/auth/2fa/confirm', u, { code: code() })).status).toBe(200);
      const guesses = await Promise.all(Array.from({ length: 12 }, (_, i) => inject('POST', '/auth/2fa/disable', u, { password: `guess-${i}-xxxxxxxx`, code: '123456' })));
      expect(guesses.filter((r) => r.status === 403).length).toBeLessThanOrEqual(5);
      expect(guesses.some((r) => r.status === 429)).toBe(true);
      // Locked: even the right password is refused now, and 2FA stays on.
      const right = await inject('POST', '/auth/2fa/disable', u, { password: u.password, code: code() });
      expect(right.status).toBe(429);
      const row = await t.services.database.db.selectFrom('users').select('totp_enabled').where('id', '=', u.user.id).executeTakeFirstOrThrow();
      expect(Number(row.totp_enabled)).toBe(1);
      // The password change shares the same lock.
      expect((await inject('POST', '/auth/password', u, { currentPassword: u.password, newPassword: 'Another-Long-Passphrase-77' })).status).toBe(429);

      const v = await t.signIn('viewer');
      const pw = await Promise.all(Array.from({ length: 10 }, (_, i) => inject('POST', '/auth/password', v, { currentPassword: `guess-${i}-xxxxxxxx`, newPassword: 'Another-Long-Passphrase-77' })));
      expect(pw.filter((r) => r.status === 403).length).toBeLessThanOrEqual(5);
      expect(pw.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(5);
    });
  });

  // ---------------------------------------------------------------------------------------------
  describe('finding 8: revocation ends open streams', () => {
    it('an open /events SSE stops delivering and closes when the user is suspended', async () => {
      const u = await t.signIn('user');
      const stream = await openSse('/events', u);
      expect(stream.status).toBe(200);
      const jobId = await holdJob(u, `events-${u.user.id}`);
      for (let i = 0; i < 100 && !stream.events.some((e) => e.event === 'job.updated'); i++) await sleep(20);
      expect(stream.events.some((e) => e.event === 'job.updated' && e.data.resource.id === jobId)).toBe(true);

      expect((await inject('POST', `/users/${u.user.id}/suspend`, admin)).status).toBe(200);
      await Promise.race([stream.done, sleep(3000)]);
      expect(stream.ended).toBe(true);
      expect(stream.events.at(-1)).toMatchObject({ event: 'revoked', data: { reason: 'suspended' } });
      const seen = stream.events.length;
      gates.get(`events-${u.user.id}`)!();
      await t.services.jobs.waitFor(jobId);
      await sleep(200);
      expect(stream.events.length).toBe(seen);
      expect(t.services.auth.streams.count({ userId: u.user.id })).toBe(0);
    });

    it('a job-log WebSocket is closed (4401) when the user is suspended, and nothing more is sent', async () => {
      const u = await t.signIn('user');
      const key = `ws-${u.user.id}`;
      const jobId = await holdJob(u, key);
      const { messages, closed } = await openWs(`/jobs/${jobId}/logs/ws`, u);
      for (let i = 0; i < 100 && !messages.some((m) => m.type === 'log'); i++) await sleep(20);
      expect(messages.some((m) => m.type === 'log' && m.line === `started ${key}`)).toBe(true);
      expect((await inject('POST', `/users/${u.user.id}/suspend`, admin)).status).toBe(200);
      const c = await Promise.race([closed, sleep(3000).then(() => null)]);
      expect(c).toMatchObject({ code: 4401, reason: 'suspended' });
      const seen = messages.length;
      gates.get(key)!();
      await t.services.jobs.waitFor(jobId);
      await sleep(200);
      expect(messages.length).toBe(seen);
    });

    it('variants: logout, ending the session, a role change, an admin password reset, a password change and a token revoke each close the streams they concern', async () => {
      const cases: [string, (u: SignedIn, other: SignedIn) => Promise<unknown>, string][] = [
        ['logout', (u) => inject('POST', '/auth/logout', u, {}), 'logout'],
        ['session end', (u, other) => inject('DELETE', `/auth/sessions/${sessionOf(u)}`, other), 'session_revoked'],
        ['role change', (u) => inject('PATCH', `/users/${u.user.id}`, admin, { role: 'viewer' }), 'role_changed'],
        ['password reset', (u) => inject('POST', `/users/${u.user.id}/reset-password`, admin, {}), 'password_reset'],
        ['2FA reset', (u) => inject('POST', `/users/${u.user.id}/reset-2fa`, admin), 'two_factor_reset'],
        ['password change elsewhere', (u, other) => inject('POST', '/auth/password', other, { currentPassword: u.password, newPassword: 'Brand-New-Passphrase-88' }), 'password_changed'],
      ];
      const sessionOf = (u: SignedIn) => JSON.parse(Buffer.from(u.token.split('.')[1]!, 'base64url').toString()).sid as string;
      for (const [name, act, reason] of cases) {
        const u = await t.signIn('user');
        // A second session of the same user (another device).
        const login = await inject('POST', '/auth/login', null, { username: u.user.username, password: u.password });
        const other: SignedIn = { ...u, token: login.body.accessToken, headers: { authorization: `Bearer ${login.body.accessToken}` } };
        const s = await openSse('/events', u);
        expect(s.status, name).toBe(200);
        await act(u, other);
        await Promise.race([s.done, sleep(3000)]);
        expect(s.ended, name).toBe(true);
        expect(s.events.at(-1), name).toMatchObject({ event: 'revoked', data: { reason } });
      }
      // An API token's stream ends when the token is revoked; the owner's session stream stays.
      const u = await t.signIn('operator');
      const created = await inject('POST', '/api-tokens', u, { name: 'ci', role: 'viewer', expiresInDays: 1 });
      const tokenUser: SignedIn = { ...u, token: created.body.token, headers: { authorization: `Bearer ${created.body.token}` } };
      const byToken = await openSse('/events', tokenUser);
      const bySession = await openSse('/events', u);
      expect((await inject('DELETE', `/api-tokens/${created.body.apiToken.id}`, u)).status).toBe(204);
      await Promise.race([byToken.done, sleep(3000)]);
      expect(byToken.ended).toBe(true);
      expect(byToken.events.at(-1)).toMatchObject({ event: 'revoked', data: { reason: 'token_revoked' } });
      await sleep(100);
      expect(bySession.ended).toBe(false);
      void bySession.cancel();
    });

    it('a revocation made by another process (the CLI on the same database) ends the stream within seconds', async () => {
      const u = await t.signIn('user');
      const s = await openSse('/events', u);
      expect(s.status).toBe(200);
      // As `slipway user ...` would: straight in the database, this process's registry hears nothing.
      await t.services.database.db.updateTable('users').set({ status: 'suspended' }).where('id', '=', u.user.id).execute();
      await Promise.race([s.done, sleep(9000)]);
      expect(s.ended).toBe(true);
      expect(s.events.at(-1)).toMatchObject({ event: 'revoked' });
    });
  });

  // ---------------------------------------------------------------------------------------------
  describe('finding 9: admin resets end API tokens', () => {
    for (const [what, url] of [['password reset', 'reset-password'], ['2FA reset', 'reset-2fa']] as const) {
      it(`an admin ${what} revokes the user's API tokens at once (even a cached one)`, async () => {
        const u = await t.signIn('operator');
        const created = await inject('POST', '/api-tokens', u, { name: 'laptop', role: 'operator', expiresInDays: 30 });
        const tokenHeaders = { headers: { authorization: `Bearer ${created.body.token}` } };
        expect((await inject('GET', '/auth/me', tokenHeaders)).status).toBe(200); // now cached
        expect((await inject('POST', `/users/${u.user.id}/${url}`, admin, url === 'reset-password' ? {} : undefined)).status).toBe(200);
        const after = await inject('GET', '/auth/me', tokenHeaders);
        expect(after.status).toBe(401);
        expect(after.body.error.code).toBe('invalid_token');
        const row = await t.services.database.db.selectFrom('api_tokens').select('revoked_at').where('id', '=', created.body.apiToken.id).executeTakeFirstOrThrow();
        expect(row.revoked_at).not.toBeNull();
        expect((await inject('GET', '/auth/me', u)).status).toBe(401);
      });
    }
  });

  // ---------------------------------------------------------------------------------------------
  describe('finding 11: the role ceiling applies to the owner of a token or key', () => {
    it('billing cannot revoke an admin\'s API token or SSH key; it can a customer\'s', async () => {
      const billing = await t.signIn('billing');
      const boss = await t.signIn('admin');
      const bossToken = await inject('POST', '/api-tokens', boss, { name: 'automation', role: 'admin', expiresInDays: 30 });
      const key = ed25519PublicKey('boss@host');
      const bossKey = await inject('POST', '/ssh-keys', boss, { name: 'boss', publicKey: key });
      expect(bossKey.status).toBe(201);

      const revoke = await inject('DELETE', `/api-tokens/${bossToken.body.apiToken.id}`, billing);
      expect(revoke.status).toBe(403);
      expect(revoke.body.error.code).toBe('role_ceiling');
      expect((await inject('GET', '/auth/me', { headers: { authorization: `Bearer ${bossToken.body.token}` } })).status).toBe(200);
      const delKey = await inject('DELETE', `/ssh-keys/${bossKey.body.sshKey.id}`, billing);
      expect(delKey.status).toBe(403);
      expect(delKey.body.error.code).toBe('role_ceiling');
      expect((await inject('GET', '/ssh-keys', boss)).body.items).toHaveLength(1);
      // Variants: an operator's token (operator is above billing too) is also out of reach.
      const op = await t.signIn('operator');
      const opToken = await inject('POST', '/api-tokens', op, { name: 'op', role: 'viewer', expiresInDays: 30 });
      expect((await inject('DELETE', `/api-tokens/${opToken.body.apiToken.id}`, billing)).status).toBe(403);
      // A customer's token is billing's to manage.
      const customer = await t.signIn('user');
      const custToken = await inject('POST', '/api-tokens', customer, { name: 'c', role: 'user', expiresInDays: 30 });
      expect((await inject('DELETE', `/api-tokens/${custToken.body.apiToken.id}`, billing)).status).toBe(204);
      // A user (no users.manage) gets 404 for someone else's token.
      const other = await t.signIn('user');
      expect((await inject('DELETE', `/api-tokens/${opToken.body.apiToken.id}`, other)).status).toBe(404);
    });

    it('a low-role API token cannot manage its owner\'s sessions, higher tokens or SSH keys', async () => {
      const owner = await t.signIn('admin');
      const strong = await inject('POST', '/api-tokens', owner, { name: 'strong', role: 'admin', expiresInDays: 30 });
      const weak = await inject('POST', '/api-tokens', owner, { name: 'weak', role: 'viewer', expiresInDays: 30 });
      const weakHeaders = { headers: { authorization: `Bearer ${weak.body.token}` } };
      expect((await inject('GET', '/auth/sessions', weakHeaders)).status).toBe(403);
      const sid = JSON.parse(Buffer.from(owner.token.split('.')[1]!, 'base64url').toString()).sid as string;
      const end = await inject('DELETE', `/auth/sessions/${sid}`, weakHeaders);
      expect(end.status).toBe(403);
      expect((await inject('GET', '/auth/me', owner)).status).toBe(200);
      const up = await inject('DELETE', `/api-tokens/${strong.body.apiToken.id}`, weakHeaders);
      expect(up.status).toBe(403);
      expect(up.body.error.code).toBe('role_ceiling');
      expect((await inject('GET', '/auth/me', { headers: { authorization: `Bearer ${strong.body.token}` } })).status).toBe(200);
      expect((await inject('POST', '/api-tokens', weakHeaders, { name: 'x', role: 'viewer', expiresInDays: 1 })).status).toBe(403);
      // The full-role token may manage the owner's sessions.
      expect((await inject('GET', '/auth/sessions', { headers: { authorization: `Bearer ${strong.body.token}` } })).status).toBe(200);
    });
  });

  // ---------------------------------------------------------------------------------------------
  describe('finding 12: the audit chain is keyed and its head is published outside the table', () => {
    it('deleting the tail of the audit log is detected through the published head (head file, backup, log)', async () => {
      const u = await t.signIn('user');
      for (let i = 0; i < 3; i++) await inject('POST', '/auth/login', null, { username: u.user.username, password: `bad-${i}-zzzzzzzz` }, { remoteAddress: '10.75.0.1' });
      const head = await t.services.audit.head();
      const file = readAuditHeadFile(path.join(t.dataDir, AUDIT_HEAD_FILE), auditChainKey(loadOrCreateSecrets(t.dataDir)));
      expect(file).toEqual(head);
      expect((await inject('GET', '/audit/verify', admin)).body).toMatchObject({ ok: true });
      const rows = await t.services.database.db.selectFrom('audit_log').select(['chain']).where('seq', '>', head!.seq - 3).execute();
      expect(rows.every((r) => Number(r.chain) === 2)).toBe(true);

      // The attacker (database write access, no data key) removes the last entries: the failed logins.
      await sql`delete from audit_log where seq > ${head!.seq - 3}`.execute(t.services.database.db);
      const v = await inject('GET', '/audit/verify', admin);
      expect(v.body).toMatchObject({ ok: false, brokenAt: head!.seq - 2 });
      expect(v.body.reason).toMatch(/deleted/);
    });
  });

  // ---------------------------------------------------------------------------------------------
  describe('finding 14: who reads a job log', () => {
    it('billing, viewer and other users cannot read another user\'s job log (JSON, SSE, WebSocket); the owner and operator can (docs/SECURITY.md)', async () => {
      const owner = await t.signIn('user');
      const key = `logs-${owner.user.id}`;
      const jobId = await holdJob(owner, key);
      const readers: Record<string, number> = {};
      for (const role of ['billing', 'viewer', 'user', 'operator', 'support'] as const) {
        const who = await t.signIn(role);
        readers[role] = (await inject('GET', `/jobs/${jobId}/log-lines`, who)).status;
        const sse = await fetch(`${base}/api/v1/jobs/${jobId}/logs`, { headers: who.headers });
        expect(sse.status, `${role} SSE`).toBe(readers[role]);
        void sse.body?.cancel().catch(() => {});
        const ws = await openWs(`/jobs/${jobId}/logs/ws`, who).then((w) => { w.ws.close(); return 101; }, (e: Error) => Number(/(\d{3})/.exec(e.message)?.[1]));
        expect(ws, `${role} WS`).toBe(readers[role] === 200 ? 101 : readers[role]);
      }
      expect(readers).toEqual({ billing: 403, viewer: 403, user: 404, operator: 200, support: 403 });
      expect((await inject('GET', `/jobs/${jobId}/log-lines`, owner)).status).toBe(200);
      // They may still see that the job exists (state, steps): only the output is withheld.
      const viewer = await t.signIn('viewer');
      expect((await inject('GET', `/jobs/${jobId}`, viewer)).status).toBe(200);
      gates.get(key)!();
    });
  });

  // ---------------------------------------------------------------------------------------------
  describe('finding 15: /events filtering and the live-stream quota', () => {
    it('audit.* reaches only roles with audit.read; a user receives only events about their own resources', async () => {
      const listeners: Record<string, Awaited<ReturnType<typeof openSse>>> = {};
      const tenant = await t.signIn('user');
      const neighbour = await t.signIn('user');
      for (const role of ['viewer', 'billing', 'support', 'operator'] as const) listeners[role] = await openSse('/events', await t.signIn(role));
      listeners.tenant = await openSse('/events', tenant);
      listeners.neighbour = await openSse('/events', neighbour);
      // Something audited (a failed login) and a job of the neighbour.
      await inject('POST', '/auth/login', null, { username: 'nobody-here', password: 'xxxxxxxxxxxx' }, { remoteAddress: '10.76.0.1' });
      const key = `ev-${neighbour.user.id}`;
      const jobId = await holdJob(neighbour, key);
      await sleep(500);
      const types = (k: string) => listeners[k]!.events.map((e) => e.event);
      expect(types('viewer')).not.toContain('audit.created');
      expect(types('billing')).not.toContain('audit.created');
      expect(types('tenant')).not.toContain('audit.created');
      expect(types('support')).toContain('audit.created');
      expect(types('operator')).toContain('audit.created');
      expect(listeners.tenant!.events.some((e) => e.data.resource?.id === jobId)).toBe(false);
      expect(listeners.neighbour!.events.some((e) => e.event === 'job.updated' && e.data.resource.id === jobId)).toBe(true);
      // Resuming with Last-Event-ID replays the ring buffer through the same filter.
      const replay = await fetch(`${base}/api/v1/events?since=1`, { headers: tenant.headers });
      const reader = replay.body!.getReader();
      const chunk = new TextDecoder().decode((await Promise.race([reader.read(), sleep(500).then(() => ({ value: new Uint8Array() }))])).value);
      expect(chunk).not.toContain('audit.created');
      expect(chunk).not.toContain(jobId);
      void reader.cancel().catch(() => {});
      for (const l of Object.values(listeners)) void l.cancel();
      gates.get(key)!();
    });

    it('one session cannot hold more than 16 live streams (SSE or WebSocket): the next is refused with 429', async () => {
      const u = await t.signIn('user');
      const open = [];
      for (let i = 0; i < 16; i++) {
        const s = await openSse('/events', u);
        expect(s.status).toBe(200);
        open.push(s);
      }
      const more = await fetch(`${base}/api/v1/events`, { headers: u.headers });
      expect(more.status).toBe(429);
      expect(((await more.json()) as Json).error.code).toBe('rate_limited');
      const jobId = await holdJob(u, `quota-${u.user.id}`);
      await expect(openWs(`/jobs/${jobId}/logs/ws`, u)).rejects.toThrow(/429/);
      // Closing one frees a slot.
      open[0]!.cancel();
      for (let i = 0; i < 50 && t.services.auth.streams.count({ userId: u.user.id }) >= 16; i++) await sleep(20);
      const again = await openSse('/events', u);
      expect(again.status).toBe(200);
      for (const s of [...open, again]) void s.cancel();
      gates.get(`quota-${u.user.id}`)!();
    });
  });
});

// -----------------------------------------------------------------------------------------------
describe('finding 10: a panel behind a loopback reverse proxy without SLIPWAY_TRUST_PROXY', () => {
  let t: TestApp;
  beforeAll(async () => { t = await createTestApp({ startBackground: false }); });
  afterAll(async () => t?.close());

  it('refuses proxied requests with 503 proxy_untrusted instead of locking everyone out as 127.0.0.1, and reports the warning', async () => {
    const u = await t.signIn('viewer');
    // /metrics is served to loopback before anything is known about a proxy.
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    const proxied = { 'x-forwarded-for': '203.0.113.7' };
    const codes: number[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await t.app.inject({ method: 'POST', url: LOGIN, payload: { username: `someone-${i}`, password: 'wrong-wrong-wrong' }, headers: proxied });
      codes.push(r.statusCode);
      if (i === 0) expect(r.json().error).toMatchObject({ code: 'proxy_untrusted', message: expect.stringContaining('SLIPWAY_TRUST_PROXY') });
    }
    expect(new Set(codes)).toEqual(new Set([503]));
    // Nothing was counted against 127.0.0.1: a direct client still signs in.
    const rows = await t.services.database.db.selectFrom('login_throttle').select(['key', 'failures', 'locked_until']).where('key', 'like', 'ip:%127.0.0.1').execute();
    expect(rows.filter((r) => Number(r.failures) > 0 || r.locked_until !== null)).toEqual([]);
    expect((await t.app.inject({ method: 'POST', url: LOGIN, payload: { username: u.user.username, password: u.password } })).statusCode).toBe(200);
    // Other header forms and an authenticated route are refused the same way.
    for (const h of [{ forwarded: 'for=203.0.113.7' }, { 'x-real-ip': '203.0.113.7' }]) {
      expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { ...u.headers, ...h } })).statusCode).toBe(503);
    }
    // Loudly degraded: the warning is exposed for /ready and /modules.
    expect(t.services.warnings()).toEqual([expect.objectContaining({ code: 'proxy_untrusted' })]);
    const ready = await t.app.inject({ method: 'GET', url: '/api/v1/ready', headers: proxied });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'degraded', warnings: [{ code: 'proxy_untrusted' }] });
    const modules = await t.app.inject({ method: 'GET', url: '/api/v1/modules', headers: u.headers, remoteAddress: '198.51.100.4' });
    expect(modules.json().warnings).toEqual([expect.objectContaining({ code: 'proxy_untrusted', fix: expect.stringContaining('SLIPWAY_TRUST_PROXY') })]);
    // Now known to be behind a proxy: /metrics needs its token, even from loopback without headers.
    const m = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(m.statusCode).toBe(403);
    expect(m.json().error.message).toMatch(/SLIPWAY_METRICS_TOKEN/);
    expect((await t.app.inject({ method: 'GET', url: '/metrics', headers: proxied })).statusCode).toBe(403);
    // A client that is not on loopback with such headers is simply not trusted (Fastify ignores them).
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { ...u.headers, ...proxied }, remoteAddress: '198.51.100.4' })).statusCode).toBe(200);
  });
});

describe('finding 10: with SLIPWAY_TRUST_PROXY set', () => {
  let t: TestApp;
  beforeAll(async () => { t = await createTestApp({ startBackground: false, env: { SLIPWAY_TRUST_PROXY: '127.0.0.1' } }); });
  afterAll(async () => t?.close());

  it('keys lockouts on the forwarded client address and requires the metrics token', async () => {
    const u = await t.signIn('viewer');
    for (let i = 0; i < 26; i++) await t.app.inject({ method: 'POST', url: LOGIN, payload: { username: `spray-${i}`, password: 'guess-guess-guess' }, headers: { 'x-forwarded-for': '203.0.113.50' } });
    const sprayer = await t.app.inject({ method: 'POST', url: LOGIN, payload: { username: u.user.username, password: u.password }, headers: { 'x-forwarded-for': '203.0.113.50' } });
    expect(sprayer.statusCode).toBe(429);
    const bystander = await t.app.inject({ method: 'POST', url: LOGIN, payload: { username: u.user.username, password: u.password }, headers: { 'x-forwarded-for': '203.0.113.51' } });
    expect(bystander.statusCode).toBe(200);
    expect(t.services.warnings()).toEqual([]);
    const m = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(m.statusCode).toBe(403);
  });
});

describe('finding 10: with SLIPWAY_TRUST_PROXY and SLIPWAY_METRICS_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => { t = await createTestApp({ startBackground: false, env: { SLIPWAY_TRUST_PROXY: '127.0.0.1', SLIPWAY_METRICS_TOKEN: 'metrics-token-0123456789' } }); });
  afterAll(async () => t?.close());

  it('serves /metrics with the token only', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer metrics-token-0123456789' } })).statusCode).toBe(200);
  });
});
