import { createHash } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { el, renderXml, type XmlElement } from './xml.js';

/**
 * libvirt domain and network XML (https://libvirt.org/formatdomain.html, formatnetwork.html):
 * built from typed specs with the escaping builder in xml.ts, and parsed back from `virsh dumpxml`.
 *
 * Slipway marks what it owns with a `<metadata>` child in its own namespace:
 *   <metadata><slipway:vps xmlns:slipway="https://slipway.dev/xmlns/vps/1" id=".." owner=".."/></metadata>
 * libvirt keeps the element (and its namespace) verbatim; a domain without it is unmanaged and
 * Slipway only ever lists it. The metadata only marks *that* Slipway manages a domain: who owns a
 * VPS is decided by the panel's database, never by XML an operator could edit on the host.
 */

export const SLIPWAY_XMLNS = 'https://slipway.dev/xmlns/vps/1';
export const SLIPWAY_PREFIX = 'slipway';
/** Every domain and network Slipway creates is named with this prefix. */
export const NAME_PREFIX = 'slipway-';

export const DOMAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const FILE = /^\/[A-Za-z0-9._/-]{1,4000}$/;
export const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/; // bridge names derive from it: keep it short
const BRIDGE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
const CMDLINE = /^[\x20-\x7e]{0,1024}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export class DomainSpecError extends TypeError {}

function check(re: RegExp, value: unknown, what: string): string {
  if (typeof value !== 'string' || !re.test(value)) throw new DomainSpecError(`invalid ${what}: ${JSON.stringify(value)}`);
  return value;
}
function file(value: unknown, what: string): string {
  const v = check(FILE, value, what);
  if (v.split('/').some((s) => s === '..' || s === '.' || s.startsWith('-'))) throw new DomainSpecError(`invalid ${what}: ${JSON.stringify(value)}`);
  return v;
}
function intIn(v: unknown, min: number, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new DomainSpecError(`${what} must be an integer between ${min} and ${max}`);
  return v;
}

export interface DomainMetadata {
  vpsId: string;
  ownerId: string;
}

export interface DomainSpec {
  name: string;
  uuid?: string;
  /** 'qemu' = TCG (software emulation), 'kvm' = hardware acceleration (see accel.ts). */
  type: 'qemu' | 'kvm';
  memoryMb: number;
  vcpus: number;
  machine?: 'pc' | 'q35';
  /** Boot from the disk (default), or boot a kernel directly (tests, rescue). */
  boot?: { kind: 'disk' } | { kind: 'kernel'; kernel: string; initrd?: string; cmdline?: string };
  disk: { path: string; format: 'qcow2' | 'raw' };
  /** NoCloud seed ISO attached read-only as a CD-ROM. */
  seedIso?: string;
  interfaces?: { network: string; mac: string }[];
  /** VNC on 127.0.0.1 only, autoport, no password (the panel proxies it behind its own auth). */
  vnc?: boolean;
  /** Keep a copy of the serial console in this file (virtlogd writes it): console history. */
  serialLog?: string;
  metadata: DomainMetadata;
  /** Human text shown by virsh; never used for decisions. */
  title?: string;
}

