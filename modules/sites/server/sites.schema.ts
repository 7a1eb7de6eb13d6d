import { domainToASCII } from 'node:url';
import { z } from 'zod';

/**
 * Allow-lists matching WordOps (wo/core/variables.py `wo_php_versions`, site_create.py options).
 * Nothing from a request reaches `wo`'s argv without passing through these.
 */
export const PHP_VERSIONS = ['7.4', '8.0', '8.1', '8.2', '8.3', '8.4', '8.5'] as const;
export const SITE_TYPES = ['wp', 'wpsubdir', 'wpsubdomain', 'php', 'mysql', 'html', 'proxy'] as const;
export const WP_TYPES = ['wp', 'wpsubdir', 'wpsubdomain'] as const;
/** `basic` is WordOps' "no page cache"; the rest are its --wpfc/--wpredis/--wprocket/--wpce/--wpsc. */
export const CACHE_TYPES = ['basic', 'wpfc', 'wpredis', 'wprocket', 'wpce', 'wpsc'] as const;
export const LETSENCRYPT_MODES = ['off', 'on', 'subdomain', 'wildcard'] as const;

export type PhpVersion = (typeof PHP_VERSIONS)[number];
export type SiteType = (typeof SITE_TYPES)[number];
export type CacheType = (typeof CACHE_TYPES)[number];
export type LetsEncryptMode = (typeof LETSENCRYPT_MODES)[number];

declare const domainBrand: unique symbol;
/** A domain that passed `parseDomain`: lower-case ASCII (punycode), RFC 1123 labels. */
export type Domain = string & { readonly [domainBrand]: true };

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
// Characters of Cyrillic and Greek that render like Latin letters: a label made only of them
// (e.g. "аррӏе") is a whole-script look-alike of an ASCII name.
const CONFUSABLE = /^[аеорсухіјѕԁԛԝһӏвкмнтѵаъьαβεικνορτυχϲ0-9-]+$/u;

export class DomainError extends Error {}

/**
 * RFC 1123 host name, IDN converted to punycode, no leading `-` anywhere, ≤ 253 characters, at
 * least two labels. Mixed-script labels, whole-script look-alikes, compatibility forms
 * (full-width letters…) and invisible characters are refused. A leading `www.` is dropped, as
 * WordOps does (domainvalidate.py 8-25), so the inventory key matches `wo`'s.
 */
