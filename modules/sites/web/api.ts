import type { ApiBody, ApiData } from '@slipway/web';

/** UI constants of the sites pages (the API shapes below are derived from /api/docs, tag "sites"). */
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

/** API shapes, derived from the server's OpenAPI document (web/src/api/schema.d.ts): never copied by hand. */
export type SiteList = ApiData<'/api/v1/sites', 'get'>;
export type Site = SiteList['items'][number];
export type CertAlert = ApiData<'/api/v1/sites/alerts', 'get'>['items'][number];
export type CreateSiteBody = ApiBody<'/api/v1/sites', 'post'>;

export const typeLabel = (t: string) => SITE_TYPES.find((s) => s.value === t)?.label ?? t;
export const cacheLabel = (c: string | null) => CACHE_TYPES.find((s) => s.value === (c ?? 'basic'))?.label ?? c ?? '—';


