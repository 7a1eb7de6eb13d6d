import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecError, LocalProcessRunner } from '../../../server/src/testing/index.js';
import { type Iqn, type IpAddress, parseIqn } from './netboot.schema.js';
import { SpyRunner, uniqueTestIds } from './test-fixtures/runners.js';
import { classifyTgtError, parseShowTargets, TgtCli, TgtError } from './tgt.cli.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = readFileSync(path.join(here, 'test-fixtures/tgtadm-show-target.txt'), 'utf8');

describe('parseShowTargets (recorded tgtadm 1.0.85 output)', () => {
  it('reads targets, sessions, LUNs and ACLs', () => {
    const [a, b, ...rest] = parseShowTargets(fixture);
    expect(rest).toEqual([]);
    expect(a).toMatchObject({ tid: 9001, iqn: 'iqn.2026-01.io.slipway:netboot:lab-pc-01', driver: 'iscsi', state: 'ready' });
    expect(a!.sessions).toEqual([
      { nexus: 3, initiator: 'iqn.2026-01.io.slipway:netboot:initiator.lab-pc-01', alias: null, connections: [{ cid: 0, address: '127.0.0.1' }] },
      { nexus: 4, initiator: 'iqn.2026-01.io.slipway:netboot:initiator.lab-pc-01', alias: null, connections: [{ cid: 0, address: '127.0.0.1' }] },
    ]);
    expect(a!.luns.map((l) => [l.lun, l.type, l.backingStorePath])).toEqual([[0, 'controller', null], [1, 'disk', '/tmp/nbx/m1.export']]);
    expect(a!.luns[1]).toMatchObject({ sizeMb: 4, blockSize: 512, online: true, readonly: false, backingStoreType: 'rdwr', backingStoreFlags: [] });
    expect(a!.acl).toEqual(['127.0.0.1', 'iqn.2026-01.io.slipway:netboot:initiator.lab-pc-01']);
    expect(b).toMatchObject({ tid: 9002, sessions: [], acl: ['10.20.0.0/24'] });
    expect(b!.luns[1]!.backingStoreFlags).toEqual(['direct']);
  });
  it('reads an empty target list', () => {
    expect(parseShowTargets('')).toEqual([]);
  });
  it('refuses output it does not understand instead of guessing', () => {
    expect(() => parseShowTargets('garbage\n')).toThrow(/unexpected line/);
    expect(() => parseShowTargets('Target 1: iqn.2026-01.x:y\n    Strange section:\n')).toThrow(/unknown section/);
  });
  it('classifies tgtadm refusals by their message', () => {
    const k = (stderr: string) => classifyTgtError(new ExecError(['tgtadm'], 22, stderr)).kind;
    expect(k('tgtadm: can\'t find the target\n')).toBe('no_target');
    expect(k('tgtadm: this target already exists\n')).toBe('target_exists');
    expect(k('tgtadm: this target is still active\n')).toBe('target_active');
    expect(k('tgtadm: this access control rule does not exist\n')).toBe('acl_missing');
    expect(k('tgtadm: failed to send request hdr to tgt daemon, Transport endpoint is not connected\n')).toBe('daemon_down');
    expect(k('something new')).toBe('other');
  });
});