/** The domain XML for `virsh define`. Throws DomainSpecError on any out-of-range value. */
export function buildDomainXml(spec: DomainSpec): string {
  const name = check(DOMAIN_NAME, spec.name, 'domain name');
  if (spec.type !== 'qemu' && spec.type !== 'kvm') throw new DomainSpecError('domain type must be qemu or kvm');
  const memKiB = intIn(spec.memoryMb, 64, 4 * 1024 * 1024, 'memoryMb') * 1024;
  const vcpus = intIn(spec.vcpus, 1, 255, 'vcpus');
  const machine = spec.machine ?? 'pc';
  if (machine !== 'pc' && machine !== 'q35') throw new DomainSpecError('machine must be pc or q35');
  const boot = spec.boot ?? { kind: 'disk' };
  const meta = spec.metadata;
  check(ID, meta.vpsId, 'vps id');
  check(ID, meta.ownerId, 'owner id');
  if (spec.disk.format !== 'qcow2' && spec.disk.format !== 'raw') throw new DomainSpecError('disk format must be qcow2 or raw');

  const os = el('os', {},
    el('type', { arch: 'x86_64', machine }, 'hvm'),
    ...(boot.kind === 'kernel'
      ? [
        el('kernel', {}, file(boot.kernel, 'kernel path')),
        boot.initrd !== undefined ? el('initrd', {}, file(boot.initrd, 'initrd path')) : null,
        el('cmdline', {}, check(CMDLINE, boot.cmdline ?? 'console=ttyS0', 'kernel command line')),
      ]
      : [el('boot', { dev: 'hd' })]),
  );

  const cdromBus = machine === 'q35' ? 'sata' : 'ide';
  const devices = el('devices', {},
    el('disk', { type: 'file', device: 'disk' },
      el('driver', { name: 'qemu', type: spec.disk.format, discard: 'unmap' }),
      el('source', { file: file(spec.disk.path, 'disk path') }),
      el('target', { dev: 'vda', bus: 'virtio' }),
    ),
    spec.seedIso !== undefined
      ? el('disk', { type: 'file', device: 'cdrom' },
        el('driver', { name: 'qemu', type: 'raw' }),
        el('source', { file: file(spec.seedIso, 'seed ISO path') }),
        el('target', { dev: machine === 'q35' ? 'sda' : 'hdc', bus: cdromBus }),
        el('readonly'),
      )
      : null,
    ...(spec.interfaces ?? []).map((i) =>
      el('interface', { type: 'network' },
        el('source', { network: check(NETWORK_NAME, i.network, 'network name') }),
        el('mac', { address: check(MAC, i.mac, 'MAC address') }),
        el('model', { type: 'virtio' }),
      )),
    el('serial', { type: 'pty' },
      spec.serialLog !== undefined ? el('log', { file: file(spec.serialLog, 'serial log path'), append: 'off' }) : null,
      el('target', { port: 0 })),
    el('console', { type: 'pty' }, el('target', { type: 'serial', port: 0 })),
    spec.vnc
      ? el('graphics', { type: 'vnc', port: -1, autoport: 'yes', listen: '127.0.0.1' }, el('listen', { type: 'address', address: '127.0.0.1' }))
      : null,
    spec.vnc ? el('video', {}, el('model', { type: 'vga' })) : null,
    el('memballoon', { model: 'virtio' }),
    el('rng', { model: 'virtio' }, el('backend', { model: 'random' }, '/dev/urandom')),
  );

  const domain: XmlElement = el('domain', { type: spec.type },
    el('name', {}, name),
    spec.uuid !== undefined ? el('uuid', {}, check(UUID, spec.uuid, 'uuid')) : null,
    spec.title !== undefined ? el('title', {}, spec.title.replace(/[\r\n]+/g, ' ').slice(0, 200)) : null,
    el('metadata', {},
      el(`${SLIPWAY_PREFIX}:vps`, { [`xmlns:${SLIPWAY_PREFIX}`]: SLIPWAY_XMLNS, id: meta.vpsId, owner: meta.ownerId }),
    ),
    el('memory', { unit: 'KiB' }, String(memKiB)),
    el('currentMemory', { unit: 'KiB' }, String(memKiB)),
    el('vcpu', { placement: 'static' }, String(vcpus)),
    os,
    el('features', {}, el('acpi'), el('apic')),
    spec.type === 'kvm' ? el('cpu', { mode: 'host-passthrough' }) : null,
    el('clock', { offset: 'utc' }),
    el('on_poweroff', {}, 'destroy'),
    el('on_reboot', {}, 'restart'),
    el('on_crash', {}, 'destroy'),
    devices,
  );
  return `${renderXml(domain)}\n`;
}

// ---------------------------------------------------------------------------------------------
// Networks

export interface NetworkSpec {
  name: string;
  uuid?: string;
  bridge: string;
  /** 'isolated': no forward (private network per owner); 'nat': routed to the outside via NAT. */
  mode: 'isolated' | 'nat';
  /** IPv4 address of the host on this network and the prefix length. */
  address: string;
  prefix: number;
  dhcpRange?: { start: string; end: string };
  /**
   * Static DHCP reservations written into the definition (`<dhcp><host mac ip/>`): Slipway
   * pre-registers every pool address with a MAC derived from it (ADR 0013), so a create needs no
   * live `net-update`.
   */
  hosts?: { mac: string; ip: string }[];
}

