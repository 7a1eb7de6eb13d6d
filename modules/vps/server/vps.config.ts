import { z } from 'zod';

const Ratio = z.coerce.number().min(0.1).max(64);
const AbsPath = z.string().regex(/^\/[A-Za-z0-9._/-]+$/, 'an absolute path of letters, digits, . _ / -').refine((p) => !p.split('/').some((s) => s === '..' || s === '.' || s.startsWith('-')), 'no . or .. segments');
const NetName = z.string().regex(/^slipway-[a-z0-9-]{1,7}$/, 'slipway-… with at most 15 characters');
const Cidr24 = z.string().regex(/^10\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.0\/24$/, 'a 10.x.y.0/24 network');
const Cidr16 = z.string().regex(/^10\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.0\.0\/16$/, 'a 10.x.0.0/16 network');

/** SLIPWAY_VPS_* keys. */
export const VpsConfig = z.object({
  /** libvirt connection of every VPS host (locally, or the same URI over the host's SSH runner). */
  libvirtUri: z.string().regex(/^(qemu|test):\/\/\/(system|session|default)$/).default('qemu:///system'),
  /**
   * The platform hosts VPSes are placed on, comma-separated host ids (`local` = this machine on
   * qemu:///system; others run the same virsh/qemu-img/genisoimage commands over their SSH runner).
   */
  hosts: z.string().regex(/^[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*$/).default('local').transform((s) => [...new Set(s.split(','))]),
  /** images/, disks/, seeds/ and kernels/ live here (must be traversable by libvirt's QEMU user). */
  storageRoot: AbsPath.default('/var/lib/libvirt/images/slipway'),
  /** Over-allocation ratios for placement (vCPU per core, memory, disk). */
  cpuRatio: Ratio.default(4),
  memoryRatio: Ratio.default(1),
  diskRatio: Ratio.default(1),
  /** Capacity overrides per host (0 = read from `virsh nodeinfo` and the storage root's free space). */
  hostCpus: z.coerce.number().int().min(0).max(4096).default(0),
  hostMemoryMb: z.coerce.number().int().min(0).max(64 * 1024 * 1024).default(0),
  hostDiskGb: z.coerce.number().int().min(0).max(1024 * 1024).default(0),
  /** Largest image upload. */
  maxUploadBytes: z.coerce.number().int().min(1024 * 1024).max(1024 ** 4).default(20 * 1024 ** 3),
  /** A console session with no traffic either way is closed after this long. */
  consoleIdleTimeoutMs: z.coerce.number().int().min(1000).max(24 * 3_600_000).default(15 * 60_000),
  /** How often expiry policies are swept (0 = off). */
  expirySweepIntervalMs: z.coerce.number().int().min(0).max(24 * 3_600_000).default(60_000),
  /** A full `virsh list --all` per host this often, besides the event stream (0 = off). */
  inventoryRefreshMs: z.coerce.number().int().min(0).max(3_600_000).default(60_000),
  /** Usage graphs: one `virsh domstats` per host this often (0 = off), points kept this many days. */
  metricsIntervalMs: z.coerce.number().int().min(0).max(3_600_000).default(60_000),
  metricsRetentionDays: z.coerce.number().int().min(1).max(3650).default(31),
  /** ACPI shutdown waits this long before forcing the domain off. */
  shutdownTimeoutMs: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
  /** Wait for `running` after start. */
  startTimeoutMs: z.coerce.number().int().min(1000).max(600_000).default(60_000),
  /** The public network (NAT) every VPS joins unless private-only, and its subnet. */
  publicNetwork: NetName.default('slipway-pub'),
  publicSubnet: Cidr24.default('10.230.0.0/24'),
  /** Private networks per owner are /24s carved out of this /16. */
  privateSubnets: Cidr16.default('10.231.0.0/16'),
  /** Default quotas of a user without their own (admins and operators are not subject). */
  quotaCount: z.coerce.number().int().min(0).max(100_000).default(5),
  quotaVcpus: z.coerce.number().int().min(0).max(100_000).default(8),
  quotaMemoryMb: z.coerce.number().int().min(0).max(100_000_000).default(16_384),
  quotaDiskGb: z.coerce.number().int().min(0).max(100_000_000).default(200),
  /** Expiry defaults. */
  expiryNotifyDays: z.coerce.number().int().min(0).max(365).default(3),
  expiryGraceDays: z.coerce.number().int().min(0).max(365).default(7),
  expiryAction: z.enum(['shutdown', 'suspend']).default('shutdown'),
});
export type VpsConfig = z.output<typeof VpsConfig>;
