import { accessSync, constants, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { CoreConfig } from '../../config.js';
import { ExecError } from '../../infra/exec-error.js';
import type { ProcessRunner } from '../../infra/process-runner.js';

/** What one probe of an engine found. */
export interface ProbeResult {
  ok: boolean;
  /** The engine's version when it tells one ("Docker 20.10.24 (API 1.41)"). */
  version?: string;
  /** Why it is not usable, for an operator: what was tried and what happened. */
  reason?: string;
  /** What to do about it: the package to install, the service to start, the setting to change. */
  fix?: string;
}

export interface ProbeContext<C = unknown> {
  /** The module's validated config (addresses of the engines). */
  config: C;
  core: CoreConfig;
  /** The panel's own machine; probes look at the local host only. */
  runner: ProcessRunner;
  /** Each probe gets this long; past it the engine counts as not answering. */
  timeoutMs: number;
}

/**
 * Something a module needs from the machine: a binary, a socket, an admin API. Probed at start and
 * again in the background until it answers. A required engine that fails makes the module
 * `unavailable`; an optional one makes it `degraded`.
 */
export interface EngineProbe<C = unknown> {
  id: string;
  title: string;
  /** The module works without it, with less (Netdata for richer metrics, WordOps on this host when remote hosts may run it). */
  optional?: boolean;
  probe(ctx: ProbeContext<C>): Promise<ProbeResult>;
}

export function defineEngine<C = unknown>(e: EngineProbe<C>): EngineProbe<C> {
  if (!/^[a-z][a-z0-9-]*$/.test(e.id)) throw new Error(`bad engine id ${e.id}`);
  return e;
}

/** Runs a probe with its timeout; a throw or a hang becomes a failed result, never an exception. */
export async function runProbe<C>(engine: EngineProbe<C>, ctx: ProbeContext<C>): Promise<ProbeResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      engine.probe(ctx),
      new Promise<ProbeResult>((resolve) => {
        timer = setTimeout(() => resolve({ ok: false, reason: `${engine.title} did not answer within ${ctx.timeoutMs} ms` }), ctx.timeoutMs);
      }),
    ]);
  } catch (e) {
    return { ok: false, reason: `${engine.title}: ${e instanceof Error ? e.message : String(e)}` };
  } finally {
    clearTimeout(timer);
  }
}

export interface HttpAnswer {
  status: number;
  body: string;
}

/** One GET over TCP (`url`) or a unix socket (`socketPath` + `path`), body capped at 64 KiB. */
export function httpGet(target: { url: string } | { socketPath: string; path: string }, timeoutMs: number): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const opts: http.RequestOptions = 'url' in target
      ? (() => {
          const u = new URL(target.url);
          return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port || 80, path: `${u.pathname}${u.search}` };
        })()
      : { socketPath: target.socketPath, path: target.path };
    const req = http.get({ ...opts, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 65536) body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Why a connection failed, in words ("connection refused" rather than ECONNREFUSED). */
export function describeConnectError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ECONNREFUSED': return 'connection refused';
    case 'ENOENT': return 'no such socket';
    case 'EACCES': return 'permission denied';
    case 'ETIMEDOUT': return 'timed out';
    case 'EHOSTUNREACH': return 'host unreachable';
    default: return e instanceof Error ? e.message : String(e);
  }
}

/**
 * Probes an HTTP API: any 2xx answer is ok, `version` reads the version from the body.
 * `what` names it in the reason ("Caddy admin API at 127.0.0.1:2019").
 */
export async function probeHttp(
  target: { url: string } | { socketPath: string; path: string },
  opts: { what: string; fix: string; timeoutMs: number; version?: (body: string) => string | undefined },
): Promise<ProbeResult> {
  let answer: HttpAnswer;
  try {
    answer = await httpGet(target, opts.timeoutMs);
  } catch (e) {
    return { ok: false, reason: `${opts.what} not answering (${describeConnectError(e)})`, fix: opts.fix };
  }
  if (answer.status < 200 || answer.status >= 300) return { ok: false, reason: `${opts.what} answered HTTP ${answer.status}`, fix: opts.fix };
  let version: string | undefined;
  try {
    version = opts.version?.(answer.body);
  } catch {
    /* an answer without a readable version is still an answer */
  }
  return { ok: true, ...(version ? { version } : {}) };
}

/**
 * Probes a program by running it (`args`, e.g. `--version`) through the host's runner. Not found
 * (spawn failure, exit 127) is a failure; any other exit means the program is there.
 */
export async function probeBinary(
  runner: ProcessRunner,
  program: string,
  opts: { args?: string[]; env?: Record<string, string>; what: string; fix: string; timeoutMs: number; version?: (stdout: string) => string | undefined },
): Promise<ProbeResult> {
  try {
    const r = await runner.exec(program, opts.args ?? ['--version'], { timeoutMs: opts.timeoutMs, env: opts.env, okExitCodes: [0, 1, 2] });
    const version = opts.version ? opts.version(r.stdout) : r.stdout.trim().split('\n')[0]?.slice(0, 120);
    return { ok: true, ...(version ? { version } : {}) };
  } catch (e) {
    if (e instanceof ExecError && e.isMissingProgram) return { ok: false, reason: opts.what, fix: opts.fix };
    if (e instanceof ExecError && e.reason === 'timeout') return { ok: false, reason: `${program} did not answer within ${opts.timeoutMs} ms`, fix: opts.fix };
    if (e instanceof ExecError) return { ok: true };
    throw e;
  }
}

/** Finds an executable file: first in `dirs`, then on PATH and the sbin dirs a non-root PATH may lack. */
export function findExecutable(name: string, dirs: readonly string[] = [], envPath = process.env.PATH ?? ''): string | null {
  const all = [...dirs, ...envPath.split(path.delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean);
  for (const d of all) {
    const full = path.join(d, name);
    try {
      accessSync(full, constants.X_OK);
      if (statSync(full).isFile()) return full;
    } catch {
      /* not here */
    }
  }
  return null;
}
