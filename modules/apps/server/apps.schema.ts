import { domainToASCII } from 'node:url';
import { z } from 'zod';

/**
 * Allow-lists for every user value that can reach `dokku`'s argv. Each parser returns a branded
 * string; `dokku.cli.ts` only accepts the branded types, so an unchecked value cannot be passed.
 * No value may start with `-`: Dokku's top-level `parse_args` (plugins/common/functions) acts on
 * `--force`, `--app X`, `--trace` anywhere on the line, and its Go plugins parse with pflag.
 * Every value is also a "plain word" (no blank, quote, backslash, glob or shell character), which
 * is what the sshcommand path needs: there the remote side re-splits the command line itself.
 */

export class AppsInputError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'AppsInputError';
  }
}

declare const brand: unique symbol;
type Brand<T extends string> = string & { readonly [brand]: T };
export type AppName = Brand<'AppName'>;
export type ImageRef = Brand<'ImageRef'>;
export type GitRepoUrl = Brand<'GitRepoUrl'>;
export type GitRef = Brand<'GitRef'>;
export type EnvKey = Brand<'EnvKey'>;
export type Hostname = Brand<'Hostname'>;
export type PortMap = Brand<'PortMap'>;
export type ProcessType = Brand<'ProcessType'>;
export type BuildId = Brand<'BuildId'>;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]/;

/** plugins/common/common.go IsValidAppName (`^[a-z0-9][a-z0-9.-]*$`), plus a length cap: the name is also a DNS label of the app's default URL. */
export const APP_NAME_RE = /^[a-z0-9][a-z0-9.-]*$/;
export const APP_NAME_RULE = 'lowercase letters, digits, dots and hyphens, starting with a letter or digit (at most 63)';
export function parseAppName(v: unknown): AppName {
  if (typeof v !== 'string' || v.length === 0) throw new AppsInputError('name', 'an app name is required');
  if (v.length > 63 || !APP_NAME_RE.test(v)) throw new AppsInputError('name', `an app name has ${APP_NAME_RULE}`);
  return v as AppName;
}

