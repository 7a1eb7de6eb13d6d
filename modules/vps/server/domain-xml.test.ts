import { describe, expect, it } from 'vitest';
import { SLIPWAY_XMLNS, buildDhcpHostXml, buildDomainXml, buildNetworkXml, domainUuidFor, macForAddress, parseDomainXml, parseNetworkHosts, type DomainSpec } from './domain-xml.js';
import { el, renderXml } from './xml.js';

const base: DomainSpec = {
  name: 'slipway-0190a0b0-0000-7000-8000-000000000001',
  type: 'qemu',
  memoryMb: 256,
  vcpus: 1,
  disk: { path: '/var/lib/slipway/vps/disk.qcow2', format: 'qcow2' },
  seedIso: '/var/lib/slipway/vps/seed.iso',
  interfaces: [{ network: 'slipway-pub', mac: '52:54:00:aa:bb:cc' }],
  vnc: true,
  metadata: { vpsId: '0190a0b0-0000-7000-8000-000000000001', ownerId: 'user-1' },
};

describe('domain XML builder', () => {
  it('builds a TCG domain that parses back with our metadata, disks, NIC and loopback-only VNC', () => {
    const xml = buildDomainXml(base);
    expect(xml).toContain('<domain type="qemu">');
    expect(xml).toContain(`xmlns:slipway="${SLIPWAY_XMLNS}"`);
    expect(xml).not.toMatch(/passwd/);
    const d = parseDomainXml(xml);
    expect(d.slipway).toEqual(base.metadata);
    expect(d.memoryKiB).toBe(256 * 1024);
    expect(d.vcpus).toBe(1);
    expect(d.disks).toEqual([
      { device: 'disk', file: base.disk.path, target: 'vda', format: 'qcow2' },
      { device: 'cdrom', file: base.seedIso, target: 'hdc', format: 'raw' },
    ]);
    expect(d.interfaces).toEqual([{ type: 'network', network: 'slipway-pub', mac: '52:54:00:aa:bb:cc', target: null }]);
    expect(d.vnc).toEqual({ port: null, listen: '127.0.0.1' });
  });

  it('kvm domains pass the host CPU through; direct kernel boot for tests', () => {
    const xml = buildDomainXml({ ...base, type: 'kvm', machine: 'q35', boot: { kind: 'kernel', kernel: '/k/vmlinuz', initrd: '/k/initrd.img', cmdline: 'console=ttyS0 panic=-1' } });
    expect(xml).toContain('<cpu mode="host-passthrough"/>');
    expect(xml).toContain('<kernel>/k/vmlinuz</kernel>');
    expect(xml).toContain('<cmdline>console=ttyS0 panic=-1</cmdline>');
    expect(xml).toContain('<target dev="sda" bus="sata"/>');
  });

  it('escapes every value: a title cannot open markup or inject metadata', () => {
    const xml = buildDomainXml({ ...base, title: `x</title><metadata><slipway:vps xmlns:slipway="${SLIPWAY_XMLNS}" id="evil" owner="evil"/></metadata><title>` });
    const d = parseDomainXml(xml);
    expect(d.slipway).toEqual(base.metadata);
    expect(xml.match(/<metadata>/g)).toHaveLength(1);
    expect(renderXml(el('a', { v: `"'<>&\n` }, '<&>'))).toBe('<a v="&quot;&apos;&lt;&gt;&amp;&#10;">&lt;&amp;&gt;</a>');
  });

  it.each([
    ['name', { name: '-bad' }],
    ['name', { name: 'a b' }],
    ['name', { name: 'a;b' }],
    ['name', { name: 'a\nb' }],
    ['name', { name: 'x'.repeat(81) }],
    ['memory', { memoryMb: 0 }],
    ['memory', { memoryMb: 1.5 }],
    ['vcpus', { vcpus: 0 }],
    ['vcpus', { vcpus: 1000 }],
    ['type', { type: 'xen' }],
    ['disk', { disk: { path: 'relative.qcow2', format: 'qcow2' } }],
    ['disk', { disk: { path: '/a/../etc/shadow', format: 'qcow2' } }],
    ['disk', { disk: { path: '/a/b c', format: 'qcow2' } }],
    ['disk format', { disk: { path: '/a/b', format: 'vmdk' } }],
    ['seed', { seedIso: '/a/$(id)' }],
    ['mac', { interfaces: [{ network: 'slipway-pub', mac: 'AA:BB' }] }],
    ['network', { interfaces: [{ network: "x' y", mac: '52:54:00:aa:bb:cc' }] }],
    ['vps id', { metadata: { vpsId: '"><x', ownerId: 'u' } }],
    ['owner id', { metadata: { vpsId: 'v', ownerId: '' } }],
    ['cmdline', { boot: { kind: 'kernel', kernel: '/k', cmdline: 'a\nb' } }],
    ['nul', { name: 'a\u0000b' }],
  ])('refuses a bad %s', (_what, patch) => {
    expect(() => buildDomainXml({ ...base, ...(patch as Partial<DomainSpec>) })).toThrow();
  });

  it('refuses control characters the XML could not carry, even in a free-text title', () => {
    expect(() => buildDomainXml({ ...base, title: 'a\u0001b' })).toThrow(/control characters/);
    expect(() => buildDomainXml({ ...base, title: 'a\uD800b' })).toThrow(/surrogates/);
  });
});

