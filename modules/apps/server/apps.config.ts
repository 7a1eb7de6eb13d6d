import { z } from 'zod';
import { parseAllowEntry } from '../../../server/src/sdk.js';

const Bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])]).transform((v) =>
  typeof v === 'boolean' ? v : ['true', '1', 'yes'].includes(v),
);
const HostIdList = z.string().regex(/^[A-Za-z0-9_.,-]*$/, 'comma separated host ids');

/** SLIPWAY_APPS_* keys (field `fooBar` is read from SLIPWAY_APPS_FOO_BAR). */
export const AppsConfig = z.object({
  /** Host ids that run Dokku (comma separated); hosts with the `dokku` capability are added. */
  hosts: HostIdList.default('local'),
  /** The host an app is created on when the request names none. */
  defaultHost: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/).default('local'),
  /** The `dokku` program: a name looked up on PATH, or an absolute path. */
  dokkuBin: z.string().regex(/^(?:\/[A-Za-z0-9_.+-]+)+$|^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/, 'a program name or an absolute path').default('dokku'),
  /**
   * How remote hosts are reached: `dokku-user` logs in as `sshUser` (sshcommand forces
   * `dokku $SSH_ORIGINAL_COMMAND`); `login` uses the host's ordinary SSH login (root or a sudoer).
   */
  sshMode: z.enum(['dokku-user', 'login']).default('dokku-user'),
  sshUser: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/).default('dokku'),
  /** Run local `dokku` in its own session (`setsid`), so `builds:cancel` never signals the panel's process group. */
  localNewSession: Bool.default(true),
  /** Sent with `letsencrypt:set <app> email` before `letsencrypt:enable`. */
  letsencryptEmail: z.union([z.literal(''), z.email()]).default(''),
  /** Background inventory refresh; 0 turns it off (it still runs after every change). */
  refreshIntervalSeconds: z.coerce.number().int().min(0).max(86_400).default(120),
  refreshConcurrency: z.coerce.number().int().min(1).max(16).default(4),
  /** Let admins deploy from plain http:// git remotes. */
  allowInsecureGit: Bool.default(false),
  /**
   * Private git servers non-admins may deploy from (comma separated: `10.0.0.5`, `10.0.0.0/24`,
   * `10.0.0.5:443`); everything else private, loopback, link-local or metadata is refused for them.
   */
  gitAllow: z.string().max(4000).default('').transform((v, ctx) => {
    const list = v.split(',').map((x) => x.trim()).filter(Boolean);
    for (const e of list) if (!parseAllowEntry(e)) ctx.addIssue({ code: 'custom', message: `not an address, CIDR or address:port: ${e}` });
    return list;
  }),
  /** How often the certificate watch reads `letsencrypt:report` of every app with Let's Encrypt on (0 = only after a TLS change). */
  certCheckIntervalHours: z.coerce.number().min(0).max(24 * 7).default(24),
  /** An alert is raised this many days before a certificate expires. */
  certWarnDays: z.coerce.number().int().min(1).max(90).default(14),
  /** Deploys, rebuilds and restarts longer than this are stopped (`builds:cancel`). */
  deployTimeoutMinutes: z.coerce.number().int().min(1).max(24 * 60).default(60),
});
export type AppsConfigT = z.output<typeof AppsConfig>;
