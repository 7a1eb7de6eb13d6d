import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExecOptions, type ExecResult, type ProcessRunner, type StreamHandle } from '../../../server/src/testing/index.js';
import { SLIPWAY_XMLNS, buildDomainXml, domainUuidFor, type DomainSpec } from './domain-xml.js';
import { LibvirtError, UnmanagedDomainError, Virsh, classifyVirshError, parseDomstats, parseEventLine, parseList, parseSnapshotList, stateAfterEvent } from './libvirt.virsh.js';
import { VirshTestSession } from './test-fixtures/virsh-session.js';

const spec = (id: string, over: Partial<DomainSpec> = {}): DomainSpec => ({
  name: `slipway-${id}`,
  type: 'qemu',
  memoryMb: 128,
  vcpus: 1,
  disk: { path: `/var/lib/slipway/vps/${id}.qcow2`, format: 'qcow2' },
  interfaces: [{ network: 'default', mac: '52:54:00:10:20:30' }],
  metadata: { vpsId: id, ownerId: 'owner-1' },
  ...over,
});

describe('virsh adapter against libvirt test:///default', () => {
  let session: VirshTestSession;
  let v: Virsh;
  beforeAll(() => {
    session = new VirshTestSession();
    v = new Virsh(session, { uri: 'test:///default' });
  });
  afterAll(() => session.close());

  it('defines ours, lists everything, and tells managed from unmanaged', async () => {
    const r = await v.define(buildDomainXml(spec('a1')), { vpsId: 'a1', ownerId: 'owner-1' });
    expect(r.name).toBe('slipway-a1');
    expect(r.uuid).toMatch(/^[0-9a-f-]{36}$/);
    const define = session.calls.find((c) => c[4] === 'define')!;
    expect(define).toEqual(['virsh', '-q', '-c', 'test:///default', 'define', expect.stringMatching(/^--file=\/tmp\/slipway-xml-\w+\/domain\.xml$/)]);
    expect(existsSync(define[5]!.slice('--file='.length))).toBe(false); // the temporary XML is gone
    const list = await v.listAll();
    expect(list).toEqual(expect.arrayContaining([{ id: 1, name: 'test', state: 'running' }, { id: null, name: 'slipway-a1', state: 'shut off' }]));
    const described = await v.listDescribed();
    expect(described.find((d) => d.name === 'test')?.managed).toBe(false);
    const ours = described.find((d) => d.name === 'slipway-a1')!;
    expect(ours.managed).toBe(true);
    expect(ours.description.slipway).toEqual({ vpsId: 'a1', ownerId: 'owner-1' });
  });

  it('defineNew (the create hot path: one call, no read) never changes a domain that is not this VPS\'s', async () => {
    // a foreign domain (no metadata) already holds the name the VPS would get
    const foreign = buildDomainXml(spec('x1')).replace(/<metadata>[\s\S]*<\/metadata>/, '');
    const dir = mkdtempSync(path.join(tmpdir(), 'slipway-test-'));
    writeFileSync(path.join(dir, 'f.xml'), foreign);
    await session.exec('virsh', ['-q', '-c', 'test:///default', 'define', `--file=${path.join(dir, 'f.xml')}`]);
    rmSync(dir, { recursive: true, force: true });
    const before = await v.dumpxml('slipway-x1');
    const ours = buildDomainXml(spec('x1', { uuid: domainUuidFor('x1') }));
    await expect(v.defineNew(ours, { vpsId: 'x1', ownerId: 'owner-1' })).rejects.toBeInstanceOf(UnmanagedDomainError);
    expect(await v.dumpxml('slipway-x1')).toBe(before);
    expect((await v.describe('slipway-x1')).slipway).toBeNull();
    // the VPS's UUID taken under another name: refused too
    await v.defineNew(buildDomainXml(spec('x2', { uuid: domainUuidFor('x2') })), { vpsId: 'x2', ownerId: 'owner-1' });
    const clash = buildDomainXml(spec('x3', { uuid: domainUuidFor('x2') }));
    await expect(v.defineNew(clash, { vpsId: 'x3', ownerId: 'owner-1' })).rejects.toBeInstanceOf(UnmanagedDomainError);
    // a retried define of the same VPS updates its one domain; XML without a UUID or metadata is refused
    const again = await v.defineNew(buildDomainXml(spec('x2', { uuid: domainUuidFor('x2'), memoryMb: 256 })), { vpsId: 'x2', ownerId: 'owner-1' });
    expect(again.uuid).toBe(domainUuidFor('x2'));
    expect((await v.describe('slipway-x2')).memoryKiB).toBe(256 * 1024);
    expect((await v.listAll()).filter((d) => d.name === 'slipway-x2')).toHaveLength(1);
    await expect(v.defineNew(buildDomainXml(spec('x4')), { vpsId: 'x4', ownerId: 'owner-1' })).rejects.toThrow(/UUID/);
    await expect(v.defineNew(ours, { vpsId: 'x1', ownerId: 'someone-else' })).rejects.toThrow(/metadata/);
    await v.startDefined(domainUuidFor('x2'));
    expect((await v.domstate('slipway-x2')).state).toBe('running');
    await expect(v.startDefined('not-a-uuid; rm -rf /')).rejects.toThrow(/Invalid domain UUID/);
    await v.destroy('slipway-x2', 'x2');
    await v.undefine('slipway-x2', 'x2');
    await session.exec('virsh', ['-q', '-c', 'test:///default', 'undefine', '--domain=slipway-x1']);
  });

  it('runs the lifecycle of our domain and reads its state, info and stats', async () => {
    await v.start('slipway-a1', 'a1');
    expect((await v.domstate('slipway-a1')).state).toBe('running');
    await v.suspend('slipway-a1', 'a1');
    expect((await v.domstate('slipway-a1')).state).toBe('paused');
    await v.resume('slipway-a1', 'a1');
    const info = await v.dominfo('slipway-a1');
    expect(info['State']).toBe('running');
    expect(info['CPU(s)']).toBe('1');
    const stats = await v.domstats(['slipway-a1'], ['state']);
    expect(stats.get('slipway-a1')?.['state.state']).toBe(1);
    await v.reboot('slipway-a1', 'a1').catch((e: unknown) => {
      // the mock hypervisor may not implement every call; the error must still be typed
      expect(e).toBeInstanceOf(LibvirtError);
    });
    await v.destroy('slipway-a1', 'a1');
    expect((await v.domstate('slipway-a1')).state).toBe('shut off');
    // starting twice: a typed error with libvirt's reason
    await v.start('slipway-a1', 'a1');
    const err = await v.start('slipway-a1', 'a1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LibvirtError);
    expect((err as LibvirtError).kind).toBe('already_running');
    expect((err as LibvirtError).message).toMatch(/^libvirt: .*already/);
    await v.destroy('slipway-a1', 'a1');
  });

  it('acts on the UUID it verified, not the name', async () => {
    const before = session.calls.length;
    await v.start('slipway-a1', 'a1');
    const start = session.calls.slice(before).find((c) => c[4] === 'start')!;
    expect(start[5]).toMatch(/^--domain=[0-9a-f-]{36}$/);
    await v.destroy('slipway-a1', 'a1');
  });

  it('snapshots: create with a comment, list, revert, delete', async () => {
    await v.snapshotCreate('slipway-a1', 'a1', 'snap-1', "before upgrade; it's $(fine)");
    const snaps = await v.snapshotList('slipway-a1', 'a1');
    expect(snaps.map((s) => s.name)).toEqual(['snap-1']);
    expect(snaps[0]!.createdAt).toBeGreaterThan(Date.now() - 3_600_000);
    await v.snapshotRevert('slipway-a1', 'a1', 'snap-1');
    await v.snapshotDelete('slipway-a1', 'a1', 'snap-1');
    expect(await v.snapshotList('slipway-a1', 'a1')).toEqual([]);
  });

  it('never touches a domain without our metadata: every mutating call refuses the unmanaged "test" domain', async () => {
    const before = session.calls.length;
    const attempts: Promise<unknown>[] = [
      v.start('test', 'test'), v.destroy('test', 'test'), v.shutdown('test', 'test'), v.reboot('test', 'test'), v.reset('test', 'test'),
      v.suspend('test', 'test'), v.resume('test', 'test'), v.undefine('test', 'test', { removeAllStorage: true }),
      v.snapshotCreate('test', 'test', 's1'), v.snapshotList('test', 'test'), v.snapshotRevert('test', 'test', 's1'), v.snapshotDelete('test', 'test', 's1'),
    ];
    for (const a of attempts) await expect(a).rejects.toBeInstanceOf(UnmanagedDomainError);
    const issued = session.calls.slice(before).map((c) => c[4]);
    expect(new Set(issued)).toEqual(new Set(['dumpxml']));
    expect((await v.domstate('test')).state).toBe('running');
  });

  it('refuses to redefine an unmanaged domain by name, and refuses XML without our metadata', async () => {
    await expect(v.define(buildDomainXml(spec('test', { name: 'test' })), { vpsId: 'test', ownerId: 'owner-1' })).rejects.toBeInstanceOf(UnmanagedDomainError);
    const noMeta = buildDomainXml(spec('b1')).replace(/<metadata>[\s\S]*<\/metadata>/, '');
    await expect(v.define(noMeta, { vpsId: 'b1', ownerId: 'owner-1' })).rejects.toThrow(/Slipway metadata/);
    // a look-alike namespace is not ours either
    const fake = buildDomainXml(spec('b2')).replace(SLIPWAY_XMLNS, 'https://evil.example/vps');
    await expect(v.define(fake, { vpsId: 'b2', ownerId: 'owner-1' })).rejects.toThrow(/Slipway metadata/);
    expect(await v.exists('slipway-b1')).toBe(false);
    expect((await v.dumpxml('test'))).toContain('<name>test</name>');
  });

  it("refuses to act on another VPS's domain, or to redefine it for another VPS", async () => {
    await v.define(buildDomainXml(spec('c1')), { vpsId: 'c1', ownerId: 'owner-1' });
    await expect(v.start('slipway-c1', 'a1')).rejects.toThrow(/belongs to another VPS/);
    const hijack = buildDomainXml(spec('a1', { name: 'slipway-c1' }));
    await expect(v.define(hijack, { vpsId: 'a1', ownerId: 'owner-1' })).rejects.toBeInstanceOf(UnmanagedDomainError);
    expect((await v.describe('slipway-c1')).slipway?.vpsId).toBe('c1');
  });

  it('undefines ours', async () => {
    await v.undefine('slipway-c1', 'c1');
    expect(await v.exists('slipway-c1')).toBe(false);
    const err = await v.describe('slipway-c1').catch((e: unknown) => e);
    expect((err as LibvirtError).kind).toBe('not_found');
  });

  it('networks: only slipway-… networks are changed; DHCP reservations add and delete', async () => {
    await expect(v.netDestroy('default')).rejects.toBeInstanceOf(UnmanagedDomainError);
    await expect(v.netDhcpHost('default', 'add', { mac: '52:54:00:00:00:01', ip: '192.168.122.5' })).rejects.toBeInstanceOf(UnmanagedDomainError);
    const { buildNetworkXml } = await import('./domain-xml.js');
    await v.netDefine(buildNetworkXml({ name: 'slipway-t1', bridge: 'swt1', mode: 'isolated', address: '10.88.0.1', prefix: 24, dhcpRange: { start: '10.88.0.10', end: '10.88.0.99' } }));
    await v.netStart('slipway-t1');
    await v.netDhcpHost('slipway-t1', 'add', { mac: '52:54:00:00:00:01', ip: '10.88.0.11', name: 'web1' });
    expect(await v.netDumpxml('slipway-t1')).toContain("ip='10.88.0.11'");
    await v.netDhcpHost('slipway-t1', 'delete', { mac: '52:54:00:00:00:01', ip: '10.88.0.11', name: 'web1' });
    expect(await v.netDumpxml('slipway-t1')).not.toContain('10.88.0.11');
    const nets = await v.netList();
    expect(nets.find((n) => n.name === 'slipway-t1')).toMatchObject({ active: true, managed: true });
    expect(nets.find((n) => n.name === 'default')).toMatchObject({ managed: false });
    await v.netDestroy('slipway-t1');
    await v.netUndefine('slipway-t1');
  });
});

/** Records argv, runs nothing. */
class SpyRunner implements ProcessRunner {
  readonly host = 'local';
  readonly calls: string[][] = [];
  async exec(command: string, args: readonly string[], _o?: ExecOptions): Promise<ExecResult> {
    this.calls.push([command, ...args]);
    return { argv: [command, ...args], exitCode: 0, stdout: '', stderr: '', durationMs: 0 };
  }
  stream(): StreamHandle {
    throw new Error('no');
  }
}

describe('virsh adapter: hostile values are refused before any process is spawned', () => {
  const hostile = ['-f', '--domain=evil', 'a;b', '$(id)', 'a\nb', 'a\u0000b', 'x'.repeat(5000), 'slipway-\u0430', '../x', "a'b", 'a b', ''];
  it.each(hostile)('domain name %j', async (name) => {
    const spy = new SpyRunner();
    const v = new Virsh(spy);
    await expect(v.start(name, 'v1')).rejects.toThrow();
    await expect(v.undefine(name, 'v1')).rejects.toThrow();
    expect(spy.calls).toEqual([]);
  });
  it.each(hostile)('snapshot name / network / pool %j', async (bad) => {
    const spy = new SpyRunner();
    const v = new Virsh(spy);
    await expect(v.snapshotCreate('slipway-a', 'a', bad)).rejects.toThrow();
    await expect(v.snapshotRevert('slipway-a', 'a', bad)).rejects.toThrow();
    await expect(v.netStart(bad)).rejects.toThrow();
    await expect(v.netDhcpHost(bad, 'add', { mac: '52:54:00:00:00:01', ip: '10.0.0.2' })).rejects.toThrow();
    await expect(v.netDhcpHost('slipway-n', 'add', { mac: bad, ip: '10.0.0.2' })).rejects.toThrow();
    await expect(v.poolDefineDir(bad, '/var/lib/x')).rejects.toThrow();
    await expect(v.poolDefineDir('slipway-p', `/var/${bad}`)).rejects.toThrow();
    await expect(v.volDelete('slipway-p', bad)).rejects.toThrow();
    expect(spy.calls).toEqual([]);
  });
  it('a snapshot comment with control characters or oversize is refused', async () => {
    const spy = new SpyRunner();
    const v = new Virsh(spy);
    await expect(v.snapshotCreate('slipway-a', 'a', 's', 'a\nb')).rejects.toThrow(/comment/);
    await expect(v.snapshotCreate('slipway-a', 'a', 's', 'x'.repeat(501))).rejects.toThrow(/comment/);
    expect(spy.calls).toEqual([]);
  });
  it('only known URIs', () => {
    expect(() => new Virsh(new SpyRunner(), { uri: 'qemu+ssh://root@evil/system' })).toThrow();
    expect(() => new Virsh(new SpyRunner(), { uri: '-c' })).toThrow();
  });
});

describe('virsh output parsers (formats from virsh source, checked against real output)', () => {
  it('list --all', () => {
    expect(parseList(' 1    test        running\n -    slipway-a   shut off\n 7    my vm       in shutdown\n')).toEqual([
      { id: 1, name: 'test', state: 'running' },
      { id: null, name: 'slipway-a', state: 'shut off' },
      { id: 7, name: 'my vm', state: 'in shutdown' },
    ]);
  });
  it('domstats --raw', () => {
    const m = parseDomstats("Domain: 'a'\n  state.state=1\n  cpu.time=123456\n  net.0.name=vnet0\n\nDomain: 'b'\n  state.state=5\n");
    expect(m.get('a')).toEqual({ 'state.state': 1, 'cpu.time': 123456, 'net.0.name': 'vnet0' });
    expect(m.get('b')).toEqual({ 'state.state': 5 });
  });
  it('snapshot-list', () => {
    expect(parseSnapshotList(' s1   2026-12-03 11:30:04 +0000   running\n s2   2026-12-03 12:00:00 +0100   shutoff\n')).toEqual([
      { name: 's1', createdAt: Date.parse('2026-12-03T11:30:04Z'), state: 'running' },
      { name: 's2', createdAt: Date.parse('2026-12-03T11:00:00Z'), state: 'shutoff' },
    ]);
  });
  it('event lines', () => {
    const e = parseEventLine("2026-12-03 11:40:01.123+0000: event 'lifecycle' for domain 'slipway-a': Started Booted")!;
    expect(e).toEqual({ at: Date.parse('2026-12-03T11:40:01.123Z'), domain: 'slipway-a', event: 'lifecycle', type: 'Started', detail: 'Booted' });
    expect(stateAfterEvent(e)).toBe('running');
    expect(stateAfterEvent(parseEventLine("event 'lifecycle' for domain 'x': Stopped Destroyed")!)).toBe('shut off');
    expect(stateAfterEvent(parseEventLine("event 'lifecycle' for domain 'x': Suspended Paused")!)).toBe('paused');
    expect(parseEventLine("2026-12-03 11:40:01.123+0000: event 'reboot' for domain 'x'")).toMatchObject({ event: 'reboot', domain: 'x' });
    expect(parseEventLine('events received: 3')).toBeNull();
  });
  it('errors are classified with a user-fit reason', () => {
    expect(classifyVirshError("error: failed to get domain 'x'\nerror: Domain not found: no domain with matching name 'x'\n")).toEqual({ kind: 'not_found', reason: "Domain not found: no domain with matching name 'x'" });
    expect(classifyVirshError('error: failed to connect to the hypervisor\nerror: Failed to connect socket to \'/var/run/libvirt/libvirt-sock\': No such file or directory').kind).toBe('unavailable');
  });
});
