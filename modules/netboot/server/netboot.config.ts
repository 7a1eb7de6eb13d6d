import { z } from 'zod';
import { parseBootBaseUrl, parsePortalHost } from './ipxe.js';
import { parseIpv4Cidr, parseIqnPrefix } from './netboot.schema.js';
import { parseWakeAddress } from './wol.js';

const Bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])]).transform((v) =>
  typeof v === 'boolean' ? v : ['true', '1', 'yes'].includes(v),
);
const GiB = 1024 ** 3;

function checked<T>(parse: (v: unknown) => T) {
  return (v: string, ctx: z.RefinementCtx): T => {
    try {
      return parse(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  };
}

const IFACE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/;

/** SLIPWAY_NETBOOT_* keys. */
export const NetbootConfig = z.object({
  /**
   * Images, writebacks, uploads and the generated dnsmasq config (default <dataDir>/netboot). Keep
   * it short: QMP socket paths under <dataRoot>/wb must stay within 107 bytes.
   */
  dataRoot: z.string().regex(/^\/[A-Za-z0-9._/-]{1,60}$/, 'an absolute path of at most 60 letters, digits, ".", "_", "-", "/"').refine((p) => !p.includes('..') && !p.includes('//'), 'a normalised path').optional(),
  /** tgt target ids this panel allocates from; targets outside the range are never touched. */
  tidMin: z.coerce.number().int().min(1).max(2_000_000_000).default(1000),
  tidMax: z.coerce.number().int().min(1).max(2_000_000_000).default(1999),
  /** Every target is `<prefix>:<machine>`, every initiator `<prefix>:initiator.<machine>`. */
  iqnPrefix: z.string().max(150).transform(checked(parseIqnPrefix)).default(parseIqnPrefix('iqn.2026-01.io.slipway:netboot')),
  /** The iSCSI portal address machines reach tgt on (IPv4 or DNS name). */
  serverAddress: z.string().max(253).transform(checked(parsePortalHost)).default('127.0.0.1'),
  iscsiPort: z.coerce.number().int().min(1).max(65535).default(3260),
  /** The panel as boot clients reach it, http(s)://host[:port] (default http://<serverAddress>:<panel port>). */
  bootBaseUrl: z.string().max(300).transform(checked(parseBootBaseUrl)).optional(),
  /** LAN interface dnsmasq answers on, and the LAN's IPv4 network (proxyDHCP needs it). */
  interface: z.string().regex(IFACE, 'an interface name such as eth0 (at most 15 characters)').default('eth0'),
  subnet: z.string().max(18).transform(checked((v) => parseIpv4Cidr(v))).optional(),
  /** Run dnsmasq in proxyDHCP + TFTP mode (the site's DHCP server keeps assigning addresses). */
  proxyDhcp: Bool.default(false),
  /** Largest image upload accepted, in bytes. */
  uploadMaxBytes: z.coerce.number().int().min(1024).max(16 * 1024 * GiB).default(256 * GiB),
  /** Free space on the data root that uploads, conversions and commits never eat into, in bytes. */
  freeSpaceReserveBytes: z.coerce.number().int().min(0).max(16 * 1024 * GiB).default(10 * GiB),
  /** Unknown MACs that may wait as pending machines at once, and how many may register per minute. */
  pendingMax: z.coerce.number().int().min(0).max(100_000).default(256),
  pendingPerMinute: z.coerce.number().int().min(0).max(10_000).default(30),
  /** How long a script request of a known machine waits for its on-demand session before it is told to retry. */
  scriptWaitMs: z.coerce.number().int().min(0).max(120_000).default(15_000),
  /** How often iSCSI sessions are read from tgt (status online, since, last boot). 0 = only on request. */
  sessionPollMs: z.coerce.number().int().min(0).max(600_000).default(5_000),
  /**
   * Where wake-on-LAN magic packets go: a dotted IPv4 broadcast address (default: the directed
   * broadcast of the boot server's subnet, else 255.255.255.255). Never taken from a request.
   */
  wakeBroadcast: z.string().max(15).transform(checked(parseWakeAddress)).optional(),
  /**
   * Run dnsmasq as a child of the panel on the generated config (restarted with backoff when it
   * dies, stopped with the panel). Off: the config file is written and running dnsmasq is the operator's.
   */
  runDnsmasq: Bool.default(false),
  /** UDP port of wake-on-LAN packets (9, "discard", by convention). */
  wakePort: z.coerce.number().int().min(1).max(65535).default(9),
  /** Tests only: a pause after each session-start step, to kill the panel mid-start. */
  sessionStepDelayMs: z.coerce.number().int().min(0).max(60_000).default(0),
})
  .refine((c) => c.tidMin <= c.tidMax, { message: 'tidMin must not exceed tidMax', path: ['tidMin'] });
export type NetbootConfig = z.output<typeof NetbootConfig>;

/** The settings an operator changes in the console (stored in the database, over the config defaults). */
export const BootServerSettings = z.object({
  interface: z.string().regex(IFACE, 'an interface name such as eth0 (at most 15 characters)'),
  subnet: z.string().max(18).nullable().transform((v, ctx) => (v === null ? null : checked((x) => parseIpv4Cidr(x))(v, ctx))),
  proxyDhcp: z.boolean(),
});