export function parseDomain(input: string): Domain {
  if (typeof input !== 'string' || input.length === 0) throw new DomainError('a domain is required');
  if (input.length > 253) throw new DomainError('a domain is at most 253 characters');
  if (/[\p{C}\p{Z}\s/\\:@;$`'"|&<>(){}[\]*?!#%^=+,~]/u.test(input)) throw new DomainError('a domain has only letters, digits, hyphens and dots');
  if (input.normalize('NFKC') !== input) throw new DomainError('a domain must not use compatibility characters (full-width letters, ligatures…)');
  const unicodeLabels = input.toLowerCase().replace(/\.$/, '').split('.');
  for (const label of unicodeLabels) {
    // eslint-disable-next-line no-control-regex
    if (/^[\x00-\x7f]*$/.test(label)) continue;
    const scripts = ['Latin', 'Cyrillic', 'Greek', 'Armenian', 'Hebrew', 'Arabic', 'Han', 'Hiragana', 'Katakana', 'Hangul', 'Thai', 'Devanagari']
      .filter((s) => new RegExp(`\\p{Script=${s}}`, 'u').test(label));
    const latinLike = scripts.filter((s) => s === 'Latin' || s === 'Cyrillic' || s === 'Greek');
    if (latinLike.length > 1) throw new DomainError(`label "${label}" mixes scripts (a look-alike of another name)`);
    if (CONFUSABLE.test(label)) throw new DomainError(`label "${label}" looks like a Latin name (a look-alike)`);
  }
  const ascii = domainToASCII(input.toLowerCase().replace(/\.$/, ''));
  if (!ascii) throw new DomainError('not a valid domain name');
  let labels = ascii.split('.');
  if (labels[0] === 'www' && labels.length > 2) labels = labels.slice(1);
  if (labels.length < 2) throw new DomainError('a domain has at least two labels (example.com)');
  for (const l of labels) if (!LABEL.test(l)) throw new DomainError(`label "${l}" is not a valid host name label`);
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) throw new DomainError('the top-level label cannot be numeric');
  const out = labels.join('.');
  if (out.length > 253) throw new DomainError('a domain is at most 253 characters');
  return out as Domain;
}

export const DomainSchema = z.string().max(253).transform((v, ctx) => {
  try {
    return parseDomain(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

export const HostId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a host id');
/** acme.sh DNS API names (dns_cf, dns_dgon, dns_aws …). */
export const DnsProvider = z.string().regex(/^dns_[a-z0-9_]{1,30}$/, 'an acme.sh DNS API name such as dns_cf');
/** WordPress user names (site_functions.py 428-431: alphanumerics, spaces excluded here, _ - . @). */
export const WpUser = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,59}$/, 'letters, digits, _ . @ - (not starting with a symbol)');
/** The e-mail form WordOps accepts (site_functions.py 447), without a leading symbol. */
export const WpEmail = z.string().max(254).regex(/^[A-Za-z0-9][A-Za-z0-9.+_-]*@[A-Za-z0-9][A-Za-z0-9._-]*\.[A-Za-z]{2,}$/, 'an e-mail address');
/** A proxy target host: IPv4 or a host name (single labels such as `backend` allowed). */
const ProxyHost = z.string().max(253).regex(
  /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}|(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))*)$/,
  'an IPv4 address or host name',
);

export const CreateSite = z.object({
  domain: DomainSchema,
  host: HostId.default('local'),
  type: z.enum(SITE_TYPES),
  php: z.enum(PHP_VERSIONS).optional(),
  cache: z.enum(CACHE_TYPES).optional(),
  letsencrypt: z.enum(LETSENCRYPT_MODES).default('off'),
  dnsProvider: DnsProvider.optional(),
  hsts: z.boolean().default(false),
  adminUser: WpUser.optional(),
  adminEmail: WpEmail.optional(),
  proxy: z.object({ host: ProxyHost, port: z.number().int().min(1).max(65535) }).optional(),
}).strict().superRefine((v, ctx) => {
  const wp = (WP_TYPES as readonly string[]).includes(v.type);
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (v.cache && v.cache !== 'basic' && !wp) issue('cache', 'a page cache is only for WordPress sites');
  if ((v.adminUser || v.adminEmail) && !wp) issue('adminUser', 'the admin user and e-mail are only for WordPress sites');
  if (v.type === 'proxy' && !v.proxy) issue('proxy', 'a reverse proxy needs { host, port }');
  if (v.type !== 'proxy' && v.proxy) issue('proxy', 'only proxy sites take a proxy target');
  if (v.type === 'proxy' && v.php) issue('php', 'a proxy site has no PHP');
  if (v.type === 'html' && v.php) issue('php', 'an HTML site has no PHP');
  if (v.hsts && v.letsencrypt === 'off') issue('hsts', 'HSTS needs Let\'s Encrypt');
  if (v.letsencrypt === 'wildcard' && !v.dnsProvider) issue('dnsProvider', 'a wildcard certificate needs a DNS API (e.g. dns_cf)');
  if (v.dnsProvider && v.letsencrypt === 'off') issue('dnsProvider', 'a DNS API is only used with Let\'s Encrypt');
});
export type CreateSiteInput = z.output<typeof CreateSite>;

export const UpdateSite = z.object({
  host: HostId.default('local'),
  php: z.enum(PHP_VERSIONS).optional(),
  cache: z.enum(CACHE_TYPES).optional(),
  ssl: z.boolean().optional(),
  letsencrypt: z.enum(['on', 'subdomain', 'wildcard']).optional(),
  dnsProvider: DnsProvider.optional(),
  hsts: z.boolean().optional(),
  enabled: z.boolean().optional(),
  renewCertificate: z.boolean().optional(),
}).strict().refine((v) => [v.php, v.cache, v.ssl, v.hsts, v.enabled, v.renewCertificate].some((x) => x !== undefined), {
  message: 'nothing to change: give php, cache, ssl, hsts, enabled or renewCertificate',
});
export type UpdateSiteInput = z.output<typeof UpdateSite>;

export const DeleteSite = z.object({
  host: HostId.default('local'),
  /** The domain typed again: a guard against deleting the wrong site. */
  confirm: z.string().max(253),
  keepDatabase: z.boolean().default(false),
  keepFiles: z.boolean().default(false),
}).strict();
export type DeleteSiteInput = z.output<typeof DeleteSite>;

const boolQuery = z.enum(['true', 'false']).transform((v) => v === 'true');
export const ListSitesQuery = z.object({
  host: HostId.optional(),
  type: z.enum(SITE_TYPES).optional(),
  ssl: boolQuery.optional(),
  php: z.enum(PHP_VERSIONS).optional(),
  cache: z.enum(CACHE_TYPES).optional(),
  enabled: boolQuery.optional(),
  certExpiringWithinDays: z.coerce.number().int().min(0).max(3650).optional(),
  search: z.string().max(100).optional(),
  sort: z.enum(['domain', 'type', 'php', 'sslExpiresAt', 'diskBytes', 'updatedAt']).default('domain'),
  order: z.enum(['asc', 'desc']).default('asc'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
export type ListSitesFilters = z.output<typeof ListSitesQuery>;

export const SiteView = z.object({
  id: z.string(),
  host: z.string(),
  domain: z.string(),
  type: z.string(),
  cache: z.string().nullable(),
  php: z.string().nullable(),
  enabled: z.boolean(),
  ssl: z.object({
    enabled: z.boolean(),
    provider: z.string().nullable(),
    expiresAt: z.number().nullable(),
    daysLeft: z.number().nullable(),
    checkedAt: z.number().nullable(),
  }),
  hsts: z.boolean().nullable(),
  webroot: z.string().nullable(),
  databaseName: z.string().nullable(),
  diskBytes: z.number().nullable(),
  ownerId: z.string().nullable(),
  /** `pending` while its create job runs (or after a crash interrupted it, until the next refresh settles it). */
  state: z.enum(['pending', 'ready']),
  refreshedAt: z.number(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type SiteViewT = z.output<typeof SiteView>;

export const SiteList = z.object({ items: z.array(SiteView), total: z.number(), limit: z.number(), offset: z.number(), refreshedAt: z.number().nullable() });

export const CertAlert = z.object({
  id: z.string(),
  host: z.string(),
  domain: z.string(),
  kind: z.enum(['expiring', 'expired', 'renewal_failed']),
  daysLeft: z.number().nullable(),
  expiresAt: z.number().nullable(),
  message: z.string(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type CertAlertT = z.output<typeof CertAlert>;

export const DomainParams = z.object({ domain: DomainSchema });
export const HostQuery = z.object({ host: HostId.default('local') });
export const LogsQuery = z.object({
  host: HostId.default('local'),
  kind: z.enum(['access', 'error']).default('access'),
  lines: z.coerce.number().int().min(1).max(5000).default(200),
  follow: boolQuery.default(false),
});
