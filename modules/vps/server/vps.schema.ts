import { z } from 'zod';

/** Request and response shapes of the VPS API (the console pages build on these). */

const Name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$/, '1-63 letters, digits, spaces, . _ -');
export const Hostname = z.string().min(1).max(63).regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'lowercase letters, digits and hyphens, not starting or ending with a hyphen');
export const Id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

export const PlanInput = z.object({
  name: Name,
  vcpus: z.number().int().min(1).max(64),
  memoryMb: z.number().int().min(128).max(1024 * 1024),
  diskGb: z.number().int().min(1).max(64 * 1024),
  bandwidthGb: z.number().int().min(0).max(10_000_000).default(0),
  maxSnapshots: z.number().int().min(0).max(100).default(3),
  priceLabel: z.string().max(60).regex(/^[^\u0000-\u001f\u007f]*$/).optional(),
  /** Users may create only from public plans. */
  public: z.boolean().default(true),
}).strict();
export type PlanInput = z.output<typeof PlanInput>;

export const PlanView = z.object({
  id: z.string(), name: z.string(), vcpus: z.number(), memoryMb: z.number(), diskGb: z.number(), bandwidthGb: z.number(),
  maxSnapshots: z.number(), priceLabel: z.string().nullable(), public: z.boolean(), createdAt: z.number(), updatedAt: z.number(),
});
export type PlanView = z.infer<typeof PlanView>;

export const QuotaInput = z.object({
  maxCount: z.number().int().min(0).max(100_000),
  maxVcpus: z.number().int().min(0).max(100_000),
  maxMemoryMb: z.number().int().min(0).max(100_000_000),
  maxDiskGb: z.number().int().min(0).max(100_000_000),
}).strict();
export type QuotaInput = z.output<typeof QuotaInput>;
export const QuotaView = QuotaInput.extend({
  userId: z.string(),
  /** false: the config defaults apply. */
  custom: z.boolean(),
  used: z.object({ count: z.number(), vcpus: z.number(), memoryMb: z.number(), diskGb: z.number() }),
});
export type QuotaView = z.infer<typeof QuotaView>;

export const ImageQuery = z.object({
  name: Name,
  os: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,31}$/).optional(),
  version: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/).optional(),
  minDiskGb: z.coerce.number().int().min(1).max(64 * 1024).default(1),
  cloudInit: z.enum(['true', 'false']).default('true'),
  public: z.enum(['true', 'false']).default('true'),
  /** Direct kernel boot: file names in <storageRoot>/kernels/ (no paths). */
  kernel: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/).optional(),
  initrd: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/).optional(),
  cmdline: z.string().regex(/^[\x20-\x7e]{0,512}$/).optional(),
});
export type ImageQuery = z.output<typeof ImageQuery>;

export const IMAGE_STATUSES = ['uploading', 'converting', 'ready', 'failed'] as const;
export const ImageView = z.object({
  id: z.string(), name: z.string(), status: z.enum(IMAGE_STATUSES), reason: z.string().nullable(), os: z.string().nullable(), version: z.string().nullable(),
  minDiskGb: z.number(), cloudInit: z.boolean(), public: z.boolean(), sourceFormat: z.string().nullable(), sha256: z.string().nullable(),
  sizeBytes: z.number().nullable(), virtualSize: z.number().nullable(), directKernel: z.boolean(), createdAt: z.number(), updatedAt: z.number(),
});
export type ImageView = z.infer<typeof ImageView>;

export const CreateVps = z.object({
  hostname: Hostname,
  planId: Id,
  imageId: Id,
  /** Ids of the owner's saved SSH keys (GET /api/v1/auth/ssh-keys). */
  sshKeyIds: z.array(Id).max(32).default([]),
  /** Full #cloud-config YAML, validated before use. */
  userData: z.string().max(64 * 1024).optional(),
  network: z.enum(['public', 'private']).default('public'),
  /** A DNS name for the VPS (claimed for the owner across the panel). */
  dnsName: z.string().min(3).max(253).optional(),
  expiresAt: z.number().int().positive().optional(),
  start: z.boolean().default(true),
  /** Staff only: create for this user. */
  ownerId: Id.optional(),
}).strict();
export type CreateVps = z.output<typeof CreateVps>;