export function buildNetworkXml(spec: NetworkSpec): string {
  const name = check(NETWORK_NAME, spec.name, 'network name');
  if (!name.startsWith(NAME_PREFIX)) throw new DomainSpecError(`network names Slipway creates start with ${NAME_PREFIX}`);
  if (spec.mode !== 'isolated' && spec.mode !== 'nat') throw new DomainSpecError('network mode must be isolated or nat');
  const prefix = intIn(spec.prefix, 8, 30, 'prefix');
  const net = el('network', {},
    el('name', {}, name),
    spec.uuid !== undefined ? el('uuid', {}, check(UUID, spec.uuid, 'uuid')) : null,
    spec.mode === 'nat' ? el('forward', { mode: 'nat' }) : null,
    el('bridge', { name: check(BRIDGE, spec.bridge, 'bridge name'), stp: 'on', delay: 0 }),
    el('ip', { address: check(IPV4, spec.address, 'network address'), prefix },
      spec.dhcpRange || spec.hosts?.length
        ? el('dhcp', {},
          spec.dhcpRange ? el('range', { start: check(IPV4, spec.dhcpRange.start, 'DHCP range start'), end: check(IPV4, spec.dhcpRange.end, 'DHCP range end') }) : null,
          (spec.hosts ?? []).map((h) => el('host', { mac: check(MAC, h.mac, 'MAC address'), ip: check(IPV4, h.ip, 'IP address') })))
        : null,
    ),
  );
  return `${renderXml(net)}\n`;
}

/**
 * The libvirt UUID of a VPS's domain, derived from its id (a name-based UUID, RFC 9562 v8 layout
 * over SHA-256): the create job's define and start need no read to learn it, and a retried step
 * defines the same domain again instead of a second one.
 */