describe('dumpxml parser', () => {
  const running = `<domain type='kvm' id='3'>
  <name>web1</name><uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>
  <memory unit='GiB'>2</memory><vcpu placement='static'>2</vcpu>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/libvirt/images/web1.qcow2' index='1'/><target dev='vda' bus='virtio'/></disk>
    <serial type='pty'><source path='/dev/pts/4'/><target type='isa-serial' port='0'><model name='isa-serial'/></target><alias name='serial0'/></serial>
    <console type='pty' tty='/dev/pts/4'><source path='/dev/pts/4'/><target type='serial' port='0'/></console>
    <graphics type='vnc' port='5901' autoport='yes' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics>
  </devices></domain>`;

  it('reads the VNC port and serial pty of a running domain; no metadata means unmanaged', () => {
    const d = parseDomainXml(running);
    expect(d.slipway).toBeNull();
    expect(d.vnc).toEqual({ port: 5901, listen: '127.0.0.1' });
    expect(d.serialPty).toBe('/dev/pts/4');
    expect(d.memoryKiB).toBe(2 * 1024 * 1024);
    expect(d.type).toBe('kvm');
  });

  it('recognises our metadata under any prefix, but not a look-alike in another namespace', () => {
    const withMeta = (m: string) => running.replace('<devices>', `<metadata>${m}</metadata><devices>`);
    expect(parseDomainXml(withMeta(`<sw:vps xmlns:sw="${SLIPWAY_XMLNS}" id="v1" owner="u1"/>`)).slipway).toEqual({ vpsId: 'v1', ownerId: 'u1' });
    expect(parseDomainXml(withMeta(`<slipway:vps xmlns:slipway="https://evil.example/xmlns/vps/1" id="v1" owner="u1"/>`)).slipway).toBeNull();
    expect(parseDomainXml(withMeta(`<slipway:vps id="v1" owner="u1"/>`)).slipway).toBeNull();
    expect(parseDomainXml(withMeta(`<slipway:vps xmlns:slipway="${SLIPWAY_XMLNS}" id="v1"/>`)).slipway).toBeNull();
  });
});

describe('network XML', () => {
  it('builds an isolated network with DHCP and a reservation element', () => {
    const xml = buildNetworkXml({ name: 'slipway-p1', bridge: 'swbr-p1', mode: 'isolated', address: '10.77.0.1', prefix: 24, dhcpRange: { start: '10.77.0.10', end: '10.77.0.200' } });
    expect(xml).not.toContain('<forward');
    expect(xml).toContain('<range start="10.77.0.10" end="10.77.0.200"/>');
    expect(buildDhcpHostXml({ mac: '52:54:00:aa:bb:cc', ip: '10.77.0.11', name: 'web1' })).toBe('<host mac="52:54:00:aa:bb:cc" ip="10.77.0.11" name="web1"/>');
  });
  it.each([
    { name: 'default' },
    { name: 'slipway-x', address: '10.0.0.256' },
    { name: 'slipway-x', bridge: 'br 0' },
  ])('refuses %j', (patch) => {
    expect(() => buildNetworkXml({ ...{ name: 'slipway-x', bridge: 'br0', mode: 'nat' as const, address: '10.0.0.1', prefix: 24 }, ...patch })).toThrow();
  });
  it('refuses hostile DHCP host values', () => {
    expect(() => buildDhcpHostXml({ mac: '52:54:00:aa:bb:cc', ip: '10.0.0.2', name: '"/><host ip="10.0.0.1' })).toThrow();
    expect(() => buildDhcpHostXml({ mac: '52:54:00:aa:bb:cc"', ip: '10.0.0.2' })).toThrow();
  });

  it('pre-registers reservations in the network definition; MACs come from addresses, one each (ADR 0013)', () => {
    expect(macForAddress('10.230.0.10')).toBe('52:54:0a:e6:00:0a');
    expect(macForAddress('10.231.255.239')).toBe('52:54:0a:e7:ff:ef');
    const ips = Array.from({ length: 230 }, (_, i) => `10.230.0.${i + 10}`);
    expect(new Set(ips.map(macForAddress)).size).toBe(230);
    const xml = buildNetworkXml({ name: 'slipway-pub', bridge: 'slwbr-pub', mode: 'nat', address: '10.230.0.1', prefix: 24, dhcpRange: { start: '10.230.0.240', end: '10.230.0.254' }, hosts: ips.map((ip) => ({ mac: macForAddress(ip), ip })) });
    expect(parseNetworkHosts(xml)).toEqual(ips.map((ip) => ({ mac: macForAddress(ip), ip })));
    expect(xml).toMatch(/<range start="10\.230\.0\.240" end="10\.230\.0\.254"\/>\s*<host mac="52:54:0a:e6:00:0a" ip="10\.230\.0\.10"\/>/);
    expect(() => macForAddress('10.0.0.1"/><x')).toThrow();
    expect(() => buildNetworkXml({ name: 'slipway-pub', bridge: 'slwbr-pub', mode: 'nat', address: '10.230.0.1', prefix: 24, hosts: [{ mac: '52:54:00:aa:bb:cc"/><host', ip: '10.230.0.9' }] })).toThrow();
    expect(() => buildNetworkXml({ name: 'slipway-pub', bridge: 'slwbr-pub', mode: 'nat', address: '10.230.0.1', prefix: 24, hosts: [{ mac: '52:54:00:aa:bb:cc', ip: '10.230.0.9 ' }] })).toThrow();
  });

  it('derives a stable, well-formed domain UUID from the VPS id', () => {
    expect(domainUuidFor('abc')).toBe(domainUuidFor('abc'));
    expect(domainUuidFor('abc')).not.toBe(domainUuidFor('abd'));
    expect(domainUuidFor('abc')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
