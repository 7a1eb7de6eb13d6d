import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { injector } from './test-fixtures/inject.js';
import { LocalProcessRunner, SYSTEM_ACTOR } from '../../../server/src/testing/index.js';
import { createTestApp, type SignedIn, type TestApp } from '../../../server/src/testing/harness.js';
import { createNetbootModule, type NetbootRuntime } from './index.js';
import { netbootTestEnv, uniqueTestIds } from './test-fixtures/runners.js';
import { parseShowTargets } from './tgt.cli.js';

/**
 * Per-machine incoming iSCSI CHAP through the API on the real tgtd: the account is made and bound
 * by the session job, the secret reaches only the machine's tokened script, an initiator without
 * it or with a wrong one is refused by tgt, rotation locks the old secret out at once, and the
 * account is gone after stop. The secret is in no API answer, audit entry or job log.
 */

const run = new LocalProcessRunner();
const ids = uniqueTestIds();
const { tag } = ids;
const prefix = `iqn.2026-01.io.slipway.test:${tag}`;
let t: TestApp;
let rt: NetbootRuntime;
let admin: SignedIn;
let viewer: SignedIn;
let fixtures: string;
const api = injector(() => t);
const waitJob = async (id: string) => t.services.jobs.waitFor(id, 60_000);
const tgtShow = async () => parseShowTargets((await run.exec('tgtadm', ['--lld', 'iscsi', '--mode', 'target', '--op', 'show'])).stdout).filter((x) => x.iqn.startsWith(`${prefix}:`));
const accounts = async () => (await run.exec('tgtadm', ['--lld', 'iscsi', '--mode', 'account', '--op', 'show'])).stdout.split('\n').slice(1).map((l) => l.trim()).filter(Boolean);

/** A login as qemu's iSCSI initiator (qemu-block-extra), with CHAP when given; reads the LUN's first sector. */
async function login(target: string, initiator: string, chap?: { user: string; secret: string }) {
  const opts = `driver=raw,file.driver=iscsi,file.transport=tcp,file.portal=127.0.0.1:3260,file.target=${target},file.lun=1,file.initiator-name=${initiator}`
    + (chap ? `,file.user=${chap.user},file.password-secret=chap0` : '');
  return run.exec('qemu-io', [...(chap ? ['--object', `secret,id=chap0,data=${chap.secret}`] : []), '--image-opts', '-c', 'read -v 0 512', opts], { timeoutMs: 30_000, okExitCodes: [0, 1] });
}

/** The credentials a booting machine gets: parsed from its script like iPXE would. */
function chapFromScript(script: string): { user: string; secret: string } | null {
  const user = /^set username (\S+)$/m.exec(script)?.[1];
  const secret = /^set password (\S+)$/m.exec(script)?.[1];
  return user && secret ? { user, secret } : null;
}

beforeAll(async () => {
  fixtures = await mkdtemp('/tmp/slw-nbchap-');
  const raw = `${fixtures}/disk.raw`;
  await writeFile(raw, Buffer.from('SLIPWAY-CHAP-DISK'));
  await truncate(raw, 4 * 1024 * 1024);
  t = await createTestApp({ modules: [createNetbootModule({ onRuntime: (r) => (rt = r) })], env: netbootTestEnv(ids) });
  admin = await t.signIn('admin');
  viewer = await t.signIn('viewer');
}, 120_000);

afterAll(async () => {
  for (const x of await tgtShow().catch(() => [])) await run.exec('tgtadm', ['--lld', 'iscsi', '--mode', 'target', '--op', 'delete', '--force', '--tid', String(x.tid)]).catch(() => {});
  for (const u of (await accounts().catch(() => [])).filter((a) => rt && a.startsWith(rt.engine.chapPrefix))) await run.exec('tgtadm', ['--lld', 'iscsi', '--mode', 'account', '--op', 'delete', '--user', u]).catch(() => {});
  for (const r of (await rt?.engine.wb.list().catch(() => [])) ?? []) await rt.engine.wb.stop(r.name).catch(() => {});
  await t?.close();
  await rm(fixtures, { recursive: true, force: true });
});

