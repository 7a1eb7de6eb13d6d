import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * Panel configuration from SLIPWAY_* environment variables, optionally layered over a JSON
 * config file (SLIPWAY_CONFIG). Every bad key is reported at once.
 */
const ListenAddress = z
  .string()
  .regex(/^((\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}|unix:\/[A-Za-z0-9._/-]+)$/, 'expected host:port (e.g. 127.0.0.1:8420) or unix:/absolute/path.sock')
  .refine((v) => v.startsWith('unix:') || !/:\d+$/.test(v) || Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'port must be <= 65535')
  .refine((v) => !v.startsWith('unix:') || !v.split('/').includes('..'), 'the socket path must not contain ..');

const Bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])]).transform((v) =>
  typeof v === 'boolean' ? v : ['true', '1', 'yes'].includes(v),
);

export const CoreConfig = z.object({
  dataDir: z.string().min(1).default('./data'),
  listen: ListenAddress.default('127.0.0.1:8420'),
  databaseUrl: z
    .string()
    .regex(/^(postgres(ql)?:\/\/|sqlite:|file:|\/|\.)/, 'expected postgres://… or a SQLite file path')
    .optional(),
  publicUrl: z.url({ protocol: /^https?$/ }).optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Bearer token for /metrics; without it /metrics only answers loopback callers. */
  metricsToken: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Behind a reverse proxy: trust X-Forwarded-For from these addresses. */
  trustProxy: z.string().optional(),
  /** Marks cookies Secure; defaults to true when publicUrl is https. */
  secureCookies: Bool.optional(),
  accessTokenTtlSeconds: z.coerce.number().int().min(60).max(3600).default(900),
  refreshTokenTtlDays: z.coerce.number().int().min(1).max(90).default(14),
  jobWorkers: z.coerce.number().int().min(1).max(64).default(4),
  webDir: z.string().optional(),
  /** Enabled modules, comma separated (default: all of them). */
  modules: z.string().regex(/^[a-z0-9, ]*$/, 'expected module ids separated by commas, e.g. sites,server').transform((v) => v.split(',').map((x) => x.trim()).filter(Boolean)).optional(),
  /** How often a module whose engine is missing probes it again. */
  engineRetryMs: z.coerce.number().int().min(50).max(3_600_000).default(10_000),
  /** How often the engines of ready modules are checked again. */
  engineRecheckMs: z.coerce.number().int().min(50).max(86_400_000).default(60_000),
  /** How long one engine probe may take. */
  engineProbeTimeoutMs: z.coerce.number().int().min(50).max(60_000).default(2_000),
  /** Replicas (PostgreSQL): a job whose runner stops renewing its lease this long is taken over by another replica. */
  jobLeaseMs: z.coerce.number().int().min(1_000).max(600_000).default(30_000),
  /** Replicas: how often each panel process beats its row in cluster_replicas (GET /api/v1/cluster). */
  clusterHeartbeatMs: z.coerce.number().int().min(200).max(60_000).default(5_000),
  /** Replicas: the address this process is reached at, shown in GET /api/v1/cluster (default: SLIPWAY_LISTEN). */
  replicaAddress: z.string().min(1).max(200).optional(),
});
export type CoreConfig = z.output<typeof CoreConfig>;

