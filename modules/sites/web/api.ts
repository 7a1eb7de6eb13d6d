export { getJson, sendJson } from '@slipway/web';

/** Shapes of the sites API (see /api/docs, tag "sites"). */
export const PHP_VERSIONS = ['7.4', '8.0', '8.1', '8.2', '8.3', '8.4', '8.5'] as const;
export const SITE_TYPES = [
  { value: 'wp', label: 'WordPress', hint: 'A single WordPress site' },
  { value: 'wpsubdir', label: 'WordPress multisite (subdirectories)', hint: 'Network sites at example.com/site' },
  { value: 'wpsubdomain', label: 'WordPress multisite (subdomains)', hint: 'Network sites at site.example.com' },
  { value: 'php', label: 'PHP', hint: 'PHP without a database' },
  { value: 'mysql', label: 'PHP + MySQL', hint: 'PHP with a database and user' },
  { value: 'html', label: 'HTML', hint: 'Static files' },
  { value: 'proxy', label: 'Reverse proxy', hint: 'Forward to host:port' },
] as const;
export const CACHE_TYPES = [
  { value: 'basic', label: 'No page cache' },
  { value: 'wpfc', label: 'Nginx FastCGI cache' },
  { value: 'wpredis', label: 'Redis' },
  { value: 'wprocket', label: 'WP Rocket' },
  { value: 'wpce', label: 'Cache Enabler' },
  { value: 'wpsc', label: 'WP Super Cache' },
] as const;
export const WP_TYPES = ['wp', 'wpsubdir', 'wpsubdomain'];

export type SiteType = (typeof SITE_TYPES)[number]['value'];
export type CacheType = (typeof CACHE_TYPES)[number]['value'];

export interface Site {
  id: string;
  host: string;
  domain: string;
  type: string;
  cache: string | null;
  php: string | null;
  enabled: boolean;
  ssl: { enabled: boolean; provider: string | null; expiresAt: number | null; daysLeft: number | null; checkedAt: number | null };
  hsts: boolean | null;
  webroot: string | null;
  databaseName: string | null;
  diskBytes: number | null;
  ownerId: string | null;
  /** `pending` while its create job runs (the owner is recorded before `wo` does anything). */
  state: 'pending' | 'ready';
  refreshedAt: number;
  createdAt: number;
  updatedAt: number;
}

export interface SiteList { items: Site[]; total: number; limit: number; offset: number; refreshedAt: number | null }

export interface CertAlert {
  id: string;
  host: string;
  domain: string;
  kind: 'expiring' | 'expired' | 'renewal_failed';
  daysLeft: number | null;
  expiresAt: number | null;
  message: string;
  createdAt: number;
}

export interface JobRef { job: { id: string; title: string } }

export interface CreateSiteBody {
  domain: string;
  host: string;
  type: SiteType;
  php?: string;
  cache?: CacheType;
  letsencrypt: 'off' | 'on' | 'subdomain' | 'wildcard';
  dnsProvider?: string;
  hsts: boolean;
  adminUser?: string;
  adminEmail?: string;
  proxy?: { host: string; port: number };
}

export const typeLabel = (t: string) => SITE_TYPES.find((s) => s.value === t)?.label ?? t;
export const cacheLabel = (c: string | null) => CACHE_TYPES.find((s) => s.value === (c ?? 'basic'))?.label ?? c ?? '—';

export function sitePath(domain: string, host: string) {
  return `/api/v1/sites/${encodeURIComponent(domain)}?host=${encodeURIComponent(host)}`;
}

