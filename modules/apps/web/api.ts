import { ApiError, domainNameProblem, fieldName, issuesOf, type ApiData } from '@slipway/web';

/** Shapes of the apps API, derived from the OpenAPI document (web/src/api/schema.d.ts; /api/docs, tag "apps"). */
export type AppList = ApiData<'/api/v1/apps', 'get'>;
export type App = ApiData<'/api/v1/apps/{name}', 'get'>['app'];
export type AppStatus = App['status'];
export type Deploy = ApiData<'/api/v1/apps/{name}/deploys', 'get'>['items'][number];
export type DeployState = Deploy['state'];
export type Actor = Deploy['actor'];
export type JobSummary = NonNullable<Deploy['job']>;
export type Release = ApiData<'/api/v1/apps/{name}/releases', 'get'>['items'][number];
export type ConfigItem = ApiData<'/api/v1/apps/{name}/config', 'get'>['items'][number];
export type Letsencrypt = ApiData<'/api/v1/apps/{name}/letsencrypt', 'get'>;
export type Checks = ApiData<'/api/v1/apps/{name}/checks', 'get'>;
export type Ports = ApiData<'/api/v1/apps/{name}/ports', 'get'>;
export type PortMap = Ports['map'][number];
export type Build = ApiData<'/api/v1/apps/{name}/builds', 'get'>['items'][number];
export type CertAlert = ApiData<'/api/v1/apps/-/alerts', 'get'>['items'][number];
export type DokkuHost = ApiData<'/api/v1/apps/-/hosts', 'get'>['items'][number];
export type OwnerChoice = ApiData<'/api/v1/apps/-/owners', 'get'>['items'][number];

/** The path and query parameters of one app's routes (`?host=` only when the app is not on the default host). */
export const appParams = (name: string, host: string | undefined): { path: { name: string }; query: { host?: string } } =>
  ({ path: { name }, query: host && host !== 'local' ? { host } : {} });

export const APP_STATUSES: { value: AppStatus; label: string; color: string }[] = [
  { value: 'running', label: 'running', color: 'green' },
  { value: 'stopped', label: 'stopped', color: 'gray' },
  { value: 'not_deployed', label: 'not deployed', color: 'yellow' },
  { value: 'unknown', label: 'unknown', color: 'orange' },
];

export const statusLabel = (s: string) => APP_STATUSES.find((x) => x.value === s)?.label ?? s;

