import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';

/**
 * Allow-lists for every value the netboot module hands to an engine (tgtadm, qemu-storage-daemon,
 * dnsmasq, iPXE). A value is parsed once into a branded type; adapters take only branded types, so
 * nothing from a request reaches an argv, a config file or a boot script without passing here.
 */

export class NetbootInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetbootInputError';
  }
}

declare const macBrand: unique symbol;
/** A unicast, non-zero MAC in lower-case colon form (aa:bb:cc:dd:ee:ff). */
export type Mac = string & { readonly [macBrand]: true };

declare const iqnBrand: unique symbol;
/** An iSCSI qualified name (RFC 3720 3.2.6.3.1 `iqn.` form) of safe, lower-case characters. */
export type Iqn = string & { readonly [iqnBrand]: true };

declare const nameBrand: unique symbol;
/** A machine name: one lower-case DNS label (it becomes part of IQNs and file names). */
export type MachineName = string & { readonly [nameBrand]: true };

declare const ipBrand: unique symbol;
export type IpAddress = string & { readonly [ipBrand]: true };

declare const tokenBrand: unique symbol;
/** A per-machine script token: 32 random bytes, base64url (43 characters). */
export type BootToken = string & { readonly [tokenBrand]: true };

const HEX_GROUPS = [
  /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i,
  /^([0-9a-f]{2})([0-9a-f]{2})\.([0-9a-f]{2})([0-9a-f]{2})\.([0-9a-f]{2})([0-9a-f]{2})$/i, // Cisco aabb.ccdd.eeff
  /^([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i, // bare
];

/**
 * Accepts `aa:bb:cc:dd:ee:ff`, `aa-bb-cc-dd-ee-ff`, `aabb.ccdd.eeff` and `aabbccddeeff` (one
 * separator style throughout); returns the lower-case colon form. Refuses the broadcast and every
 * multicast address (I/G bit of the first octet set), and the all-zero address: none of them is a
 * machine's NIC.
 */
export function parseMac(input: unknown): Mac {
  if (typeof input !== 'string') throw new NetbootInputError('a MAC address is required');
  if (input.length > 17) throw new NetbootInputError('a MAC address is at most 17 characters');
  let m: RegExpExecArray | null = null;
  for (const re of HEX_GROUPS) if ((m = re.exec(input))) break;
  if (!m) throw new NetbootInputError('a MAC address is six hex octets such as 52:54:00:12:34:56');
  if (input.includes(':') && input.includes('-')) throw new NetbootInputError('a MAC address uses one separator');
  const octets = m.slice(1, 7).map((h) => h.toLowerCase());
  const first = parseInt(octets[0]!, 16);
  if (octets.every((o) => o === '00')) throw new NetbootInputError('the all-zero MAC address is not a machine');
  if (octets.every((o) => o === 'ff')) throw new NetbootInputError('the broadcast MAC address is not a machine');
  if (first & 1) throw new NetbootInputError('a multicast MAC address is not a machine');
  return octets.join(':') as Mac;
}

/** The hyphenated form iPXE scripts and file names use (aa-bb-cc-dd-ee-ff). */
export function macDashed(mac: Mac): string {
  return mac.replace(/:/g, '-');
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** One lower-case DNS label, 1–63 characters: it is used verbatim in IQNs, file names and scripts. */
export function parseMachineName(input: unknown): MachineName {
  if (typeof input !== 'string' || !input) throw new NetbootInputError('a machine name is required');
  if (input.length > 63) throw new NetbootInputError('a machine name is at most 63 characters');
  if (!LABEL.test(input)) throw new NetbootInputError('a machine name has lower-case letters, digits and inner hyphens only (like a host name)');
  return input as MachineName;
}

const IQN_DOMAIN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;
const IQN_UNIQUE = /^[a-z0-9](?:[a-z0-9.:-]*[a-z0-9])?$/;
const IQN_MAX = 223; // RFC 3720 3.2.6.1: at most 223 bytes

/**
 * RFC 3720 `iqn.yyyy-mm.<reversed domain>[:<unique>]`, restricted to the characters stringprep
 * leaves unchanged (lower-case ASCII letters, digits, '-', '.', ':'), at most 223 bytes. The date's
 * month is 01–12; a name never starts with '-' so it can never be read as an option.
 */
export function parseIqn(input: unknown): Iqn {
  if (typeof input !== 'string' || !input) throw new NetbootInputError('an IQN is required');
  if (input.length > IQN_MAX) throw new NetbootInputError(`an IQN is at most ${IQN_MAX} characters`);
  const m = /^iqn\.(\d{4})-(\d{2})\.([^:]+)(?::(.+))?$/.exec(input);
  if (!m) throw new NetbootInputError('an IQN looks like iqn.2026-01.com.example:name');
  const month = Number(m[2]);
  if (month < 1 || month > 12) throw new NetbootInputError('an IQN date has a month 01-12');
  if (!IQN_DOMAIN.test(m[3]!)) throw new NetbootInputError('an IQN naming authority is a reversed lower-case domain name');
  if (m[4] !== undefined && !IQN_UNIQUE.test(m[4])) throw new NetbootInputError("an IQN's unique part has lower-case letters, digits, '.', ':' and '-' only");
  return input as Iqn;
}

/** The prefix every Slipway IQN starts with (config): an IQN itself, e.g. iqn.2026-01.io.slipway:netboot. */
export function parseIqnPrefix(input: unknown): Iqn {
  const p = parseIqn(input);
  if (p.length > 150) throw new NetbootInputError('an IQN prefix is at most 150 characters (room for the machine name)');
  return p;
}

/** The target a machine boots from: `<prefix>:<name>` (names have no '.', so never an initiator IQN). */
export function targetIqn(prefix: Iqn, name: MachineName): Iqn {
  return parseIqn(`${prefix}:${name}`);
}

/** The initiator IQN the machine's iPXE announces (`set initiator-iqn`) and its ACL names. */
export function initiatorIqn(prefix: Iqn, name: MachineName): Iqn {
  return parseIqn(`${prefix}:initiator.${name}`);
}

/** A single IPv4 or IPv6 host address in canonical text (no zone, no prefix length). */
export function parseIp(input: unknown): IpAddress {
  if (typeof input !== 'string' || input.length > 45) throw new NetbootInputError('an IP address is required');
  if (isIPv4(input)) {
    const parts = input.split('.').map(Number);
    if (input.split('.').some((p) => p.length > 1 && p.startsWith('0'))) throw new NetbootInputError('an IPv4 address has no leading zeros');
    if (parts[0] === 0 || parts.every((p) => p === 255) || parts[0]! >= 224) throw new NetbootInputError('not a unicast host address');
    return input as IpAddress;
  }
  if (isIPv6(input) && !input.includes('%') && /^[0-9a-f:.]+$/i.test(input)) {
    if (/^ff/i.test(input)) throw new NetbootInputError('not a unicast host address');
    return input.toLowerCase() as IpAddress;
  }
  throw new NetbootInputError('not an IP address');
}

declare const cidrBrand: unique symbol;
/** An IPv4 network in CIDR form whose host bits are zero (10.20.0.0/24). */
export type Ipv4Cidr = string & { readonly [cidrBrand]: true };

export function parseIpv4Cidr(input: unknown): Ipv4Cidr {
  if (typeof input !== 'string' || input.length > 18) throw new NetbootInputError('an IPv4 network such as 10.20.0.0/24 is required');
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(input);
  if (!m || !isIPv4(m[1]!) || m[1]!.split('.').some((p) => p.length > 1 && p.startsWith('0'))) throw new NetbootInputError('an IPv4 network such as 10.20.0.0/24 is required');
  const bits = Number(m[2]);
  if (bits < 8 || bits > 32) throw new NetbootInputError('a network prefix length is 8-32');
  const n = m[1]!.split('.').reduce((a, p) => (a << 8) | Number(p), 0) >>> 0;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  if ((n & ~mask) >>> 0 !== 0) throw new NetbootInputError('a network address has its host bits zero');
  return input as Ipv4Cidr;
}

/** The network's address and dotted netmask (dnsmasq's dhcp-range wants them apart). */
export function cidrParts(c: Ipv4Cidr): { network: string; netmask: string; bits: number } {
  const [network, b] = c.split('/') as [string, string];
  const bits = Number(b);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { network, netmask: [24, 16, 8, 0].map((s) => (mask >>> s) & 255).join('.'), bits };
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/;
export function parseBootToken(input: unknown): BootToken {
  if (typeof input !== 'string' || !TOKEN.test(input)) throw new NetbootInputError('not a boot token');
  return input as BootToken;
}

// ---- zod forms of the same rules (request bodies, config) -----------------------------------

function brand<T>(parse: (v: unknown) => T) {
  return (v: string, ctx: z.RefinementCtx): T => {
    try {
      return parse(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  };
}

export const MacSchema = z.string().max(17).transform(brand(parseMac));
export const MachineNameSchema = z.string().max(63).transform(brand(parseMachineName));
export const IqnSchema = z.string().max(IQN_MAX).transform(brand(parseIqn));
export const IpSchema = z.string().max(45).transform(brand(parseIp));
export const Ipv4CidrSchema = z.string().max(18).transform(brand(parseIpv4Cidr));

export const BOOT_MODES = ['iscsi', 'local', 'menu'] as const;
export type BootMode = (typeof BOOT_MODES)[number];

// ---- API request and response shapes (they feed the OpenAPI document) -------------------------

const Id = z.string().min(1).max(100);
/** An image's name: shown in the console, never used in a file name. */
export const ImageNameSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lower-case letters, digits, ".", "_" and "-", 1-64 characters, starting with a letter or digit');
export const GroupSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/, 'letters, digits, space, ".", "_" and "-", 1-64 characters');
const Notes = z.string().max(2000).refine((s) => !/[\0-\x08\x0b-\x1f\x7f]/.test(s), 'no control characters');
const Comment = z.string().trim().min(1, 'a comment is required').max(500).refine((s) => !/[\0-\x1f\x7f]/.test(s), 'one line, no control characters');

export const CreateMachine = z.object({
  name: MachineNameSchema,
  mac: MacSchema,
  imageId: Id.nullable(),
  /** A pinned version of the image (rollback); null or absent: the image's latest version. */
  versionId: Id.nullable().optional(),
  bootMode: z.enum(BOOT_MODES).default('iscsi'),
  keepWriteback: z.boolean().default(false),
  /** Incoming iSCSI CHAP on the machine's target (a secret generated by the panel, given only to its tokened script). */
  chap: z.boolean().default(false),
  fixedIp: IpSchema.nullable().optional(),
  group: GroupSchema.nullable().optional(),
  notes: Notes.default(''),
}).strict();
export type CreateMachine = z.output<typeof CreateMachine>;

export const UpdateMachine = z.object({
  name: MachineNameSchema,
  mac: MacSchema,
  imageId: Id.nullable(),
  versionId: Id.nullable(),
  bootMode: z.enum(BOOT_MODES),
  keepWriteback: z.boolean(),
  chap: z.boolean(),
  fixedIp: IpSchema.nullable(),
  group: GroupSchema.nullable(),
  notes: Notes,
  /** Approve a pending machine (registered by an unknown MAC's boot). */
  state: z.literal('active'),
}).partial().strict();
export type UpdateMachine = z.output<typeof UpdateMachine>;

export const ImportMachines = z.object({
  /** Header line `name,mac[,image][,bootMode][,keepWriteback][,fixedIp][,group][,notes]`; `image` is an image name or id. */
  csv: z.string().min(1).max(1_000_000),
}).strict();

export const CommitWriteback = z.object({ comment: Comment }).strict();
export const UploadQuery = z.object({ name: ImageNameSchema, comment: Comment.optional() });

export const MACHINE_STATUSES = ['offline', 'booting', 'online'] as const;
const Ref = z.object({ id: z.string(), name: z.string() });
export const ConnectionView = z.object({ initiator: z.string(), address: z.string(), since: z.number() });
export const SessionView = z.object({
  id: z.string(), machineId: z.string(), machineName: z.string().nullable(), versionId: z.string(), state: z.enum(['starting', 'ready', 'stopping', 'stopped', 'failed']),
  tid: z.number().nullable(), targetIqn: z.string(), initiatorIqn: z.string(), jobId: z.string().nullable(), error: z.string().nullable(),
  startedAt: z.number(), readyAt: z.number().nullable(), stoppedAt: z.number().nullable(), connections: z.array(ConnectionView),
});
export const MachineView = z.object({
  id: z.string(), name: z.string(), mac: z.string(), fixedIp: z.string().nullable(), group: z.string().nullable(), state: z.enum(['pending', 'active']),
  imageId: z.string().nullable(), versionId: z.string().nullable(), effectiveVersionId: z.string().nullable(), bootMode: z.enum(BOOT_MODES), keepWriteback: z.boolean(), notes: z.string(),
  status: z.enum(MACHINE_STATUSES), connections: z.array(ConnectionView), session: SessionView.nullable(),
  lastScriptAt: z.number().nullable(), lastBootAt: z.number().nullable(),
  writeback: z.object({ bytes: z.number(), versionId: z.string().nullable() }).nullable(),
  targetIqn: z.string(), initiatorIqn: z.string(),
  /** Incoming CHAP: the user name is shown, the secret never (only the machine's tokened script carries it). */
  chap: z.object({ enabled: z.boolean(), user: z.string().nullable(), rotatedAt: z.number().nullable() }),
  /** The per-MAC script URL; its token is shown to netboot.manage only (`[redacted]` otherwise). */
  ipxeScriptUrl: z.string(),
  createdAt: z.number(), updatedAt: z.number(),
});
export type MachineView = z.output<typeof MachineView>;
export const VersionView = z.object({
  id: z.string(), number: z.number(), comment: z.string(), author: Ref.nullable(), virtualSize: z.number(), fileSize: z.number(), sha256: z.string().nullable(),
  fromMachineId: z.string().nullable(), parentVersionId: z.string().nullable(), createdAt: z.number(), latest: z.boolean(), machines: z.array(Ref), inUse: z.boolean(),
});
export const ImageView = z.object({
  id: z.string(), name: z.string(), status: z.enum(['converting', 'ready', 'failed']), error: z.string().nullable(), createdBy: Ref.nullable(),
  latestVersionId: z.string().nullable(), latestVersion: z.number().nullable(), versionCount: z.number(), sizeBytes: z.number(), virtualSize: z.number().nullable(),
  createdAt: z.number(), updatedAt: z.number(),
});
export const DiskView = z.object({ root: z.string(), freeBytes: z.number(), reserveBytes: z.number(), usableBytes: z.number() });
export const SettingsView = z.object({
  interface: z.string(), subnet: z.string().nullable(), proxyDhcp: z.boolean(),
  serverAddress: z.string(), iscsiPort: z.number(), bootBaseUrl: z.string(), entryScriptUrl: z.string(), iqnPrefix: z.string(), tidRange: z.object({ min: z.number(), max: z.number() }),
  bootFiles: z.object({ bios: z.string(), efi: z.string(), dir: z.string() }).nullable(),
  dnsmasq: z.object({ config: z.string().nullable(), path: z.string(), reason: z.string().nullable() }),
  disk: DiskView,
});
