import { z } from 'zod';
import { parsePortRange } from './host-ports.js';

const Bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])]).transform((v) =>
  typeof v === 'boolean' ? v : ['true', '1', 'yes'].includes(v),
);
const List = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));
const HostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, 'expected [host]:port, e.g. :80 or 127.0.0.1:8080');

/** SLIPWAY_CONTAINERS_* keys. */
export const ContainersConfig = z.object({
  /** Docker Engine socket of the local host. */
  dockerSocket: z.string().default('/var/run/docker.sock'),
  /** Caddy's admin API; loopback only. */
  caddyAdminUrl: z.url({ protocol: /^http$/ }).refine((u) => /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\/?$/.test(u), 'Caddy admin API must be on loopback').default('http://127.0.0.1:2019'),
  /** Name of the Caddy server Slipway owns; nothing outside it is written. */
  caddyServer: z.string().regex(/^[a-z][a-z0-9_]{0,40}$/).default('slipway_containers'),
  /** Where visitors reach the services through Caddy (comma-separated listen addresses). */
  httpListen: z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean)).pipe(z.array(HostPort).min(1)).default([':80', ':443']),
  autoHttps: Bool.default(true),
  /** The activator's loopback listener (0 = any free port). */
  activatorPort: z.coerce.number().int().min(0).max(65535).default(8421),
  /** How long an API client's request is held while its service wakes. */
  holdTimeoutMs: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /** How often idle services are looked for and Caddy's counters read. */
  idleCheckIntervalMs: z.coerce.number().int().min(50).max(60_000).default(5_000),
  /** No longer used: activity is learnt from Caddy's connections, not an access log (issue 16). Accepted so old settings still load. */
  accessLogFile: z.string().optional(),
  /**
   * Fixed loopback ports of the services' HTTP containers (`from-to`, below Linux's ephemeral range),
   * so waking and sleeping never reload Caddy; `random` = Docker's random ports (a reload per switch).
   */
  httpPortRange: z.string().default('20000-29999').transform((v, ctx) => {
    try {
      return parsePortRange(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  }),
  /** How often each running service's CPU, memory and network are sampled for its charts (the last hour is kept in memory). */
  statsIntervalMs: z.coerce.number().int().min(1000).max(300_000).default(15_000),
  /** After a failed wake, requests get the failure for this long before a new start is tried. */
  failureBackoffMs: z.coerce.number().int().min(0).max(600_000).default(10_000),
  /**
   * Caddy >= 2.7 only: keeps WebSockets open across config reloads (reverse_proxy stream_close_delay).
   * Caddy 2.6 rejects the field and closes upgraded connections on every reload.
   */
  streamCloseDelay: z.string().regex(/^\d+(ms|s|m|h)$/).optional(),
  /** Optional: every wake and sleep is POSTed here, signed with webhookSecret (HMAC-SHA256). */
  webhookUrl: z.url({ protocol: /^https?$/ }).optional(),
  webhookSecret: z.string().min(16, 'must be at least 16 characters').optional(),

  // ---- tenant isolation (docs/SECURITY.md) ----
  /**
   * Host directories an admin may bind-mount (comma-separated absolute paths; empty = none). Only
   * admins ever name a host path; everyone else gets named volumes of their own service.
   */
  hostPathRoots: List.pipe(z.array(z.string().regex(/^\/[^\0]*$/, 'an absolute path'))).default([]),
  /** Limits every container gets unless its spec says otherwise (bounded by the MAX_* keys). */
  defaultMemoryMb: z.coerce.number().int().min(6).max(1_048_576).default(512),
  maxMemoryMb: z.coerce.number().int().min(6).max(1_048_576).default(4096),
  defaultCpus: z.coerce.number().min(0.01).max(1024).default(1),
  maxCpus: z.coerce.number().min(0.01).max(1024).default(4),
  defaultPids: z.coerce.number().int().min(16).max(4_194_304).default(512),
  maxPids: z.coerce.number().int().min(16).max(4_194_304).default(4096),
  /** Capabilities added back after dropping ALL (the defaults common images need to start as root). */
  capAdd: List.pipe(z.array(z.string().regex(/^[A-Z_]{2,32}$/, 'a capability name such as NET_BIND_SERVICE'))).default(['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'NET_BIND_SERVICE', 'SETGID', 'SETUID']),
  /** Per-user quotas (admins are not subject to them). */
  quotaServices: z.coerce.number().int().min(0).max(100_000).default(10),
  quotaMemoryMb: z.coerce.number().int().min(0).max(100_000_000).default(4096),
  quotaCpus: z.coerce.number().min(0).max(100_000).default(4),
  /** Images not yet on the host that one user may make the panel pull, per rolling hour. */
  quotaImagePullsPerHour: z.coerce.number().int().min(0).max(100_000).default(10),
})
  .refine((c) => c.defaultMemoryMb <= c.maxMemoryMb, { message: 'defaultMemoryMb must not exceed maxMemoryMb', path: ['defaultMemoryMb'] })
  .refine((c) => c.defaultCpus <= c.maxCpus, { message: 'defaultCpus must not exceed maxCpus', path: ['defaultCpus'] })
  .refine((c) => c.defaultPids <= c.maxPids, { message: 'defaultPids must not exceed maxPids', path: ['defaultPids'] })
  .refine((c) => !c.webhookUrl || !!c.webhookSecret, { message: 'webhookSecret is required with webhookUrl', path: ['webhookSecret'] });
export type ContainersConfig = z.output<typeof ContainersConfig>;