export interface LoadedConfig {
  core: CoreConfig;
  /** Raw env-derived values per module id (SLIPWAY_<MODULE>_<KEY>), validated by each module. */
  moduleRaw: Record<string, Record<string, string>>;
  file?: Record<string, unknown>;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const CORE_ENV: Record<string, keyof CoreConfig> = {
  SLIPWAY_DATA_DIR: 'dataDir',
  SLIPWAY_LISTEN: 'listen',
  SLIPWAY_DATABASE_URL: 'databaseUrl',
  SLIPWAY_PUBLIC_URL: 'publicUrl',
  SLIPWAY_LOG_LEVEL: 'logLevel',
  SLIPWAY_METRICS_TOKEN: 'metricsToken',
  SLIPWAY_TRUST_PROXY: 'trustProxy',
  SLIPWAY_SECURE_COOKIES: 'secureCookies',
  SLIPWAY_ACCESS_TOKEN_TTL_SECONDS: 'accessTokenTtlSeconds',
  SLIPWAY_REFRESH_TOKEN_TTL_DAYS: 'refreshTokenTtlDays',
  SLIPWAY_JOB_WORKERS: 'jobWorkers',
  SLIPWAY_WEB_DIR: 'webDir',
  SLIPWAY_MODULES: 'modules',
  SLIPWAY_ENGINE_RETRY_MS: 'engineRetryMs',
  SLIPWAY_ENGINE_RECHECK_MS: 'engineRecheckMs',
  SLIPWAY_ENGINE_PROBE_TIMEOUT_MS: 'engineProbeTimeoutMs',
  SLIPWAY_JOB_LEASE_MS: 'jobLeaseMs',
  SLIPWAY_CLUSTER_HEARTBEAT_MS: 'clusterHeartbeatMs',
  SLIPWAY_REPLICA_ADDRESS: 'replicaAddress',
};
const NON_CONFIG_ENV = new Set(['SLIPWAY_CONFIG']);
/** Variables of the test and benchmark tooling, not panel settings. */
const TOOLING_ENV = /^SLIPWAY_(TEST|E2E|BENCH)_/;

export function envKeyFor(field: string): string {
  return Object.entries(CORE_ENV).find(([, v]) => v === field)?.[0] ?? field;
}

/** Converts a module config key (camelCase) to its env name: SLIPWAY_<MODULE>_<KEY>. */
export function moduleEnvKey(moduleId: string, key: string): string {
  return `SLIPWAY_${moduleId.toUpperCase()}_${key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, moduleIds: string[] = []): LoadedConfig {
  const problems: string[] = [];
  let file: Record<string, unknown> = {};
  const configPath = env.SLIPWAY_CONFIG;
  if (configPath) {
    if (!existsSync(configPath)) problems.push(`SLIPWAY_CONFIG: file ${configPath} does not exist`);
    else {
      try {
        file = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
      } catch (e) {
        problems.push(`SLIPWAY_CONFIG: ${configPath} is not valid JSON (${(e as Error).message})`);
      }
    }
  }
  const raw: Record<string, unknown> = { ...(file.core as object | undefined) };
  const moduleRaw: Record<string, Record<string, string>> = {};
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith('SLIPWAY_') || value === undefined || NON_CONFIG_ENV.has(key) || TOOLING_ENV.test(key)) continue;
    const field = CORE_ENV[key];
    if (field) {
      raw[field] = value;
      continue;
    }
    const moduleId = moduleIds.find((id) => key.startsWith(`SLIPWAY_${id.toUpperCase()}_`));
    if (moduleId) (moduleRaw[moduleId] ??= {})[key] = value;
    else problems.push(`${key}: unknown setting`);
  }
  const parsed = CoreConfig.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${envKeyFor(String(issue.path[0]))}: ${issue.message}`);
  }
  if (parsed.success && parsed.data.modules && moduleIds.length) {
    const unknown = parsed.data.modules.filter((id) => !moduleIds.includes(id));
    if (unknown.length) problems.push(`SLIPWAY_MODULES: unknown module${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; valid ids: ${moduleIds.join(', ')}`);
  }
  if (problems.length) throw new ConfigError(problems);
  const core = parsed.data!;
  core.dataDir = path.resolve(core.dataDir);
  return { core, moduleRaw, file };
}

/** `unix:/run/slipway/slipway.sock` → the socket path; undefined for host:port. */
export function unixSocketPath(listen: string): string | undefined {
  return listen.startsWith('unix:') ? listen.slice('unix:'.length) : undefined;
}

/**
 * Fastify's trustProxy. On a unix socket the peer has no address: only the proxy, which the
 * socket's mode and group admit, can connect, so with SLIPWAY_TRUST_PROXY set (to `unix`) exactly
 * one hop, the socket peer, is trusted and the client address is the last X-Forwarded-For entry.
 */
export function fastifyTrustProxy(core: Pick<CoreConfig, 'listen' | 'trustProxy'>): string | false | ((address: string, hop: number) => boolean) {
  if (!core.trustProxy) return false;
  // The socket peer has no address (hop 0, undefined); nothing past it is trusted.
  return unixSocketPath(core.listen) ? (address, hop) => hop === 0 && !address : core.trustProxy;
}

export function listenParts(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(listen.slice(i + 1)) };
}
