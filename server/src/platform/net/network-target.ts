import { lookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import ipaddr from 'ipaddr.js';
import { AppError } from '../errors.js';
import type { Actor } from '../rbac/permissions.js';

/**
 * Where a user-named network target may point (issue 9, finding 6: SSRF through proxy sites).
 * Every place a request names a host and port the panel or one of its engines will connect to
 * (a proxy site's backend today; webhooks, app upstreams, image registries later) calls
 * `checkNetworkTarget` before anything is written.
 *
 * For every role but `admin`, the name is resolved (all addresses, as the host's resolver does:
 * `2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1` are loopback too) and refused when *any*
 * address is not plain global unicast: loopback, unspecified, link-local (169.254/16 with the
 * cloud metadata service, fe80::/10), private (RFC 1918), CGNAT (100.64/10), ULA (fc00::/7, with
 * AWS' fd00:ec2::254), multicast, broadcast, reserved, benchmarking, IPv4-mapped/-translated and
 * 6to4/Teredo forms of those; or an address of the panel's own machine or of the target host; or
 * the panel's listen address. An admin-configured allow-list (`ip`, `cidr`, optionally `:port`)
 * lets non-admins reach chosen private backends; metadata and the panel itself stay refused even
 * then. Callers should pin the returned address (not the name) so a later DNS answer cannot
 * rebind the target.
 */

export class NetworkTargetRefusedError extends AppError {
  readonly status = 422;
  readonly code = 'network_target_refused';
  constructor(target: string, why: string) {
    super(`The network target ${target} is not allowed: ${why}. Use a public address, or ask an administrator to allow this backend`, { target });
  }
}

export type Resolver = (host: string) => Promise<string[]>;

/** The host's resolver (getaddrinfo, /etc/hosts included), every address. */
export const systemResolver: Resolver = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

export interface NetworkTargetPolicy {
  /** Admin-configured backends non-admins may use: `10.0.0.5`, `10.0.0.0/24`, `10.0.0.5:8080`, `[fd00::1]:80`. */
  allow?: readonly string[];
  /** The panel's listen address (`host:port`); never a target for non-admins, allow-list or not. */
  panelListen?: string;
  /** Addresses of the machine the connection is made from (its own services listen there). Default: this machine's. */
  selfAddresses?: readonly string[];
  resolve?: Resolver;
}

export interface CheckedTarget {
  host: string;
  port: number;
  /** Every address the name resolved to (IPv4-mapped forms unwrapped). */
  addresses: string[];
}

/** Cloud metadata endpoints: never a target, even on the allow-list. */
const METADATA = ['169.254.169.254', '169.254.170.2', 'fd00:ec2::254', '100.100.100.200'];

type Parsed = ipaddr.IPv4 | ipaddr.IPv6;

function parseAddr(a: string): Parsed | null {
  try {
    return ipaddr.process(a.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
  } catch {
    return null;
  }
}

function sameAddr(a: Parsed, b: Parsed): boolean {
  return a.kind() === b.kind() && a.toNormalizedString() === b.toNormalizedString();
}

/** An allow-list entry: `10.0.0.5`, `10.0.0.0/24`, `10.0.0.5:8080`, `[fd00::1]:80`, `fd00::/64`. */
export function parseAllowEntry(entry: string): { range: [Parsed, number]; port: number | null } | null {
  const e = entry.trim();
  const m = /^\[([0-9a-fA-F:.]+)\](?:\/(\d{1,3}))?(?::(\d{1,5}))?$/.exec(e)
    ?? /^(\d{1,3}(?:\.\d{1,3}){3})(?:\/(\d{1,2}))?(?::(\d{1,5}))?$/.exec(e)
    ?? /^([0-9a-fA-F]*:[0-9a-fA-F:.]*)(?:\/(\d{1,3}))?()$/.exec(e);
  if (!m) return null;
  const port = m[3] ? Number(m[3]) : null;
  if (port !== null && (port < 1 || port > 65535)) return null;
  try {
    let ip: Parsed = ipaddr.parse(m[1]!);
    let bits = m[2] !== undefined ? Number(m[2]) : ip.kind() === 'ipv4' ? 32 : 128;
    if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) {
      ip = (ip as ipaddr.IPv6).toIPv4Address();
      bits = Math.max(0, bits - 96);
    }
    if (bits > (ip.kind() === 'ipv4' ? 32 : 128)) return null;
    return { range: [ip, bits], port };
  } catch {
    return null;
  }
}

function localAddresses(): string[] {
  return Object.values(networkInterfaces()).flat().filter((i): i is NonNullable<typeof i> => !!i).map((i) => i.address);
}

function listenParts(listen: string | undefined): { host: Parsed | null; wildcard: boolean; port: number } | null {
  if (!listen) return null;
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(listen.slice(i + 1));
  const parsed = parseAddr(host === 'localhost' ? '127.0.0.1' : host);
  return { host: parsed, wildcard: !!parsed && parsed.range() === 'unspecified', port };
}

/** Why an address is not a public unicast one, or null when it is. */
export function nonPublicReason(addr: string): string | null {
  const ip = parseAddr(addr);
  if (!ip) return 'not an IP address';
  const range = ip.range();
  if (range === 'unicast') {
    // ipaddr.js calls the whole of 2000::/3 `unicast`; the embeddings below carry IPv4 inside.
    return null;
  }
  const words: Record<string, string> = {
    loopback: 'a loopback address', unspecified: 'the unspecified address', linkLocal: 'a link-local address (cloud metadata lives here)',
    private: 'a private (RFC 1918) address', carrierGradeNat: 'a carrier-grade NAT address', uniqueLocal: 'a unique-local (private IPv6) address',
    multicast: 'a multicast address', broadcast: 'the broadcast address', reserved: 'a reserved address', ipv4Mapped: 'an IPv4-mapped address',
    rfc6145: 'an IPv4-translated address', rfc6052: 'a NAT64 address', '6to4': 'a 6to4 address', teredo: 'a Teredo address', benchmarking: 'a benchmarking address',
  };
  return words[range] ?? `a ${range} address`;
}

/**
 * Checks `host:port` for `actor` and returns the addresses it resolved to. Admins are not
 * restricted (they configure the allow-list and own the machine) but still get the resolution.
 */
export async function checkNetworkTarget(actor: Actor, host: string, port: number, policy: NetworkTargetPolicy = {}): Promise<CheckedTarget> {
  const target = `${host}:${port}`;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new NetworkTargetRefusedError(target, 'the port must be 1-65535');
  const resolve = policy.resolve ?? systemResolver;
  let raw: string[];
  try {
    raw = await resolve(host.replace(/^\[|\]$/g, ''));
  } catch {
    throw new NetworkTargetRefusedError(target, 'the name does not resolve');
  }
  const parsed = raw.map(parseAddr).filter((p): p is Parsed => !!p);
  if (!parsed.length) throw new NetworkTargetRefusedError(target, 'the name does not resolve');
  const addresses = parsed.map((p) => p.toString());
  if (actor.role === 'admin') return { host, port, addresses };

  const allow = (policy.allow ?? []).map(parseAllowEntry).filter((a): a is NonNullable<ReturnType<typeof parseAllowEntry>> => !!a);
  const self = (policy.selfAddresses ?? localAddresses()).map(parseAddr).filter((p): p is Parsed => !!p);
  const panel = listenParts(policy.panelListen);
  const metadata = METADATA.map((m) => parseAddr(m)!);

  for (const ip of parsed) {
    const shown = ip.toString();
    if (metadata.some((m) => sameAddr(m, ip))) throw new NetworkTargetRefusedError(target, `${shown} is a cloud metadata address`);
    if (panel && port === panel.port && (panel.wildcard || !panel.host || sameAddr(panel.host, ip) || nonPublicReason(shown) || self.some((s) => sameAddr(s, ip)))) {
      throw new NetworkTargetRefusedError(target, `${shown}:${port} is the panel itself`);
    }
    const allowed = allow.some((a) => a.range[0].kind() === ip.kind() && ip.match(a.range as [typeof ip, number]) && (a.port === null || a.port === port));
    if (allowed) continue;
    const why = nonPublicReason(shown);
    if (why) throw new NetworkTargetRefusedError(target, `${shown} is ${why}`);
    if (self.some((s) => sameAddr(s, ip))) throw new NetworkTargetRefusedError(target, `${shown} is an address of the server itself`);
  }
  return { host, port, addresses };
}
