import { z } from 'zod';

const UNIT_PATTERN = /^[A-Za-z0-9*?][A-Za-z0-9*?:_.@-]{0,127}$/;
const SOURCE_KEY = /^[a-z0-9][a-z0-9-]{0,40}$/;

/** An absolute path with no `..` segment: log files come from here, never from a request. */
const LogPath = z
  .string()
  .regex(/^\/[^\0]*$/, 'must be an absolute path')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ".."');

const PatternList = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(UNIT_PATTERN, 'a unit name or glob such as php*-fpm')).min(1));

/** A JSON object given as an env string (or as an object in the config file). */
const jsonObject = <T extends z.ZodType>(inner: T) =>
  z.union([z.string(), z.record(z.string(), z.unknown())]).transform((v, ctx) => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object' });
      return z.NEVER;
    }
  }).pipe(inner);

export const DEFAULT_SERVICE_ALLOWLIST = 'nginx,php*-fpm,mariadb,mysql,redis-server,docker,libvirtd,tgt,caddy,netdata,ssh,fail2ban';

export const DEFAULT_LOG_SOURCES: Record<string, { title: string; path: string }> = {
  'nginx-access': { title: 'nginx access log', path: '/var/log/nginx/access.log' },
  'nginx-error': { title: 'nginx error log', path: '/var/log/nginx/error.log' },
  'php-fpm': { title: 'PHP-FPM log', path: '/var/log/php8.2-fpm.log' },
  mariadb: { title: 'MariaDB error log', path: '/var/log/mysql/error.log' },
  syslog: { title: 'System log (syslog)', path: '/var/log/syslog' },
  auth: { title: 'Authentication log', path: '/var/log/auth.log' },
};

/** SLIPWAY_SERVER_* settings. */
export const ServerConfig = z.object({
  /** How often each host is sampled. */
  sampleIntervalMs: z.coerce.number().int().min(200).max(60_000).default(5000),
  /** Days of 1-minute averages kept in the database. */
  retentionDays: z.coerce.number().int().min(1).max(90).default(7),
  alertDiskPercent: z.coerce.number().min(0).max(100).default(90),
  alertMemoryPercent: z.coerce.number().min(0).max(100).default(90),
  alertLoadMinutes: z.coerce.number().min(0).max(1440).default(5),
  /** The local Netdata agent. */
  netdataUrl: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:19999'),
  /** systemd units operators may see and act on, comma separated; `*` and `?` globs. */
  serviceAllowlist: PatternList.default(DEFAULT_SERVICE_ALLOWLIST.split(',')),
  /** Per host name, replacing the default list: `{"web1":"nginx,php*-fpm"}`. */
  serviceAllowlistByHost: jsonObject(z.record(z.string(), PatternList)).optional(),
  /** Extra or changed log files: `{"myapp":"/var/log/myapp.log"}`; an empty path removes a default. */
  logSources: jsonObject(z.record(z.string().regex(SOURCE_KEY, 'source ids are lower-case letters, digits and -'), z.union([z.literal(''), LogPath]))).optional(),
  /** The panel's own log (it logs JSON lines to stdout; point this at where they are kept). */
  panelLogFile: LogPath.optional(),
  logTailMaxLines: z.coerce.number().int().min(10).max(100_000).default(5000),
  /** Per follower: more unsent lines than this and the oldest are skipped (with a marker). */
  logClientQueueLines: z.coerce.number().int().min(100).max(1_000_000).default(10_000),
});
export type ServerConfig = z.output<typeof ServerConfig>;

export function fileLogSources(c: ServerConfig): { id: string; title: string; path: string }[] {
  const map = new Map(Object.entries(DEFAULT_LOG_SOURCES).map(([id, s]) => [id, { id, ...s }]));
  for (const [id, p] of Object.entries(c.logSources ?? {})) {
    if (p === '') map.delete(id);
    else map.set(id, { id, title: map.get(id)?.title ?? id, path: p });
  }
  if (c.panelLogFile) map.set('panel', { id: 'panel', title: 'Slipway panel log', path: c.panelLogFile });
  return [...map.values()];
}
