import { type ProcessRunner } from '../../../server/src/sdk.js';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { type BootToken, type Iqn, type Mac, type MachineName, macDashed, parseIqn, parseMac, parseMachineName } from './netboot.schema.js';

/**
 * iPXE scripts (https://ipxe.org/scripting, https://ipxe.org/cmd/sanboot, https://ipxe.org/sans/iscsi).
 * iPXE has no quoting: a line is split on whitespace, `${…}` is expanded anywhere, `||`/`&&` chain
 * commands and `#` starts a comment. So every interpolated value is checked against a strict
 * allow-list (`scriptValue`) instead of being escaped, and a script that would carry anything else
 * is never produced.
 */

export class IpxeScriptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IpxeScriptError';
  }
}

const VALUE = /^[A-Za-z0-9._:/?=%-]+$/;

/** A value placed in a script: no whitespace, `$`, `#`, `&`, `|`, quotes or control characters. */
export function scriptValue(v: string): string {
  if (typeof v !== 'string' || !v || v.length > 512 || !VALUE.test(v) || v.startsWith('-')) {
    throw new IpxeScriptError(`refusing to put ${JSON.stringify(String(v).slice(0, 80))} into an iPXE script`);
  }
  return v;
}

declare const baseBrand: unique symbol;
/** The panel's URL as boot clients reach it: http(s)://<IPv4 or DNS name>[:port], no path. */
export type BootBaseUrl = string & { readonly [baseBrand]: true };

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function parseBootBaseUrl(input: unknown): BootBaseUrl {
  if (typeof input !== 'string' || input.length > 300) throw new IpxeScriptError('a boot URL such as http://10.0.0.1:8080 is required');
  const m = /^(https?):\/\/([^/:?#]+)(?::(\d{1,5}))?\/?$/.exec(input);
  if (!m) throw new IpxeScriptError('a boot URL is http(s)://host[:port] without a path, user or query');
  const host = m[2]!;
  if (!isIPv4(host) && !HOSTNAME.test(host)) throw new IpxeScriptError('a boot URL host is an IPv4 address or a lower-case DNS name');
  if (m[3] !== undefined && (Number(m[3]) < 1 || Number(m[3]) > 65535)) throw new IpxeScriptError('a boot URL port is 1-65535');
  return `${m[1]}://${host}${m[3] ? `:${m[3]}` : ''}` as BootBaseUrl;
}

/** The iSCSI portal address machines use (IPv4 or DNS name; iPXE's root path takes no brackets here). */
export function parsePortalHost(input: unknown): string {
  if (typeof input !== 'string' || (!isIPv4(input) && !HOSTNAME.test(input))) throw new IpxeScriptError('an iSCSI server is an IPv4 address or a lower-case DNS name');
  return input;
}

/** 32 random bytes, base64url: the per-machine secret in its chained script URL. */
export function newBootToken(): BootToken {
  return randomBytes(32).toString('base64url') as BootToken;
}

/** Constant-time comparison of a presented token with the machine's. */
export function tokenMatches(expected: BootToken, presented: unknown): boolean {
  if (typeof presented !== 'string' || presented.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(expected), Buffer.from(presented));
}

export const SCRIPT_ROUTE = '/api/v1/netboot/boot';

/** The per-MAC script URL with the machine's token: what the machine (or its DHCP) chains to. */
export function machineScriptUrl(base: BootBaseUrl, mac: Mac, token: BootToken): string {
  return scriptValue(`${base}${SCRIPT_ROUTE}/${macDashed(parseMac(mac))}.ipxe?token=${token}`);
}

/** The generic entry script URL: iPXE fills in its own MAC (`${net0/mac:hexhyp}`) when it chains. */
export function entryScriptUrl(base: BootBaseUrl): string {
  return `${base}${SCRIPT_ROUTE}/\${net0/mac:hexhyp}.ipxe`;
}

/** `iscsi:<server>:<protocol>:<port>:<lun>:<target>` (https://ipxe.org/sans/iscsi). */
export function iscsiRootPath(server: string, iqn: Iqn, o: { port?: number; lun?: number } = {}): string {
  const port = o.port ?? 3260;
  const lun = o.lun ?? 1;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new IpxeScriptError('iSCSI port 1-65535');
  if (!Number.isInteger(lun) || lun < 0 || lun > 255) throw new IpxeScriptError('LUN 0-255');
  return scriptValue(`iscsi:${parsePortalHost(server)}::${port}:${lun}:${parseIqn(iqn)}`);
}

export type Fallback = { kind: 'local' } | { kind: 'menu'; menuUrl: string } | { kind: 'exit' };

function fallbackLines(f: Fallback): string[] {
  switch (f.kind) {
    case 'local':
      // the first BIOS disk; if there is none, hand back to the firmware's next boot device
      return ['echo Booting the local disk', 'sanboot --no-describe --drive 0x80 || exit'];
    case 'menu':
      return [`chain --autofree ${scriptValue(f.menuUrl)} || exit`];
    case 'exit':
      return ['exit'];
  }
}

export interface MachineScript {
  name: MachineName;
  mac: Mac;
  initiatorIqn: Iqn;
  targetIqn: Iqn;
  /** The iSCSI portal the machine reaches (the boot server's address on its LAN). */
  server: string;
  port?: number;
  lun?: number;
  fallback: Fallback;
  /** Incoming CHAP (https://ipxe.org/cfg/username, /cfg/password): sent by iPXE at the iSCSI login. */
  chap?: { user: string; secret: string } | null;
}

/** Diskless boot: announce the initiator IQN, sanboot the machine's target, else fall back. */
export function machineScript(s: MachineScript): string {
  const name = parseMachineName(s.name);
  const mac = parseMac(s.mac);
  return [
    '#!ipxe',
    `# Slipway netboot: ${scriptValue(name)} (${scriptValue(macDashed(mac))})`,
    `set initiator-iqn ${scriptValue(parseIqn(s.initiatorIqn))}`,
    ...(s.chap ? [`set username ${chapValue(s.chap.user, /^[a-z][a-z0-9.-]{0,63}$/)}`, `set password ${chapValue(s.chap.secret, /^[A-Za-z0-9]{16,64}$/)}`] : []),
    `sanboot ${iscsiRootPath(s.server, s.targetIqn, { port: s.port, lun: s.lun })} || goto fallback`,
    'exit',
    ':fallback',
    'echo The network disk could not be booted',
    ...fallbackLines(s.fallback),
    '',
  ].join('\n');
}

function chapValue(v: string, re: RegExp): string {
  if (typeof v !== 'string' || !re.test(v)) throw new IpxeScriptError('refusing to put a malformed CHAP credential into an iPXE script');
  return v;
}

/** Boot mode "local disk" for a known machine. */
export function localScript(name: MachineName): string {
  return ['#!ipxe', `# Slipway netboot: ${scriptValue(parseMachineName(name))} boots its local disk`, ...fallbackLines({ kind: 'local' }), ''].join('\n');
}

/**
 * What an unknown MAC (or a request without the machine's token) gets: nothing about any machine
 * or target, only a notice that it is waiting for an operator, and a menu to retry or boot locally.
 * `retryUrl` is the entry URL (no token); `registered` says the MAC was recorded as pending.
 */
export function menuScript(o: { retryUrl: string; registered: boolean; timeoutMs?: number }): string {
  const timeout = o.timeoutMs ?? 10_000;
  if (!Number.isInteger(timeout) || timeout < 0 || timeout > 600_000) throw new IpxeScriptError('menu timeout 0-600000 ms');
  const retry = o.retryUrl.replace('${net0/mac:hexhyp}', 'MAC');
  scriptValue(retry); // the rest of the URL must be plain
  return [
    '#!ipxe',
    '# Slipway netboot: this machine is not assigned',
    'menu Slipway netboot: this machine (${net0/mac}) is not assigned',
    o.registered ? 'item --gap An operator can now assign it in the panel (pending machines)' : 'item --gap Ask an operator to register this MAC address',
    'item retry Try again',
    'item local Boot the local disk',
    `choose --default local --timeout ${timeout} target || goto local`,
    'goto ${target}',
    ':retry',
    `chain --autofree ${o.retryUrl} || goto local`,
    ':local',
    ...fallbackLines({ kind: 'local' }),
    '',
  ].join('\n');
}

export interface IpxeBootFiles {
  /** BIOS PXE → iPXE chainloader (keeps the PXE stack: works with every NIC's UNDI). */
  bios: string;
  /** UEFI x86-64 iPXE. */
  efi: string;
  /** The directory both live in (dnsmasq's tftp-root). */
  dir: string;
}

/**
 * Finds Debian's `ipxe` package files (`dpkg -L ipxe`: /usr/lib/ipxe/undionly.kpxe and ipxe.efi);
 * falls back to those paths when dpkg is not there. Returns null when they are missing.
 */
export async function locateIpxeBootFiles(run: ProcessRunner): Promise<IpxeBootFiles | null> {
  let listed: string[] = [];
  try {
    listed = (await run.exec('dpkg', ['-L', 'ipxe'], { timeoutMs: 10_000 })).stdout.split('\n').map((l) => l.trim());
  } catch {
    listed = [];
  }
  const pick = (file: string) => listed.find((l) => l.endsWith(`/ipxe/${file}`)) ?? `/usr/lib/ipxe/${file}`;
  const bios = pick('undionly.kpxe');
  const efi = pick('ipxe.efi');
  if (run.host === 'local' && (!existsSync(bios) || !existsSync(efi))) return null;
  const dir = bios.slice(0, bios.lastIndexOf('/'));
  if (efi.slice(0, efi.lastIndexOf('/')) !== dir) return null;
  return { bios, efi, dir };
}

/**
 * What a known machine gets while its session is still starting: wait, then fetch its own script
 * again (the URL it was given, token included; nothing else about the machine).
 */
export function retryScript(ownUrl: string, o: { seconds?: number } = {}): string {
  const s = o.seconds ?? 3;
  if (!Number.isInteger(s) || s < 1 || s > 60) throw new IpxeScriptError('retry seconds 1-60');
  return ['#!ipxe', 'echo Preparing the network disk, please wait', `sleep ${s}`, `chain --autofree ${scriptValue(ownUrl)} || exit`, ''].join('\n');
}

/** Boot mode "menu" of a known machine: boot the network disk (its own URL, `&mode=iscsi`) or the local disk. */
export function machineMenuScript(o: { name: MachineName; diskUrl: string | null; timeoutMs?: number }): string {
  const timeout = o.timeoutMs ?? 10_000;
  if (!Number.isInteger(timeout) || timeout < 0 || timeout > 600_000) throw new IpxeScriptError('menu timeout 0-600000 ms');
  return [
    '#!ipxe',
    `# Slipway netboot: ${scriptValue(parseMachineName(o.name))}`,
    `menu Slipway netboot: ${scriptValue(parseMachineName(o.name))}`,
    ...(o.diskUrl ? ['item disk Boot the network disk'] : []),
    'item local Boot the local disk',
    `choose --default ${o.diskUrl ? 'disk' : 'local'} --timeout ${timeout} target || goto local`,
    'goto ${target}',
    ...(o.diskUrl ? [':disk', `chain --autofree ${scriptValue(o.diskUrl)} || goto local`] : []),
    ':local',
    ...fallbackLines({ kind: 'local' }),
    '',
  ].join('\n');
}