export const VPS_STATES = ['creating', 'running', 'paused', 'in shutdown', 'shut off', 'crashed', 'pmsuspended', 'deleting', 'failed', 'unknown'] as const;
export const ExpiryView = z.object({
  expiresAt: z.number(), notifyDays: z.number(), graceDays: z.number(), onExpiry: z.enum(['shutdown', 'suspend']),
  phase: z.enum(['active', 'notified', 'expired']), notifiedAt: z.number().nullable(), expiredAt: z.number().nullable(), deleteAt: z.number(), lastError: z.string().nullable(),
});
export const VpsView = z.object({
  id: z.string(),
  ownerId: z.string(),
  hostname: z.string(),
  dnsName: z.string().nullable(),
  /** The libvirt domain name (`slw-<id>`). */
  domainName: z.string(),
  planId: z.string().nullable(),
  imageId: z.string(),
  vcpus: z.number(),
  memoryMb: z.number(),
  diskGb: z.number(),
  network: z.enum(['public', 'private']),
  address: z.string().nullable(),
  mac: z.string(),
  state: z.enum(VPS_STATES),
  lastError: z.string().nullable(),
  expiry: ExpiryView.nullable(),
  /** Staff only (null for the user role: tenants never see host details). */
  hostId: z.string().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type VpsView = z.infer<typeof VpsView>;

export const VPS_ACTIONS = ['start', 'shutdown', 'poweroff', 'reboot', 'reset', 'suspend', 'resume'] as const;
export type VpsAction = (typeof VPS_ACTIONS)[number];

export const DeleteVps = z.object({ confirm: z.string().max(253) }).strict();
export const SnapshotInput = z.object({ comment: z.string().max(500).regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters').default('') }).strict();
export const SnapshotView = z.object({ id: z.string(), name: z.string(), comment: z.string(), createdAt: z.number() });
export type SnapshotView = z.infer<typeof SnapshotView>;
export const ExpiryInput = z.object({
  expiresAt: z.number().int().positive(),
  notifyDays: z.number().int().min(0).max(365).optional(),
  graceDays: z.number().int().min(0).max(365).optional(),
  onExpiry: z.enum(['shutdown', 'suspend']).optional(),
}).strict();
export const RenewInput = z.object({ expiresAt: z.number().int().positive() }).strict();

export const UnmanagedDomain = z.object({ hostId: z.string(), name: z.string(), state: z.string(), managed: z.literal(false) });
export const HostCapacityView = z.object({
  hostId: z.string(), name: z.string(), cpus: z.number(), memoryMb: z.number(), diskGb: z.number(),
  allocated: z.object({ vcpus: z.number(), memoryMb: z.number(), diskGb: z.number() }),
  free: z.object({ vcpus: z.number(), memoryMb: z.number(), diskGb: z.number() }),
  accel: z.string().nullable(),
});

// ---- usage graphs
export const METRIC_RANGE_NAMES = ['1h', '6h', '24h', '7d', '30d'] as const;
export const MetricsQuery = z.object({ range: z.enum(METRIC_RANGE_NAMES).default('1h') }).strict();
export const MetricPointView = z.object({
  at: z.number(), cpuPct: z.number(), memoryUsedMb: z.number(), memoryMb: z.number(),
  diskReadBps: z.number(), diskWriteBps: z.number(), netRxBps: z.number(), netTxBps: z.number(),
});
export const VpsMetricsView = z.object({
  range: z.enum(METRIC_RANGE_NAMES),
  /** Points are this far apart at most (averaged when the range holds more than 360 samples). */
  stepMs: z.number(),
  sampleIntervalMs: z.number(),
  points: z.array(MetricPointView),
  /** Bytes in + out this calendar month (UTC), against the plan's allowance (null: unlimited). */
  bandwidth: z.object({ month: z.string(), rxBytes: z.number(), txBytes: z.number(), usedBytes: z.number(), limitBytes: z.number().nullable(), overLimit: z.boolean() }),
});
export type VpsMetricsView = z.infer<typeof VpsMetricsView>;

// ---- resize, rename, reinstall
/** A plan (the user role), or custom sizes (staff). CPU and memory change while shut off; the disk only grows. */
export const ResizeVps = z.object({
  planId: Id.optional(),
  vcpus: z.number().int().min(1).max(64).optional(),
  memoryMb: z.number().int().min(128).max(1024 * 1024).optional(),
  diskGb: z.number().int().min(1).max(64 * 1024).optional(),
}).strict().refine((b) => b.planId !== undefined || b.vcpus !== undefined || b.memoryMb !== undefined || b.diskGb !== undefined, 'give a planId or at least one of vcpus, memoryMb, diskGb')
  .refine((b) => b.planId === undefined || (b.vcpus === undefined && b.memoryMb === undefined && b.diskGb === undefined), 'a planId or custom sizes, not both');
export type ResizeVps = z.output<typeof ResizeVps>;
export const RenameVps = z.object({ hostname: Hostname }).strict();
export const ReinstallVps = z.object({
  imageId: Id,
  /** The VPS's current hostname, typed: everything on its disk is erased. */
  confirm: z.string().max(253),
  sshKeyIds: z.array(Id).max(32).optional(),
  userData: z.string().max(64 * 1024).optional(),
}).strict();
export type ReinstallVps = z.output<typeof ReinstallVps>;