describe('TgtCli refuses hostile values before running anything', () => {
  const spy = new SpyRunner(() => ({ stdout: '' }));
  const tgt = new TgtCli(spy, { backingRoot: '/var/lib/slipway/netboot/writebacks', tidMin: 100, tidMax: 109 });
  const good = 'iqn.2026-01.io.slipway:netboot:pc1' as Iqn;
  it.each([
    ['IQN with a leading dash', () => tgt.createTarget('-T' as Iqn)],
    ['IQN with a semicolon', () => tgt.createTarget('iqn.2026-01.io.slipway:pc;reboot' as Iqn)],
    ['IQN with a newline', () => tgt.createTarget('iqn.2026-01.io.slipway:pc\n' as Iqn)],
    ['IQN with $( )', () => tgt.bindInitiator(100, 'iqn.2026-01.io.slipway:$(id)' as Iqn)],
    ['IQN with NUL', () => tgt.bindInitiator(100, 'iqn.2026-01.io.slipway:a\0b' as Iqn)],
    ['IQN with look-alike letters', () => tgt.createTarget('iqn.2026-01.io.slipwаy:pc' as Iqn)],
    ['oversize IQN', () => tgt.createTarget(`iqn.2026-01.io.slipway:${'a'.repeat(300)}` as Iqn)],
    ['tid outside the range', () => tgt.deleteTarget(1)],
    ['tid not an integer', () => tgt.deleteTarget(100.5)],
    ['LUN 0 (the controller)', () => tgt.addLun(100, '/var/lib/slipway/netboot/writebacks/pc1.export', { lun: 0 })],
    ['backing store outside the root', () => tgt.addLun(100, '/etc/shadow')],
    ['backing store with ..', () => tgt.addLun(100, '/var/lib/slipway/netboot/writebacks/../../../../etc/shadow')],
    ['backing store starting with -', () => tgt.addLun(100, '-b')],
    ['backing store segment starting with -', () => tgt.addLun(100, '/var/lib/slipway/netboot/writebacks/--help')],
    ['backing store with a comma', () => tgt.addLun(100, '/var/lib/slipway/netboot/writebacks/a,b')],
    ['ACL ALL', () => tgt.bindAddress(100, 'ALL' as IpAddress)],
    ['ACL address option', () => tgt.bindAddress(100, '-I' as IpAddress)],
    ['ACL network with host bits', () => tgt.bindAddress(100, '10.0.0.1/24' as IpAddress)],
    ['ACL broadcast', () => tgt.bindAddress(100, '255.255.255.255' as IpAddress)],
    ['CHAP user that is an option', () => tgt.createAccount('--help', 'a'.repeat(24))],
    ['CHAP user with a space', () => tgt.createAccount('nb user', 'a'.repeat(24))],
    ['CHAP user with a newline', () => tgt.bindAccount(100, 'nb\nuser')],
    ['CHAP secret too short', () => tgt.createAccount('nb-user', 'short')],
    ['CHAP secret with shell/iPXE syntax', () => tgt.createAccount('nb-user', '${net0/mac}aaaaaaaaaaaaaaaa')],
    ['CHAP secret that is an option', () => tgt.createAccount('nb-user', '--password-aaaaaaaaaa')],
  ])('%s', async (_what, call) => {
    spy.calls.length = 0;
    await expect(call()).rejects.toThrow();
    expect(spy.calls).toEqual([]);
  });
  it('puts every value in its own argument after its option', async () => {
    spy.calls.length = 0;
    await tgt.bindInitiator(100, good);
    await tgt.addLun(101, '/var/lib/slipway/netboot/writebacks/pc1.export');
    expect(spy.calls.map((c) => c.args)).toEqual([
      ['--lld', 'iscsi', '--mode', 'target', '--op', 'bind', '--tid', '100', '--initiator-name', good],
      ['--lld', 'iscsi', '--mode', 'logicalunit', '--op', 'new', '--tid', '101', '--lun', '1', '--backing-store', '/var/lib/slipway/netboot/writebacks/pc1.export', '--bstype', 'rdwr'],
    ]);
  });
});