export function domainUuidFor(vpsId: string): string {
  const h = createHash('sha256').update(`slipway-vps:${vpsId}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/**
 * The MAC a pool address's reservation is keyed by: `52:54:` and the address's four octets
 * (locally administered, QEMU's 52:54 prefix; one address, one MAC, so no two VMs can share
 * either). Panel-made random MACs are `52:54:00:…` and never collide with a 10.x address's.
 */
export function macForAddress(ip: string): string {
  check(IPV4, ip, 'IP address');
  return `52:54:${ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join(':')}`;
}

/** The `<host mac ip/>` reservations (`ip`, `mac`) of a network's XML (`net-dumpxml`). */
export function parseNetworkHosts(xml: string): { mac: string; ip: string }[] {
  const out: { mac: string; ip: string }[] = [];
  for (const m of xml.matchAll(/<host\b([^>]*)\/?>/g)) {
    const mac = /\bmac=['"]([0-9a-fA-F:]{17})['"]/.exec(m[1]!)?.[1];
    const ip = /\bip=['"]([0-9.]{7,15})['"]/.exec(m[1]!)?.[1];
    if (mac && ip) out.push({ mac: mac.toLowerCase(), ip });
  }
  return out;
}

/** One `<host>` element for `virsh net-update … ip-dhcp-host` (a static DHCP reservation). */
export function buildDhcpHostXml(h: { mac: string; ip: string; name?: string }): string {
  const attrs: Record<string, string> = { mac: check(MAC, h.mac, 'MAC address'), ip: check(IPV4, h.ip, 'IP address') };
  if (h.name !== undefined) attrs['name'] = check(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, h.name, 'DHCP host name');
  return renderXml(el('host', attrs));
}

// ---------------------------------------------------------------------------------------------
// Parsing `virsh dumpxml`

export interface DomainDescription {
  name: string;
  uuid: string;
  type: string;
  /** Our metadata, or null for a domain Slipway does not manage. */
  slipway: DomainMetadata | null;
  memoryKiB: number;
  vcpus: number;
  disks: { device: string; file: string | null; target: string | null; format: string | null }[];
  interfaces: { type: string; network: string | null; mac: string | null; target: string | null }[];
  /** Present while running: the VNC port libvirt picked (autoport), and where it listens. */
  vnc: { port: number | null; listen: string | null } | null;
  /** The pty of the serial console while running (`/dev/pts/N`). */
  serialPty: string | null;
}

const ARRAYS = new Set(['disk', 'interface', 'serial', 'console', 'graphics', 'listen']);
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
  isArray: (name) => ARRAYS.has(name),
});

type Node = Record<string, unknown>;
const obj = (v: unknown): Node => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Node) : {});
const arr = (v: unknown): Node[] => (Array.isArray(v) ? v.map(obj) : v === undefined ? [] : [obj(v)]);
const text = (v: unknown): string | null => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : v && typeof v === 'object' && '#text' in (v as Node) ? String((v as Node)['#text']) : null);
const attr = (n: Node, a: string): string | null => (typeof n[`@_${a}`] === 'string' ? (n[`@_${a}`] as string) : null);

/** Our metadata element: any child of <metadata> whose namespace is ours and local name `vps`. */
function readMetadata(meta: Node): DomainMetadata | null {
  for (const [key, value] of Object.entries(meta)) {
    if (key.startsWith('@_') || key === '#text') continue;
    const [prefix, local] = key.includes(':') ? (key.split(':', 2) as [string, string]) : ['', key];
    if (local !== 'vps') continue;
    for (const node of arr(value)) {
      const ns = attr(node, prefix ? `xmlns:${prefix}` : 'xmlns');
      if (ns !== SLIPWAY_XMLNS) continue;
      const id = attr(node, 'id');
      const owner = attr(node, 'owner');
      if (id && owner && ID.test(id) && ID.test(owner)) return { vpsId: id, ownerId: owner };
    }
  }
  return null;
}

export function parseDomainXml(xml: string): DomainDescription {
  const doc = obj(parser.parse(xml));
  const d = obj(doc['domain']);
  if (!Object.keys(d).length) throw new Error('not a libvirt domain document');
  const devices = obj(d['devices']);
  const memory = obj(d['memory']);
  const memText = text(d['memory']) ?? '0';
  const unit = (attr(memory, 'unit') ?? 'KiB').toLowerCase();
  const factor: Record<string, number> = { b: 1 / 1024, bytes: 1 / 1024, k: 1, kib: 1, m: 1024, mib: 1024, g: 1024 ** 2, gib: 1024 ** 2 };
  const graphics = arr(devices['graphics']).find((g) => attr(g, 'type') === 'vnc');
  const serial = arr(devices['serial'])[0];
  const consoleDev = arr(devices['console'])[0];
  const serialPty = (serial && (attr(obj(serial['source']), 'path') ?? attr(serial, 'tty'))) ?? (consoleDev ? attr(consoleDev, 'tty') ?? attr(obj(consoleDev['source']), 'path') : null);
  return {
    name: text(d['name']) ?? '',
    uuid: text(d['uuid']) ?? '',
    type: attr(d, 'type') ?? '',
    slipway: readMetadata(obj(d['metadata'])),
    memoryKiB: Math.round(Number(memText) * (factor[unit] ?? 1)),
    vcpus: Number(text(d['vcpu']) ?? 0),
    disks: arr(devices['disk']).map((k) => {
      const src = obj(k['source']);
      return {
        device: attr(k, 'device') ?? 'disk',
        file: attr(src, 'file') ?? attr(src, 'dev') ?? attr(src, 'name'),
        target: attr(obj(k['target']), 'dev'),
        format: attr(obj(k['driver']), 'type'),
      };
    }),
    interfaces: arr(devices['interface']).map((i) => ({
      type: attr(i, 'type') ?? '',
      network: attr(obj(i['source']), 'network'),
      mac: attr(obj(i['mac']), 'address'),
      target: attr(obj(i['target']), 'dev'),
    })),
    vnc: graphics
      ? (() => {
        const port = Number(attr(graphics, 'port') ?? '-1');
        return { port: Number.isInteger(port) && port > 0 ? port : null, listen: attr(graphics, 'listen') ?? attr(arr(graphics['listen'])[0] ?? {}, 'address') };
      })()
      : null,
    serialPty: serialPty ?? null,
  };
}
