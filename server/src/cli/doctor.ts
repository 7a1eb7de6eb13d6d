import { accessSync, constants, existsSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { sql } from 'kysely';
import { coreMigrations, defaultSqlitePath, isPostgresUrl, openDatabase } from '../db/database.js';
import { SECRETS_FILE } from '../platform/secrets.js';
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

function httpGet(opts: http.RequestOptions, timeoutMs = 1500): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ ...opts, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c.length + body.length < 65536 ? c : ''));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

async function httpCheck(name: string, opts: http.RequestOptions, what: string, hint: string, parse?: (body: string) => string): Promise<Check> {
  try {
    const r = await httpGet(opts);
    if (r.status >= 200 && r.status < 300) return { name, status: 'ok', detail: parse ? parse(r.body) : `${what} answers` };
    return { name, status: 'fail', detail: `${what} answered HTTP ${r.status}`, hint };
  } catch (e) {
    return { name, status: 'missing', detail: `${what}: ${(e as Error).message}`, hint };
  }
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

/** Everything the panel and its modules depend on, local checks only (no remote hosts). */
export async function runDoctor(env: NodeJS.ProcessEnv = process.env): Promise<Check[]> {
  const config = await cliConfig(env);
  const { dataDir, databaseUrl } = config.core;
  const dockerSocket = env.DOCKER_HOST?.startsWith('unix://') ? env.DOCKER_HOST.slice(7) : '/var/run/docker.sock';
  const engines = await Promise.all([
    existsSync(dockerSocket)
      ? httpCheck('docker', { socketPath: dockerSocket, path: '/version' }, `Docker at ${dockerSocket}`, 'start dockerd; the user needs access to the socket', (b) => {
          const v = JSON.parse(b) as { Version?: string; ApiVersion?: string };
          return `Docker ${v.Version} (API ${v.ApiVersion}) at ${dockerSocket}`;
        })
      : Promise.resolve<Check>({ name: 'docker', status: 'missing', detail: `no socket at ${dockerSocket}`, hint: 'apt-get install docker.io (containers module)' }),
    httpCheck('caddy admin', { host: '127.0.0.1', port: 2019, path: '/config/' }, 'Caddy admin API at 127.0.0.1:2019', 'apt-get install caddy; run `caddy run` (containers wake-on-request proxy)'),
    httpCheck('netdata', { host: '127.0.0.1', port: 19999, path: '/api/v1/info' }, 'Netdata at 127.0.0.1:19999', 'optional: apt-get install netdata for richer metrics', (b) => `Netdata ${(JSON.parse(b) as { version?: string }).version ?? ''} at 127.0.0.1:19999`),
  ]);
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
    binaryCheck('virsh', 'virsh', 'apt-get install libvirt-clients libvirt-daemon-system qemu-system-x86 (vps module)'),
    binaryCheck('tgtadm', 'tgtadm', 'apt-get install tgt (netboot iSCSI targets)'),
    systemd,
    binaryCheck('wo', 'wo', 'install WordOps (sites module): https://wordops.net'),
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
