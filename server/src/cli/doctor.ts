import { accessSync, constants, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { coreMigrations, defaultSqlitePath, isPostgresUrl, openDatabase } from '../db/database.js';
import { SECRETS_FILE } from '../platform/secrets.js';
import pino from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import { resolveModuleConfigs } from '../app.js';
import type { LoadedConfig } from '../config.js';
import { LocalProcessRunner } from '../infra/process-runner.js';
import { ModuleRuntime, type ModuleStatusView } from '../platform/engines/module-status.js';
import { cliConfig, moduleMigrations } from './context.js';

export type CheckStatus = 'ok' | 'warn' | 'missing' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  hint?: string;
  /** The panel cannot run without it (exit code 1 when it fails). */
  required?: boolean;
}

/** Finds an executable on PATH (plus the sbin dirs, which a non-root PATH may lack). */
export function findExecutable(name: string, envPath = process.env.PATH ?? ''): string | null {
  const dirs = [...envPath.split(path.delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean);
  for (const d of dirs) {
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

function binaryCheck(name: string, binary: string, hint: string): Check {
  const found = findExecutable(binary);
  return found ? { name, status: 'ok', detail: found } : { name, status: 'missing', detail: `${binary} not found on PATH`, hint };
}

function nodeCheck(): Check {
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  const ok = major > 20 || (major === 20 && minor >= 19);
  return { name: 'node', status: ok ? 'ok' : 'fail', detail: `Node ${process.versions.node}`, hint: ok ? undefined : 'Slipway needs Node >= 20.19', required: true };
}

function dataDirCheck(dataDir: string): Check[] {
  if (!existsSync(dataDir)) return [{ name: 'data dir', status: 'fail', detail: `${dataDir} does not exist`, hint: 'run `slipway migrate` or `slipway start` once, or set SLIPWAY_DATA_DIR', required: true }];
  const checks: Check[] = [];
  const mode = statSync(dataDir).mode & 0o777;
  try {
    accessSync(dataDir, constants.W_OK);
    checks.push({
      name: 'data dir', status: mode & 0o077 ? 'warn' : 'ok', detail: `${dataDir} (mode ${mode.toString(8).padStart(4, '0')})`,
      hint: mode & 0o077 ? `others can read it: chmod 700 ${dataDir}` : undefined, required: true,
    });
  } catch {
    checks.push({ name: 'data dir', status: 'fail', detail: `${dataDir} is not writable by this user`, hint: 'run as the panel\'s user', required: true });
  }
  const secrets = path.join(dataDir, SECRETS_FILE);
  if (existsSync(secrets)) {
    const m = statSync(secrets).mode & 0o777;
    checks.push({ name: 'secrets file', status: m & 0o077 ? 'fail' : 'ok', detail: `${SECRETS_FILE} mode ${m.toString(8).padStart(4, '0')}`, hint: m & 0o077 ? `chmod 600 ${secrets}` : undefined, required: true });
  } else {
    checks.push({ name: 'secrets file', status: 'warn', detail: `${SECRETS_FILE} not created yet`, hint: 'created at first start' });
  }
  return checks;
}

async function databaseCheck(url: string | undefined, dataDir: string): Promise<Check[]> {
  const expected = Object.keys({ ...coreMigrations, ...await moduleMigrations() }).sort();
  if (!isPostgresUrl(url)) {
    const file = url ? url.replace(/^(sqlite:|file:)/, '') : defaultSqlitePath(dataDir);
    // Opening would create an empty database: report its absence instead.
    if (!existsSync(file)) return [{ name: 'database', status: 'warn', detail: `no SQLite database at ${file} yet`, hint: 'run `slipway migrate` or start the panel once', required: true }];
  }
  let database;
  try {
    database = openDatabase({ url, dataDir });
  } catch (e) {
    return [{ name: 'database', status: 'fail', detail: (e as Error).message, hint: 'check SLIPWAY_DATABASE_URL', required: true }];
  }
  try {
    const started = Date.now();
    await sql`select 1`.execute(database.db);
    const checks: Check[] = [{ name: 'database', status: 'ok', detail: `${database.dialect} reachable in ${Date.now() - started} ms`, required: true }];
    let applied: string[] = [];
    try {
      const r = await sql<{ name: string }>`select name from slipway_migrations`.execute(database.db);
      applied = r.rows.map((x) => x.name);
    } catch {
      /* no migration table yet */
    }
    const pending = expected.filter((m) => !applied.includes(m));
    checks.push({
      name: 'migrations', status: pending.length ? 'warn' : 'ok', detail: `${applied.length} of ${expected.length} applied${pending.length ? `; pending: ${pending.join(', ')}` : ''}`,
      hint: pending.length ? 'run `slipway migrate` (the panel also migrates at start)' : undefined,
    });
    return checks;
  } catch (e) {
    return [{ name: 'database', status: 'fail', detail: (e as Error).message, hint: 'is the database running and reachable? check SLIPWAY_DATABASE_URL', required: true }];
  } finally {
    await database.close().catch(() => {});
  }
}

/** Engine ids shown under the names operators know. */
const ENGINE_CHECK_NAMES: Record<string, string> = { caddy: 'caddy admin', wordops: 'wo' };

/**
 * The enabled modules' engines probed exactly as the panel probes them (same config, same probes),
 * one row per engine and one per module with its status: ready, degraded or unavailable.
 */
export async function moduleStatuses(config: LoadedConfig): Promise<ModuleStatusView[]> {
  const { enabledModules } = await import('../modules.js');
  const mods = enabledModules(config.core.modules);
  const configs = resolveModuleConfigs(mods, config);
  const log = pino({ level: 'silent' }) as unknown as FastifyBaseLogger;
  const runtime = new ModuleRuntime({ retryMs: config.core.engineRetryMs, recheckMs: config.core.engineRecheckMs, log });
  const runner = new LocalProcessRunner();
  for (const m of mods) {
    runtime.add({
      id: m.id, title: m.title, navPermission: m.navPermission, engines: (m.engines ?? []) as never[],
      probeContext: { config: configs.get(m.id), core: config.core, runner, timeoutMs: config.core.engineProbeTimeoutMs },
      activate: async () => {},
    });
  }
  await runtime.start(false);
  return runtime.list();
}

async function moduleChecks(config: LoadedConfig): Promise<{ engines: Check[]; modules: Check[] }> {
  const statuses = await moduleStatuses(config);
  const engines: Check[] = statuses.flatMap((m) => m.engines.map((e): Check => ({
    name: ENGINE_CHECK_NAMES[e.id] ?? e.id,
    status: e.ok ? 'ok' : 'missing',
    detail: e.ok ? `${e.title}${e.version ? ` ${e.version}` : ' answers'}` : `${e.reason ?? `${e.title} is not available`}${e.optional ? ' (optional)' : ''}`,
    ...(e.ok || !e.fix ? {} : { hint: `${e.fix} (${m.id} module)` }),
  })));
  const modules: Check[] = statuses.map((m) => ({
    name: `module ${m.id}`,
    status: m.status === 'ready' ? 'ok' : m.status === 'degraded' ? 'warn' : 'missing',
    detail: `${m.status}${m.reason ? `: ${m.reason}` : ''}`,
    ...(m.fix ? { hint: m.fix } : {}),
  }));
  return { engines, modules };
}

/** Everything the panel and its modules depend on, local checks only (no remote hosts). */
export async function runDoctor(env: NodeJS.ProcessEnv = process.env): Promise<Check[]> {
  const config = await cliConfig(env);
  const { dataDir, databaseUrl } = config.core;
  const { engines, modules } = await moduleChecks(config);
  const systemd: Check = existsSync('/run/systemd/system')
    ? { name: 'systemd', status: 'ok', detail: 'systemd is PID 1' }
    : findExecutable('systemctl')
      ? { name: 'systemd', status: 'warn', detail: 'systemctl installed but systemd is not running as PID 1', hint: 'service management works on remote systemd hosts only' }
      : { name: 'systemd', status: 'missing', detail: 'no systemd', hint: 'the server module manages services through systemd' };
  return [
    nodeCheck(),
    ...dataDirCheck(dataDir),
    ...(await databaseCheck(databaseUrl, dataDir)),
    ...engines,
    ...modules,
    binaryCheck('virsh', 'virsh', 'apt-get install libvirt-clients libvirt-daemon-system qemu-system-x86 (vps module)'),
    binaryCheck('tgtadm', 'tgtadm', 'apt-get install tgt (netboot iSCSI targets)'),
    systemd,
    binaryCheck('dokku', 'dokku', 'install Dokku (apps module): https://dokku.com'),
    binaryCheck('chromium', 'chromium', 'apt-get install chromium (browser tests and screenshots)'),
    binaryCheck('ssh-keygen', 'ssh-keygen', 'apt-get install openssh-client (remote hosts)'),
  ];
}

const MARK: Record<CheckStatus, string> = { ok: 'ok', warn: 'warn', missing: 'missing', fail: 'FAIL' };

export function formatChecks(checks: Check[]): string {
  const w1 = Math.max(5, ...checks.map((c) => c.name.length));
  const w2 = 7;
  const lines = [`${'CHECK'.padEnd(w1)}  ${'STATUS'.padEnd(w2)}  DETAIL`];
  for (const c of checks) {
    lines.push(`${c.name.padEnd(w1)}  ${MARK[c.status].padEnd(w2)}  ${c.detail}`);
    if (c.hint) lines.push(`${''.padEnd(w1)}  ${''.padEnd(w2)}  hint: ${c.hint}`);
  }
  return `${lines.join('\n')}\n`;
}
