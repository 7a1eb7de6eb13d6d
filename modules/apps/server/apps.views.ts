import { z } from 'zod';
import { JobSummary } from '../../../server/src/sdk.js';
import { HostId, parseAppName, type AppName } from './apps.schema.js';

/** A path parameter that must be an app name (Dokku's rule), refused with 400 before anything runs. */
export const AppNameParam = z.string().max(200).transform((v, ctx): AppName => {
  try {
    return parseAppName(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

/** Response and query shapes of the apps routes (they feed the OpenAPI document and the console). */

export const APP_STATUSES = ['running', 'stopped', 'not_deployed', 'unknown'] as const;
export const DEPLOY_OUTCOMES = ['succeeded', 'failed', 'cancelled', 'interrupted'] as const;

export const AppView = z.object({
  id: z.string(),
  host: z.string(),
  name: z.string(),
  ownerId: z.string().nullable(),
  state: z.enum(['pending', 'ready']),
  status: z.enum(APP_STATUSES),
  deploySource: z.string().describe('Dokku deploy source: docker-image, git-sync, git-push… ("" before the first deploy)'),
  image: z.string().nullable(),
  gitCommit: z.string().nullable(),
  gitRemote: z.string().nullable(),
  domains: z.array(z.string()),
  url: z.string().nullable(),
  scale: z.record(z.string(), z.number()),
  processes: z.number(),
  lastDeploy: z.object({ jobId: z.string(), outcome: z.string().nullable(), at: z.number().nullable() }).nullable(),
  refreshedAt: z.number(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type AppViewT = z.output<typeof AppView>;

export const AppList = z.object({
  items: z.array(AppView),
  total: z.number(),
  limit: z.number(),
  offset: z.number(),
  /** When the inventory was last refreshed from Dokku (null: never). */
  refreshedAt: z.number().nullable(),
});

export const ListAppsQuery = z.object({
  host: HostId.optional(),
  status: z.enum(APP_STATUSES).optional(),
  /** Only apps nobody owns yet (found on a Dokku host); a `user` never sees those. */
  ownerless: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  search: z.string().max(63).regex(/^[a-z0-9.-]*$/, 'search app names: lowercase letters, digits, dots and hyphens').optional(),
  sort: z.enum(['name', 'status', 'lastDeployAt', 'updatedAt']).default('name'),
  order: z.enum(['asc', 'desc']).default('asc'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
export type ListAppsFilters = z.output<typeof ListAppsQuery>;

export const AppParams = z.object({ name: AppNameParam });
export const HostQuery = z.object({ host: HostId.optional() });
export const ReleaseParams = z.object({ name: AppNameParam, number: z.coerce.number().int().min(1).max(1_000_000_000) });
export const PsParams = z.object({ name: AppNameParam, action: z.enum(['start', 'stop', 'restart', 'rebuild']) });

export const ReleaseView = z.object({
  number: z.number(),
  source: z.enum(['image', 'git']),
  image: z.string().nullable(),
  repo: z.string().nullable(),
  ref: z.string().nullable(),
  commit: z.string().nullable(),
  rollbackOf: z.number().nullable(),
  actor: z.object({ id: z.string().nullable(), name: z.string().nullable() }),
  configDigest: z.string().nullable(),
  durationMs: z.number().nullable(),
  outcome: z.string(),
  jobId: z.string(),
  buildId: z.string().nullable(),
  createdAt: z.number(),
  /** The release the app runs now. */
  current: z.boolean(),
});
export type ReleaseViewT = z.output<typeof ReleaseView>;

export const DeployView = z.object({
  jobId: z.string(),
  state: z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted']),
  /** 1 = next to run; null unless queued. */
  position: z.number().nullable(),
  kind: z.enum(['image', 'git', 'rollback']),
  image: z.string().nullable(),
  repo: z.string().nullable(),
  ref: z.string().nullable(),
  rollbackOf: z.number().nullable(),
  actor: z.object({ id: z.string().nullable(), name: z.string().nullable() }),
  requestedAt: z.number(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  outcome: z.string().nullable(),
  /** What Dokku's builds:list says about the build. */
  build: z.object({ id: z.string().nullable(), status: z.string().nullable() }),
  message: z.string().nullable(),
  releaseNumber: z.number().nullable(),
  job: JobSummary.nullable(),
});
export type DeployViewT = z.output<typeof DeployView>;

export const ConfigView = z.object({
  items: z.array(z.object({ key: z.string(), value: z.string().nullable().describe('null when masked'), secret: z.boolean() })),
});

export const DomainsView = z.object({ domains: z.array(z.string()) });
export const DomainsPatch = z.object({
  add: z.array(z.unknown()).max(50).optional(),
  remove: z.array(z.unknown()).max(50).optional(),
  set: z.array(z.unknown()).max(50).optional(),
}).strict();

export const LetsencryptView = z.object({ active: z.boolean(), email: z.string(), expiresAt: z.number().nullable() });
export const LetsencryptPatch = z.object({ enabled: z.boolean() }).strict();

export const ChecksView = z.object({
  disabled: z.array(z.string()),
  skipped: z.array(z.string()),
  waitToRetire: z.number().nullable(),
  computedWaitToRetire: z.number().nullable(),
});
export const ChecksPatch = z.object({
  enable: z.array(z.string().max(63)).max(20).optional(),
  disable: z.array(z.string().max(63)).max(20).optional(),
  skip: z.array(z.string().max(63)).max(20).optional(),
  waitToRetire: z.number().int().min(0).max(3600).nullable().optional(),
}).strict();

export const PortMapView = z.object({ scheme: z.string(), hostPort: z.number(), containerPort: z.number() });
export const PortsView = z.object({ map: z.array(PortMapView), detected: z.array(PortMapView) });
export const PortsPatch = z.object({
  set: z.array(z.string().max(40)).max(20).optional(),
  add: z.array(z.string().max(40)).max(20).optional(),
  remove: z.array(z.string().max(40)).max(20).optional(),
  clear: z.boolean().optional(),
}).strict();

export const BuildView = z.object({
  id: z.string(),
  kind: z.enum(['build', 'deploy']),
  /** builds:list display_status: running, succeeded, failed, canceled, abandoned… */
  status: z.string(),
  source: z.string(),
  startedAt: z.number(),
  finishedAt: z.number().nullable(),
  exitCode: z.number().nullable(),
  /** The panel deploy that started it (null: started outside the panel, or before it recorded the build). */
  jobId: z.string().nullable(),
  releaseNumber: z.number().nullable(),
});
export type BuildViewT = z.output<typeof BuildView>;
export const BuildParams = z.object({ name: AppNameParam, buildId: z.string().max(40) });
export const BuildOutputView = z.object({
  build: BuildView,
  /** Dokku's output, cleaned (no colours, last `\r` state) and with the app's secret values redacted. */
  lines: z.array(z.string()),
  /** Only the newest lines are returned. */
  truncated: z.boolean(),
});

export const CertAlertView = z.object({
  host: z.string(),
  name: z.string(),
  kind: z.enum(['expiring', 'expired']),
  daysLeft: z.number().nullable(),
  expiresAt: z.number().nullable(),
  message: z.string(),
  since: z.number(),
  checkedAt: z.number(),
});
export type CertAlertViewT = z.output<typeof CertAlertView>;

export const RefreshView = z.object({
  reports: z.array(z.object({ host: z.string(), apps: z.number(), removed: z.number(), failed: z.number(), durationMs: z.number() })),
  certificates: z.object({ checked: z.number(), alerts: z.number() }),
});

export const HostChoices = z.object({
  items: z.array(z.object({ id: z.string(), name: z.string(), kind: z.enum(['local', 'ssh']), default: z.boolean(), status: z.string() })),
});
export const OwnerChoices = z.object({ items: z.array(z.object({ id: z.string(), username: z.string(), role: z.string() })) });
export const AssignOwner = z.object({ ownerId: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'a user id') }).strict();

export const ScaleView = z.object({ processes: z.record(z.string(), z.number()) });