/** Where an app was deployed from, in words. */
export function sourceLabel(a: Pick<App, 'deploySource' | 'image' | 'gitCommit' | 'gitRemote'>): string {
  if (!a.deploySource) return '—';
  if (a.deploySource === 'docker-image') return a.image ?? 'a Docker image';
  if (a.gitCommit) return `${a.gitRemote ? `${a.gitRemote.replace(/^https?:\/\//, '')} @ ` : ''}${a.gitCommit.slice(0, 10)}`;
  return a.image ?? a.deploySource;
}

export function deploySourceLabel(d: Pick<Deploy, 'kind' | 'image' | 'repo' | 'ref' | 'rollbackOf'> | Pick<Release, 'source' | 'image' | 'repo' | 'ref' | 'commit'>): string {
  const git = (repo: string | null, ref: string | null) => `${(repo ?? '').replace(/^https?:\/\//, '')}${ref ? ` @ ${/^[0-9a-f]{40,64}$/.test(ref) ? ref.slice(0, 10) : ref}` : ''}`;
  if ('kind' in d) {
    const what = d.image ?? git(d.repo, d.ref);
    return d.kind === 'rollback' ? `rollback to #${d.rollbackOf}: ${what}` : what;
  }
  return d.source === 'image' ? (d.image ?? '—') : git(d.repo, d.commit ?? d.ref);
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

// ---- the server's input rules, repeated so the forms say what is wrong before sending ----------

/** plugins/common/common.go IsValidAppName, at most 63 (apps.schema.ts parseAppName). */
export const APP_NAME_RE = /^[a-z0-9][a-z0-9.-]*$/;
export function appNameProblem(v: string): string | null {
  if (!v) return 'Enter a name';
  if (v.length > 63) return 'At most 63 characters';
  if (APP_NAME_RE.test(v)) return null;
  if (/^[.-]/.test(v)) return 'Must start with a letter or digit';
  if (/[A-Z]/.test(v)) return 'No capital letters: Dokku app names are lowercase';
  const bad = [...v].find((c) => !/[a-z0-9.-]/.test(c))!;
  return `${/\s/.test(bad) ? 'Spaces are' : `"${bad}" is`} not allowed: only a-z, 0-9, dots and hyphens`;
}

// Docker's reference grammar (apps.schema.ts parseImageRef).
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const IMAGE_RE = new RegExp(`^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`);
export function imageProblem(v: string): string | null {
  if (!v) return 'Enter an image';
  if (v.length > 512) return 'At most 512 characters';
  if (!IMAGE_RE.test(v)) return 'A Docker image reference: registry/name:tag or name@sha256:…';
  return null;
}

export function repoProblem(v: string): string | null {
  if (!v) return 'Enter a repository URL';
  if (!/^https?:\/\/[^/?#@\s]+\/[^?#\s]+$/.test(v)) return 'An https:// repository URL without credentials, query or fragment';
  return null;
}

/** `git check-ref-format`, narrowed as the server does (parseGitRef). */
export function refProblem(v: string): string | null {
  if (!v) return 'Enter a branch, tag or commit';
  if (v.length > 255) return 'At most 255 characters';
  if (/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(v)) return null;
  if (!/^[A-Za-z0-9._/-]+$/.test(v)) return 'Only letters, digits and . _ / -';
  if (v.startsWith('-')) return 'Must not start with "-"';
  if (v.startsWith('/') || v.endsWith('/') || v.includes('//') || v.includes('..') || v.endsWith('.') || v.split('/').some((c) => c.startsWith('.') || c.endsWith('.lock'))) return 'Not a valid git ref';
  return null;
}

/** plugins/config/config.go validateKey; DOKKU_* and GIT_REV belong to Dokku (parseEnvKey). */
export function envKeyProblem(v: string): string | null {
  if (!v) return 'Enter a name';
  if (v.length > 128 || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(v)) return 'Letters, digits and _, not starting with a digit';
  if (/^DOKKU_/i.test(v) || v === 'GIT_REV') return `${v} is reserved for Dokku`;
  return null;
}

/** Names the server always masks (apps.service.ts CREDENTIAL_NAME): the form shows them as secret. */
export const looksSecret = (k: string) => /pass|pwd|secret|token|api_?key|private|credential|auth|salt|signature|cookie|session|(^|_)dsn$|database_url|conn(ection)?_?str/i.test(k);

/** A host name as parseHostname takes it (IDN becomes punycode on the server). */
export const hostnameProblem = (d: string) => domainNameProblem(d, { noun: 'host name', example: 'app.example.com' });

export const PORT_SCHEMES = ['http', 'https', 'tcp', 'udp', 'grpc', 'grpcs'];
export function portMapProblem(v: string): string | null {
  const m = /^([a-z]+):([0-9]{1,5}):([0-9]{1,5})$/.exec(v);
  if (!m || !PORT_SCHEMES.includes(m[1]!)) return `scheme:host-port:container-port, scheme one of ${PORT_SCHEMES.join(', ')}`;
  const ok = (n: string) => Number(n) >= 1 && Number(n) <= 65535;
  if (!ok(m[2]!) || !ok(m[3]!)) return 'Ports are 1–65535';
  return null;
}
export const portMapString = (p: PortMap) => `${p.scheme}:${p.hostPort}:${p.containerPort}`;

/**
 * The server's field issues (`details.issues[].path`, e.g. `body.name`, `image`, `set.API_KEY`)
 * keyed by the field they belong to; `fieldOf` maps a path to a form field name.
 */
export function fieldErrors(e: unknown, fieldOf: (path: string) => string | null = (p) => p.split('.')[0] ?? null): Record<string, string> {
  if (!(e instanceof ApiError)) return {};
  const out: Record<string, string> = {};
  for (const i of issuesOf(e)) {
    // A rule checked across the whole body has no path: the service names the field in its message ("key: …").
    const path = fieldName(i.path) || (/^([\w.]+): /.exec(i.message)?.[1] ?? '');
    const f = path ? fieldOf(path) : null;
    // The service prefixes its messages with the field ("name: an app name has…"): say it once.
    if (f) out[f] ??= i.message.startsWith(`${path}: `) ? i.message.slice(path.length + 2) : i.message;
  }
  return out;
}

/** Query keys of one app; every tab's key starts with `appKey(...)`. */
export const appKey = (host: string, name: string) => ['apps', 'app', host, name] as const;
/** Opens a job's live log in a modal (the app page owns it). */
export type ShowJob = (job: { id: string }, title: string) => void;