describe('TgtCli against the running tgtd', () => {
  const { tidMin, tidMax, tag } = uniqueTestIds();
  const dir = mkdtempSync('/tmp/slw-tgt-');
  const run = new LocalProcessRunner();
  const tgt = new TgtCli(run, { backingRoot: dir, tidMin, tidMax });
  const iqn = (s: string) => parseIqn(`iqn.2026-01.io.slipway.test:${tag}.${s}`);
  const disk = path.join(dir, 'disk.raw');

  beforeAll(async () => {
    await writeFile(disk, Buffer.alloc(1024 * 1024));
  });
  afterAll(async () => {
    for (const t of await tgt.listOwnTargets()) if (t.iqn.includes(tag)) await tgt.deleteTarget(t.tid, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  async function login(target: string, initiator: string) {
    return run.exec('qemu-io', ['--image-opts', '-c', 'read 0 512',
      `driver=raw,file.driver=iscsi,file.transport=tcp,file.portal=127.0.0.1:3260,file.target=${target},file.lun=1,file.initiator-name=${initiator}`], { timeoutMs: 20_000, okExitCodes: [0, 1] });
  }

  it('allocates the lowest free tid of its range, from tgtd state (a new adapter instance agrees)', async () => {
    const a = await tgt.createTarget(iqn('a'));
    const b = await new TgtCli(run, { backingRoot: dir, tidMin, tidMax }).createTarget(iqn('b'));
    expect([a.tid, b.tid]).toEqual([tidMin, tidMin + 1]);
    await tgt.deleteTarget(a.tid);
    expect((await tgt.createTarget(iqn('c'))).tid).toBe(tidMin);
    const own = (await tgt.listOwnTargets()).map((t) => [t.tid, t.iqn]);
    expect(own).toEqual(expect.arrayContaining([[tidMin, iqn('c')], [tidMin + 1, iqn('b')]]));
    expect(await tgt.findTarget(iqn('a'))).toBeNull();
  });

  it('refuses an IQN that is already served', async () => {
    await expect(tgt.createTarget(iqn('b'))).rejects.toMatchObject({ kind: 'target_exists' });
  });

  it('serves a LUN only to the initiator its ACL names, shows the session, and needs force while it is busy', async () => {
    const t = await tgt.createTarget(iqn('acl'));
    await tgt.addLun(t.tid, disk);
    const allowed = iqn('initiator.acl');
    await tgt.bindInitiator(t.tid, allowed);
    const shown = (await tgt.findTarget(iqn('acl')))!;
    expect(shown.acl).toEqual([allowed]);
    expect(shown.luns.find((l) => l.lun === 1)).toMatchObject({ type: 'disk', backingStorePath: disk, sizeMb: 1 });

    const refused = await login(iqn('acl'), iqn('initiator.other'));
    expect(refused.exitCode).not.toBe(0);
    const ok = await login(iqn('acl'), allowed);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/read 512\/512 bytes/);

    // a session held open shows up as an I_T nexus with the initiator and its address
    const held = run.stream('sh', ['-c', `(sleep 3; echo quit) | qemu-io --image-opts driver=raw,file.driver=iscsi,file.transport=tcp,file.portal=127.0.0.1:3260,file.target=${iqn('acl')},file.lun=1,file.initiator-name=${allowed}`]);
    let sessions: Awaited<ReturnType<TgtCli['findTarget']>> = null;
    for (let i = 0; i < 40 && !sessions?.sessions.length; i++) {
      await new Promise((r) => setTimeout(r, 50));
      sessions = await tgt.findTarget(iqn('acl'));
    }
    expect(sessions!.sessions).toEqual([expect.objectContaining({ initiator: allowed, connections: [{ cid: 0, address: '127.0.0.1' }] })]);
    await expect(tgt.deleteTarget(t.tid)).rejects.toMatchObject({ kind: 'target_active' });
    await tgt.deleteTarget(t.tid, { force: true });
    expect(await tgt.findTarget(iqn('acl'))).toBeNull();
    held.stop();
    await held.done;
  });

  it('binds and unbinds addresses; a second unbind says the rule is gone', async () => {
    const t = await tgt.createTarget(iqn('addr'));
    await tgt.bindAddress(t.tid, '10.20.0.5' as IpAddress);
    await tgt.bindAddress(t.tid, '10.30.0.0/24' as IpAddress);
    expect((await tgt.findTarget(iqn('addr')))!.acl).toEqual(['10.20.0.5', '10.30.0.0/24']);
    await expect(tgt.bindAddress(t.tid, '10.20.0.5' as IpAddress)).rejects.toMatchObject({ kind: 'acl_exists' });
    await tgt.unbindAddress(t.tid, '10.20.0.5' as IpAddress);
    const e = await tgt.unbindAddress(t.tid, '10.20.0.5' as IpAddress).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TgtError);
    expect(e).toMatchObject({ kind: 'acl_missing', exitCode: 22 });
    await tgt.deleteTarget(t.tid);
  });

  async function chapLogin(target: string, initiator: string, chap?: { user: string; password: string }) {
    const opts = `driver=raw,file.driver=iscsi,file.transport=tcp,file.portal=127.0.0.1:3260,file.target=${target},file.lun=1,file.initiator-name=${initiator}`
      + (chap ? `,file.user=${chap.user},file.password-secret=chap0` : '');
    return run.exec('qemu-io', [...(chap ? ['--object', `secret,id=chap0,data=${chap.password}`] : []), '--image-opts', '-c', 'read 0 512', opts], { timeoutMs: 20_000, okExitCodes: [0, 1] });
  }

  it('CHAP: a bound account refuses an initiator without or with wrong credentials and serves the right ones; rotation locks the old secret out', async () => {
    const user = `nb-${tag}-chap`;
    const secret = 'A1b2C3d4E5f6G7h8J9k0L1m2';
    const t = await tgt.createTarget(iqn('chap'));
    await tgt.addLun(t.tid, disk);
    const initiator = iqn('initiator.chap');
    await tgt.bindInitiator(t.tid, initiator);
    // before CHAP the ACL alone lets it in
    expect((await chapLogin(iqn('chap'), initiator)).exitCode).toBe(0);
    await tgt.createAccount(user, secret);
    await tgt.bindAccount(t.tid, user);
    expect(await tgt.listAccounts()).toContain(user);
    expect((await tgt.findTarget(iqn('chap')))!.accounts).toEqual([user]);

    const none = await chapLogin(iqn('chap'), initiator);
    expect(none.exitCode).not.toBe(0);
    expect(none.stdout).not.toMatch(/read 512\/512/);
    const wrong = await chapLogin(iqn('chap'), initiator, { user, password: 'WrongWrongWrong12345678x' });
    expect(wrong.exitCode).not.toBe(0);
    const otherUser = await chapLogin(iqn('chap'), initiator, { user: `nb-${tag}-other`, password: secret });
    expect(otherUser.exitCode).not.toBe(0);
    const right = await chapLogin(iqn('chap'), initiator, { user, password: secret });
    expect(right.exitCode, right.stderr).toBe(0);
    expect(right.stdout).toMatch(/read 512\/512 bytes/);
    // CHAP adds to the ACL, never replaces it: the right secret from another initiator is refused
    expect((await chapLogin(iqn('chap'), iqn('initiator.other'), { user, password: secret })).exitCode).not.toBe(0);

    // rotation: delete + new + bind; the old secret no longer logs in
    const rotated = 'Z9y8X7w6V5u4T3s2R1q0P9o8';
    expect(await tgt.deleteAccount(user)).toBe(true);
    await tgt.createAccount(user, rotated);
    await tgt.bindAccount(t.tid, user);
    expect((await chapLogin(iqn('chap'), initiator, { user, password: secret })).exitCode).not.toBe(0);
    expect((await chapLogin(iqn('chap'), initiator, { user, password: rotated })).exitCode).toBe(0);

    await tgt.deleteTarget(t.tid, { force: true });
    expect(await tgt.deleteAccount(user)).toBe(true);
    expect(await tgt.deleteAccount(user)).toBe(false);
    expect(await tgt.listAccounts()).not.toContain(user);
  });

  it('CHAP: a refused account request never carries the secret in its error', async () => {
    const user = `nb-${tag}-dup`;
    const secret = 'S3cr3tS3cr3tS3cr3tS3cr3t';
    await tgt.createAccount(user, secret);
    const e = await tgt.createAccount(user, secret).catch((x: unknown) => x);
    await tgt.deleteAccount(user);
    expect(e).toMatchObject({ kind: 'account_exists' });
    expect(JSON.stringify({ argv: (e as TgtError).argv, stderr: (e as TgtError).stderr, message: (e as Error).message })).not.toContain(secret);
    expect((e as TgtError).argv).toContain('[redacted]');
  });

  it('reports a missing target as no_target', async () => {
    await expect(tgt.deleteTarget(tidMax)).rejects.toMatchObject({ kind: 'no_target' });
  });
});
