import { z } from 'zod';
import { parseAllowEntry } from '../../../server/src/sdk.js';

/** The sites module's settings: `sites` in the config file, or SLIPWAY_SITES_* (field `woBin` → SLIPWAY_SITES_WO_BIN). */
export const SitesConfig = z.object({
  /** The `wo` program name on each host. */
  woBin: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/).default('wo'),
  /** A directory put first on PATH when running `wo` (WordOps installs it in /usr/local/bin). */
  woDir: z.string().regex(/^\/[A-Za-z0-9_.+/-]*$/).default('/usr/local/bin'),
  /** Where WordOps keeps live certificates (WOVar.wo_ssl_live). */
  certDir: z.string().regex(/^\/[A-Za-z0-9_.+/-]+$/).default('/etc/letsencrypt/live'),
  /**
   * Where nginx writes each site's logs: `<dir>/<domain>.access.log` and `.error.log`
   * (WordOps' templates/virtualconf.mustache 16-17). Logs are read here, never through the webroot.
   */
  nginxLogDir: z.string().regex(/^\/[A-Za-z0-9_.+/-]+$/).refine((p) => !p.split('/').includes('..'), 'no ".."').default('/var/log/nginx'),
  /** Host ids that run WordOps (comma separated); hosts with the `wordops` capability are added. */
  hosts: z.string().regex(/^[A-Za-z0-9_.,-]*$/).default('local'),
  /** Background inventory refresh (`wo site list` + `wo site info`); 0 turns it off. */
  refreshIntervalSeconds: z.coerce.number().int().min(0).max(86_400).default(300),
  /** Certificate and disk-use check; daily by default. */
  certCheckIntervalHours: z.coerce.number().min(0).max(24 * 7).default(24),
  certWarnDays: z.coerce.number().int().min(1).max(90).default(14),
  refreshConcurrency: z.coerce.number().int().min(1).max(32).default(4),
  /**
   * Backends non-admins may put behind a proxy site although they are private (comma separated:
   * `10.0.0.5`, `10.0.0.0/24`, `10.0.0.5:8080`). Everything else private, loopback, link-local or
   * metadata is refused for them (admins are not restricted).
   */
  proxyAllow: z.string().max(4000).default('').transform((v, ctx) => {
    const list = v.split(',').map((x) => x.trim()).filter(Boolean);
    for (const e of list) if (!parseAllowEntry(e)) ctx.addIssue({ code: 'custom', message: `not an address, CIDR or address:port: ${e}` });
    return list;
  }),
});
export type SitesConfigT = z.output<typeof SitesConfig>;
