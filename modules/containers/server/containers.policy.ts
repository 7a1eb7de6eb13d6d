import fs from 'node:fs';
import path from 'node:path';
import type { ContainersConfig } from './containers.config.js';
import { SECRET_MASK, type ContainerSpec } from './containers.schema.js';

/**
 * The tenant-isolation rules of the containers module (docs/SECURITY.md), as plain functions the
 * service, the jobs and the wake controller share: what counts as a credential, how secrets are
 * masked in argv, which host paths may ever be bind-mounted, volume names, resource limits.
 */

// ---- credentials ----

/** Env names that carry credentials whatever their `secret` flag says. */
const CREDENTIAL_NAME = /pass|pwd|secret|token|key|credential|private|auth|salt|signature|cookie|session|(^|_)dsn$|database_url|conn(ection)?_?str/i;
/** A URL with userinfo (`scheme://user:password@host`, `https://token@host`). */
const USERINFO = /[a-z][a-z0-9+.-]*:\/\/[^/\s@]+@/i;
const USERINFO_G = /([a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi;

/** Whether an env entry is masked in every read: marked secret, named like a credential, or a URL with a password. */
export function isSecretEnv(e: { name: string; value: string; secret?: boolean }): boolean {
  return !!e.secret || CREDENTIAL_NAME.test(e.name) || USERINFO.test(e.value);
}

/** Option names whose value is a credential: `--password=x`, `--db-token x`, `-auth-key=x`. */
const SECRET_OPTION = /^(-{1,2}[A-Za-z0-9_.-]*(?:pass|pwd|secret|token|key|credential|auth)[A-Za-z0-9_.-]*)(=)(.*)$/i;
const SECRET_OPTION_ALONE = /^-{1,2}[A-Za-z0-9_.-]*(?:pass|pwd|secret|token|key|credential|auth)[A-Za-z0-9_.-]*$/i;
/** Inside a longer string (e.g. `sh -c "PGPASSWORD=x psql --password=y"`). */
const INLINE_ASSIGN = /((?<![A-Za-z0-9_.-])[A-Za-z0-9_.-]*(?:pass|pwd|secret|token|key|credential|auth)[A-Za-z0-9_.-]*)(=|\s+)(?!\*{8})("[^"]*"|'[^']*'|[^\s"';&|]+)/gi;

function maskText(s: string, secrets: string[]): string {
  let out = s;
  for (const v of secrets) if (v.length >= 3) out = out.split(v).join(SECRET_MASK);
  out = out.replace(USERINFO_G, `$1${SECRET_MASK}@`);
  out = out.replace(INLINE_ASSIGN, (m, name: string, sep: string) => (/^\s+$/.test(sep) && !name.startsWith('-') ? m : `${name}${sep}${SECRET_MASK}`));
  return out;
}

/**
 * argv as a reader may see it: values of secret-looking options, any secret env value and URL
 * passwords are replaced by the mask. `secrets` are the values to hide wherever they appear.
 */
export function maskArgs(args: readonly string[], secrets: readonly string[]): string[] {
  const sorted = [...new Set(secrets)].sort((a, b) => b.length - a.length);
  return args.map((a, i) => {
    const opt = SECRET_OPTION.exec(a);
    if (opt) return `${opt[1]}=${SECRET_MASK}`;
    const prev = i > 0 ? args[i - 1]! : '';
    if (SECRET_OPTION_ALONE.test(prev) && !a.startsWith('-')) return SECRET_MASK;
    return maskText(a, sorted);
  });
}

/**
 * A command sent back from a read: an argument equal to the masked form of the stored argument at
 * the same place keeps the stored value; anything else is taken as written.
 */
export function unmaskArgs(next: readonly string[], stored: readonly string[] | undefined, secrets: readonly string[]): string[] {
  if (!stored) return [...next];
  const masked = maskArgs(stored, secrets);
  return next.map((a, i) => (a.includes(SECRET_MASK) && masked[i] === a && stored[i] !== undefined ? stored[i]! : a));
}

/** Secret values of a container (to hide in its argv). */
export function secretValues(env: readonly { name: string; value: string; secret?: boolean }[]): string[] {
  return env.filter(isSecretEnv).map((e) => e.value).filter((v) => v && v !== SECRET_MASK);
}

// ---- volumes and host paths ----

export const isHostPath = (source: string) => source.startsWith('/');
/** The Docker volume behind a service's named volume: one per service (so per owner), never shared. */
export const volumeName = (serviceId: string, name: string) => `slw-${serviceId}-${name}`;

/** Never bind-mounted, nor anything inside them, nor any directory containing them. */
const ALWAYS_PROTECTED = ['/proc', '/sys', '/dev', '/etc', '/boot', '/root', '/run', '/var/run', '/var/lib/docker', '/var/lib/containerd', '/run/containerd', '/var/run/docker.sock', '/run/docker.sock'];

function real(p: string): string | null {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return null;
  }
}
const inside = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

export interface HostPathRules {
  roots: readonly string[];
  /** The panel's data dir and Docker socket (with ALWAYS_PROTECTED). */
  protectedPaths: readonly string[];
}

/**
 * Checks an admin's bind-mount source: it must exist, resolve (realpath: symlinks followed) under
 * one of the configured roots, and neither be, contain nor sit inside a protected path.
 * Returns the resolved path (what Docker is given) or the reason it is refused.
 */
export function checkHostPath(source: string, rules: HostPathRules): { ok: true; path: string } | { ok: false; reason: string } {
  if (!path.isAbsolute(source) || source.split('/').includes('..')) return { ok: false, reason: `${source} is not an absolute path without ..` };
  const protectedPaths = [...rules.protectedPaths, ...ALWAYS_PROTECTED];
  // As written first (so /proc/1/root is refused before anything is resolved), then as resolved.
  const lexical = path.resolve(source);
  const resolved = lexical === '/' ? '/' : real(source);
  for (const p of resolved ? [lexical, resolved] : [lexical]) {
    if (p === '/') return { ok: false, reason: `${source} is the host's root directory` };
    for (const prot of protectedPaths) {
      for (const candidate of new Set([path.resolve(prot), real(prot)].filter((x): x is string => !!x))) {
        if (inside(p, candidate) || inside(candidate, p)) {
          return { ok: false, reason: `${source}${p !== source ? ` (${p})` : ''} is, contains or is inside ${prot}, which is never mounted into a container` };
        }
      }
    }
  }
  if (!resolved) return { ok: false, reason: `${source} does not exist on the host` };
  const roots = rules.roots.map((r) => real(r)).filter((r): r is string => !!r);
  if (!roots.length) return { ok: false, reason: 'no host path roots are configured (SLIPWAY_CONTAINERS_HOST_PATH_ROOTS): only named volumes can be used' };
  if (!roots.some((r) => inside(resolved, r))) return { ok: false, reason: `${source}${resolved !== source ? ` (${resolved})` : ''} is not under an allowed host path root (${rules.roots.join(', ')})` };
  return { ok: true, path: resolved };
}

// ---- resource limits ----

export interface Limits {
  memoryMb: number;
  cpus: number;
  pids: number;
}

/** A container's limits: its own values or the panel's defaults, never above the maxima. */
export function effectiveLimits(c: Pick<ContainerSpec, 'resources'>, cfg: ContainersConfig): Limits {
  return {
    memoryMb: Math.min(c.resources?.memoryMb ?? cfg.defaultMemoryMb, cfg.maxMemoryMb),
    cpus: Math.min(c.resources?.cpus ?? cfg.defaultCpus, cfg.maxCpus),
    pids: Math.min(c.resources?.pids ?? cfg.defaultPids, cfg.maxPids),
  };
}

/** Resource values above the configured maxima, as field issues. */
export function limitIssues(containers: readonly Pick<ContainerSpec, 'resources'>[], cfg: ContainersConfig): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  containers.forEach((c, i) => {
    const r = c.resources ?? {};
    if (r.memoryMb !== undefined && r.memoryMb > cfg.maxMemoryMb) issues.push({ path: `containers.${i}.resources.memoryMb`, message: `at most ${cfg.maxMemoryMb} MB` });
    if (r.cpus !== undefined && r.cpus > cfg.maxCpus) issues.push({ path: `containers.${i}.resources.cpus`, message: `at most ${cfg.maxCpus} CPUs` });
    if (r.pids !== undefined && r.pids > cfg.maxPids) issues.push({ path: `containers.${i}.resources.pids`, message: `at most ${cfg.maxPids} processes` });
  });
  return issues;
}

/** Memory and CPU a service's containers may use together. */
export function serviceUsage(containers: readonly Pick<ContainerSpec, 'resources'>[], cfg: ContainersConfig): { memoryMb: number; cpus: number } {
  let memoryMb = 0;
  let cpus = 0;
  for (const c of containers) {
    const l = effectiveLimits(c, cfg);
    memoryMb += l.memoryMb;
    cpus += l.cpus;
  }
  return { memoryMb, cpus: Math.round(cpus * 1000) / 1000 };
}