// Docker's reference grammar (distribution/reference regexp.go): [domain[:port]/]path[:tag][@digest].
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const IMAGE_RE = new RegExp(`^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::${TAG})?(?:@${DIGEST})?$`);
export function parseImageRef(v: unknown): ImageRef {
  if (typeof v !== 'string' || v.length === 0) throw new AppsInputError('image', 'an image reference is required');
  if (v.length > 512) throw new AppsInputError('image', 'an image reference is at most 512 characters');
  if (v.startsWith('-') || CONTROL.test(v) || !IMAGE_RE.test(v)) throw new AppsInputError('image', 'not a Docker image reference (registry/name:tag or name@sha256:…)');
  const name = v.split('@')[0]!.replace(/:[\w][\w.-]*$/, '');
  if (name.length > 255) throw new AppsInputError('image', 'an image name is at most 255 characters');
  return v as ImageRef;
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const CONFUSABLE = /^[аеорсухіјѕԁԛԝһӏвкмнтѵаъьαβεικνορτυχϲ0-9-]+$/u;
/**
 * A host name: IDN converted to punycode, RFC 1123 labels, at least two labels, look-alikes
 * (mixed or whole-script Cyrillic/Greek), compatibility forms and invisible characters refused.
 * Stricter than Dokku's `is_valid_hostname` (domains/functions), which lets `*`, `_` and a
 * leading `-` through.
 */
export function parseHostname(v: unknown, field = 'domain'): Hostname {
  if (typeof v !== 'string' || v.length === 0) throw new AppsInputError(field, 'a host name is required');
  if (v.length > 253) throw new AppsInputError(field, 'a host name is at most 253 characters');
  if (/[\p{C}\p{Z}\s/\\:@;$`'"|&<>(){}[\]*?!#%^=+,~_]/u.test(v)) throw new AppsInputError(field, 'a host name has only letters, digits, hyphens and dots');
  if (v.normalize('NFKC') !== v) throw new AppsInputError(field, 'compatibility characters (full-width letters, ligatures…) are not allowed');
  for (const label of v.toLowerCase().replace(/\.$/, '').split('.')) {
    // eslint-disable-next-line no-control-regex
    if (/^[\x00-\x7f]*$/.test(label)) continue;
    const latinLike = ['Latin', 'Cyrillic', 'Greek'].filter((s) => new RegExp(`\\p{Script=${s}}`, 'u').test(label));
    if (latinLike.length > 1) throw new AppsInputError(field, `label "${label}" mixes scripts (a look-alike of another name)`);
    if (CONFUSABLE.test(label)) throw new AppsInputError(field, `label "${label}" looks like a Latin name (a look-alike)`);
  }
  const ascii = domainToASCII(v.toLowerCase().replace(/\.$/, ''));
  if (!ascii) throw new AppsInputError(field, 'not a valid host name');
  const labels = ascii.split('.');
  if (labels.length < 2) throw new AppsInputError(field, 'a host name has at least two labels (app.example.com)');
  for (const l of labels) if (!LABEL.test(l)) throw new AppsInputError(field, `label "${l}" is not a valid host name label`);
  if (/^[0-9]+$/.test(labels.at(-1)!)) throw new AppsInputError(field, 'the top-level label cannot be numeric');
  if (ascii.length > 253) throw new AppsInputError(field, 'a host name is at most 253 characters');
  return ascii as Hostname;
}

/**
 * The host part of a git URL is a network target the Dokku host will connect to: the service
 * checks it with the platform's `checkNetworkTarget` (apps.service.ts checkGitRemote) before a
 * deploy or rollback is queued.
 */
const REPO_PATH = /^\/[A-Za-z0-9][A-Za-z0-9._~-]*(?:\/[A-Za-z0-9][A-Za-z0-9._~-]*)*\/?$/;
/**
 * A git remote for `git:sync`: `https://host[:port]/path` only (no credentials, query or
 * fragment; `http://` only when `allowInsecure`, for admins). Returns the canonical form.
 */
export function parseGitRepoUrl(v: unknown, opts: { allowInsecure?: boolean } = {}): { url: GitRepoUrl; host: Hostname; port: number } {
  if (typeof v !== 'string' || v.length === 0) throw new AppsInputError('repo', 'a repository URL is required');
  if (v.length > 2048) throw new AppsInputError('repo', 'a repository URL is at most 2048 characters');
  if (CONTROL.test(v) || /\s/.test(v)) throw new AppsInputError('repo', 'a repository URL has no blanks or control characters');
  const m = /^(https?):\/\/([^/?#]+)(\/[^?#]*)$/.exec(v);
  if (!m) throw new AppsInputError('repo', 'an https:// repository URL (no query or fragment)');
  const [, scheme, authority, pathPart] = m as unknown as [string, string, string, string];
  if (scheme === 'http' && !opts.allowInsecure) throw new AppsInputError('repo', 'only https:// repository URLs are allowed');
  if (authority.includes('@')) throw new AppsInputError('repo', 'credentials in the URL are not allowed (use git:auth on the host)');
  const hp = /^([^:]+)(?::([0-9]{1,5}))?$/.exec(authority);
  if (!hp) throw new AppsInputError('repo', 'not a valid host[:port]');
  const host = parseHostname(hp[1], 'repo');
  const port = hp[2] ? Number(hp[2]) : scheme === 'https' ? 443 : 80;
  if (port < 1 || port > 65535) throw new AppsInputError('repo', 'the port must be 1-65535');
  if (!REPO_PATH.test(pathPart) || pathPart.split('/').some((s) => s === '.' || s === '..')) {
    throw new AppsInputError('repo', 'the path has letters, digits and . _ ~ - between slashes');
  }
  return { url: `${scheme}://${host}${hp[2] ? `:${port}` : ''}${pathPart}` as GitRepoUrl, host, port };
}

/**
 * `git check-ref-format` rules (no `..`, `@{`, control characters, space ~ ^ : ? * [ \, no
 * component starting with `.` or ending in `.lock`, no trailing `.` or `/`, not `@`), narrowed to
 * [A-Za-z0-9._/-] and never starting with `-`; a full 40/64-hex commit id is also accepted.
 */
export function parseGitRef(v: unknown): GitRef {
  if (typeof v !== 'string' || v.length === 0) throw new AppsInputError('ref', 'a branch, tag or commit is required');
  if (v.length > 255) throw new AppsInputError('ref', 'a ref is at most 255 characters');
  if (/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(v)) return v as GitRef;
  const bad = (why: string) => new AppsInputError('ref', `not a valid git ref: ${why}`);
  if (!/^[A-Za-z0-9._/-]+$/.test(v)) throw bad('only letters, digits and . _ / - are allowed');
  if (v.startsWith('-')) throw bad('must not start with "-"');
  if (v.startsWith('/') || v.endsWith('/') || v.includes('//')) throw bad('no leading, trailing or double "/"');
  if (v.includes('..')) throw bad('no ".."');
  if (v.endsWith('.')) throw bad('must not end with "."');
  if (v === '@') throw bad('"@" alone is not a ref');
  for (const c of v.split('/')) {
    if (c.startsWith('.')) throw bad('no component may start with "."');
    if (c.endsWith('.lock')) throw bad('no component may end with ".lock"');
  }
  return v as GitRef;
}

/** plugins/config/config.go validateKey (`^[a-zA-Z_][a-zA-Z0-9_]*$`); `DOKKU_*` steer Dokku itself and are refused. */
export function parseEnvKey(v: unknown): EnvKey {
  if (typeof v !== 'string' || v.length === 0) throw new AppsInputError('key', 'a variable name is required');
  if (v.length > 128 || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(v)) throw new AppsInputError('key', `"${v.slice(0, 40)}" is not a valid name: letters, digits and _, not starting with a digit (at most 128)`);
  if (/^DOKKU_/i.test(v) || v === 'GIT_REV') throw new AppsInputError('key', `${v} is reserved for Dokku`);
  return v as EnvKey;
}

export const ENV_VALUE_MAX = 32 * 1024;
/** Any text up to 32 KiB without NUL; it reaches argv only base64-encoded (`config:set --encoded`). */
export function parseEnvValue(key: string, v: unknown): string {
  if (typeof v !== 'string') throw new AppsInputError(`set.${key}`, 'a value must be a string');
  if (v.includes('\0')) throw new AppsInputError(`set.${key}`, 'a value must not contain NUL bytes');
  if (Buffer.byteLength(v) > ENV_VALUE_MAX) throw new AppsInputError(`set.${key}`, `a value is at most ${ENV_VALUE_MAX} bytes`);
  return v;
}

export const PORT_SCHEMES = ['http', 'https', 'tcp', 'udp', 'grpc', 'grpcs'] as const;
/** `scheme:host-port:container-port` (plugins/ports/functions.go parsePortMapString), ports 1-65535. */
export function parsePortMap(v: unknown): PortMap {
  if (typeof v !== 'string') throw new AppsInputError('ports', 'a port map is scheme:host-port:container-port');
  const m = /^([a-z]+):([0-9]{1,5}):([0-9]{1,5})$/.exec(v);
  if (!m || !(PORT_SCHEMES as readonly string[]).includes(m[1]!)) throw new AppsInputError('ports', `"${v.slice(0, 40)}" is not scheme:host-port:container-port with scheme ${PORT_SCHEMES.join('/')}`);
  const hp = Number(m[2]);
  const cp = Number(m[3]);
  if (hp < 1 || hp > 65535 || cp < 1 || cp > 65535) throw new AppsInputError('ports', 'ports are 1-65535');
  return `${m[1]}:${hp}:${cp}` as PortMap;
}

/** A Procfile process type. */
export function parseProcessType(v: unknown): ProcessType {
  if (typeof v !== 'string' || !/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/.test(v)) throw new AppsInputError('process', 'a process type has letters, digits, _ and - (at most 63)');
  return v as ProcessType;
}
export const SCALE_MAX = 50;
export function parseProcessCount(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > SCALE_MAX) throw new AppsInputError('count', `a process count is an integer 0-${SCALE_MAX}`);
  return v;
}

/** plugins/builds/builds.go GenerateBuildID (14 base36 chars), or a `pid-N` fallback. */
export function parseBuildId(v: unknown): BuildId {
  if (typeof v !== 'string' || !/^(?:[0-9a-z]{14}|pid-[0-9]{1,10})$/.test(v)) throw new AppsInputError('build', 'not a Dokku build id');
  return v as BuildId;
}

export const WAIT_TO_RETIRE_MAX = 3600;

// ---- zod wrappers for routes -----------------------------------------------------------------
const wrap = <T>(parse: (v: unknown) => T) =>
  z.unknown().transform((v, ctx) => {
    try {
      return parse(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });

export const AppNameSchema = wrap(parseAppName);
export const ImageRefSchema = wrap(parseImageRef);
export const GitRefSchema = wrap(parseGitRef);
export const HostnameSchema = wrap((v) => parseHostname(v));
export const PortMapSchema = wrap(parsePortMap);
export const HostId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a host id');

export const CreateApp = z.object({ name: AppNameSchema, hostId: HostId.optional() }).strict();
export const DestroyApp = z.object({ confirm: z.string().max(63) }).strict();
export const DeployRequest = z.union([
  z.object({ image: ImageRefSchema }).strict(),
  z.object({ repo: z.string().max(2048), ref: GitRefSchema }).strict(),
]);
export const ConfigPatch = z
  .object({
    set: z.record(z.string().max(128), z.string()).default({}),
    secret: z.array(z.string().max(128)).max(200).default([]),
    unset: z.array(z.string().max(128)).max(200).default([]),
    restart: z.boolean().default(true),
  })
  .strict()
  .transform((b, ctx) => {
    try {
      const set: Record<string, string> = {};
      for (const [k, v] of Object.entries(b.set)) set[parseEnvKey(k)] = parseEnvValue(k, v);
      if (Object.keys(set).length > 200) throw new AppsInputError('set', 'at most 200 variables at once');
      const unset = b.unset.map(parseEnvKey);
      const secret = b.secret.map(parseEnvKey);
      for (const k of unset) if (k in set) throw new AppsInputError('unset', `${k} is both set and unset`);
      return { set: set as Record<EnvKey, string>, secret, unset, restart: b.restart };
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });
export const ScaleRequest = z.object({ processes: z.record(z.string().max(63), z.number()) }).strict().transform((b, ctx) => {
  try {
    const entries = Object.entries(b.processes).map(([p, n]) => [parseProcessType(p), parseProcessCount(n)] as const);
    if (!entries.length || entries.length > 20) throw new AppsInputError('processes', '1-20 process types');
    return entries;
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});
export const PsAction = z.enum(['start', 'stop', 'restart', 'rebuild']);