describe('netboot CHAP (real tgtd, qemu iSCSI initiator)', () => {
  let machineId = '';
  let scriptPath = '';
  let first: { user: string; secret: string } | null = null;
  const target = () => `${prefix}:${tag}-chap1`;
  const initiator = () => `${prefix}:initiator.${tag}-chap1`;
  const script = async () => (await t.app.inject({ method: 'GET', url: scriptPath })).body;

  it('a machine with CHAP shows its user, never its secret; hostile CHAP values are 400', async () => {
    const up = await api('POST', '/netboot/images?name=chap-os', admin, await readFile(`${fixtures}/disk.raw`), { 'content-type': 'application/octet-stream' });
    expect(up.status, up.text).toBe(202);
    expect((await waitJob(up.body.job.id)).state).toBe('succeeded');
    for (const chap of ['yes', 1, null, { user: 'x' }]) {
      const bad = await api('POST', '/netboot/machines', admin, { name: `${tag}-bad`, mac: '52:54:00:cc:00:09', imageId: up.body.image.id, chap });
      expect(bad.status, JSON.stringify(chap)).toBe(400);
    }
    const res = await api('POST', '/netboot/machines', admin, { name: `${tag}-chap1`, mac: '52:54:00:cc:00:01', imageId: up.body.image.id, chap: true });
    expect(res.status, res.text).toBe(201);
    machineId = res.body.machine.id;
    expect(res.body.machine.chap).toMatchObject({ enabled: true, user: expect.stringMatching(new RegExp(`^${rt.engine.chapPrefix}[0-9a-f]{12}$`)) });
    expect(res.body.machine.chap.rotatedAt).toEqual(expect.any(Number));
    scriptPath = new URL(res.body.machine.ipxeScriptUrl).pathname + new URL(res.body.machine.ipxeScriptUrl).search;
    // the secret is sealed in the database, not stored as typed
    const row = await t.services.database.db.selectFrom('netboot_machines' as never).selectAll().where('id' as never, '=', machineId as never).executeTakeFirstOrThrow() as { chap_secret: string };
    expect(row.chap_secret).not.toMatch(/^[0-9a-f]{32}$/);
  });

  it('the session job creates and binds the account; tgt refuses no CHAP, a wrong secret and another user; the script\'s credentials get the LUN', async () => {
    const res = await api('POST', `/netboot/machines/${machineId}/session`, admin);
    expect(res.status, res.text).toBe(202);
    const job = await waitJob(res.body.job.id);
    expect(job.state, JSON.stringify(await t.services.jobs.logs(job.id, SYSTEM_ACTOR))).toBe('succeeded');
    expect(job.steps.map((s) => s.name)).toEqual(['writeback', 'export', 'target', 'acl', 'chap', 'lun', 'script ready']);
    const tg = (await tgtShow()).find((x) => x.iqn === target())!;
    const m = (await api('GET', `/netboot/machines/${machineId}`, admin)).body.machine;
    expect(tg.accounts).toEqual([m.chap.user]);

    first = chapFromScript(await script());
    expect(first).toEqual({ user: m.chap.user, secret: expect.stringMatching(/^[0-9a-f]{32}$/) });
    // only the tokened script carries it: the token-less request gets the menu without it
    expect((await t.app.inject({ method: 'GET', url: scriptPath.replace(/token=[^&]+/, 'token=wrong') })).body).not.toContain(first!.secret);

    const none = await login(target(), initiator());
    expect(none.exitCode).not.toBe(0);
    expect(none.stdout).not.toContain('SLIPWAY.CHAP');
    expect((await login(target(), initiator(), { user: first!.user, secret: 'f'.repeat(32) })).exitCode).not.toBe(0);
    expect((await login(target(), initiator(), { user: `${rt.engine.chapPrefix}000000000000`, secret: first!.secret })).exitCode).not.toBe(0);
    const ok = await login(target(), initiator(), first!);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('SLIPWAY.CHAP.DIS'); // qemu-io -v prints '-' as '.'
  });

  it('rotation replaces the running target\'s account at once: the old secret is refused, the new script\'s works', async () => {
    expect((await api('POST', `/netboot/machines/${machineId}/chap/rotate`, viewer)).status).toBe(403);
    const r = await api('POST', `/netboot/machines/${machineId}/chap/rotate`, admin);
    expect(r.status, r.text).toBe(200);
    expect(r.text).not.toContain(first!.secret);
    const next = chapFromScript(await script());
    expect(next!.user).toBe(first!.user);
    expect(next!.secret).not.toBe(first!.secret);
    expect(r.text).not.toContain(next!.secret);
    expect((await login(target(), initiator(), first!)).exitCode).not.toBe(0);
    expect((await login(target(), initiator(), next!)).exitCode).toBe(0);
    // CHAP cannot be switched while the session runs (its target was bound at the start)
    const off = await api('PATCH', `/netboot/machines/${machineId}`, admin, { chap: false });
    expect(off.status).toBe(409);
    expect(off.body.error.details.field).toBe('chap');

    // the secret is in no audit entry, job log or API answer
    const audit = JSON.stringify(await t.services.database.db.selectFrom('audit_log' as never).selectAll().execute());
    expect(audit).toContain('netboot.machine.chap.rotate');
    const views = (await api('GET', '/netboot/machines', admin)).text + (await api('GET', `/netboot/machines/${machineId}`, admin)).text;
    const logs = JSON.stringify(await Promise.all((await t.services.jobs.list({ limit: 200 }, SYSTEM_ACTOR)).items.map((j) => t.services.jobs.logs(j.id, SYSTEM_ACTOR))));
    for (const secret of [first!.secret, next!.secret]) {
      expect(audit).not.toContain(secret);
      expect(views).not.toContain(secret);
      expect(logs).not.toContain(secret);
    }
  });

  it('stop removes the account; CHAP off gives a script without credentials; rotating then is refused at the field', async () => {
    const user = first!.user;
    const res = await api('DELETE', `/netboot/machines/${machineId}/session`, admin);
    expect((await waitJob(res.body.job.id)).state).toBe('succeeded');
    expect(await accounts()).not.toContain(user);
    const off = await api('PATCH', `/netboot/machines/${machineId}`, admin, { chap: false });
    expect(off.status, off.text).toBe(200);
    expect(off.body.machine.chap).toEqual({ enabled: false, user: null, rotatedAt: null });
    expect(await script()).not.toMatch(/set (username|password)/);
    const rot = await api('POST', `/netboot/machines/${machineId}/chap/rotate`, admin);
    expect(rot.status).toBe(422);
    expect(rot.body.error.details.field).toBe('chap');
  });

  it('reconcile removes an account of this panel that no session accounts for, and leaves other accounts alone', async () => {
    const orphan = `${rt.engine.chapPrefix}deadbeef0000`;
    const foreign = `other${tag}-keep`;
    await rt.engine.tgt.createAccount(orphan, 'a'.repeat(32));
    await rt.engine.tgt.createAccount(foreign, 'b'.repeat(32));
    try {
      const report = await rt.reconcile();
      expect(report.chapAccounts).toEqual([orphan]);
      const now = await accounts();
      expect(now).not.toContain(orphan);
      expect(now).toContain(foreign);
    } finally {
      await rt.engine.tgt.deleteAccount(foreign);
      await rt.engine.tgt.deleteAccount(orphan);
    }
  });
});
