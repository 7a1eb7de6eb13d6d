import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { sql } from 'kysely';
import { z } from 'zod';
import type { JobRunnerDeps } from './index.js';
import type { JobContext, JobService } from './types.js';

export const SELFTEST_JOB = 'system.selftest';

/** `pauseMs` is not offered by the route; tests enqueue slower runs directly. */
const SelftestInput = z.object({ pauseMs: z.number().int().min(10).max(5000).optional() }).strict();
type SelftestInput = z.infer<typeof SelftestInput>;

/** Pause between checks so the log visibly streams (and a cancel has something to interrupt). */
const DEFAULT_PAUSE_MS = 300;

function pause(ctx: JobContext<SelftestInput>): Promise<void> {
  const { signal } = ctx;
  const ms = ctx.input.pauseMs ?? DEFAULT_PAUSE_MS;
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('cancelled'));
    const onAbort = () => {
      clearTimeout(t);
      reject(new Error('cancelled'));
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** GET over TCP or a unix socket; resolves with status and a short body, rejects when unreachable. */
function httpGet(opts: { socketPath?: string; host?: string; port?: number; path: string }, signal: AbortSignal): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ ...opts, timeout: 2000, signal, headers: { accept: 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 4096) body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

async function onPath(command: string): Promise<string | null> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, command);
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {
      // not in this directory
    }
  }
  return null;
}

async function checkHttp(ctx: JobContext<SelftestInput>, name: string, target: Parameters<typeof httpGet>[0], describe: (body: string) => string): Promise<void> {
  await pause(ctx);
  try {
    const res = await httpGet(target, ctx.signal);
    if (res.status >= 200 && res.status < 300) ctx.log(`${name}: ok${describe(res.body)}`);
    else ctx.log(`${name}: not available (HTTP ${res.status})`, 'warn');
  } catch (e) {
    if (ctx.signal.aborted) throw e;
    ctx.log(`${name}: not available (${(e as Error).message})`, 'warn');
  }
}

function field(body: string, key: string): string {
  try {
    const v = (JSON.parse(body) as Record<string, unknown>)[key];
    return typeof v === 'string' ? ` (${key} ${v})` : '';
  } catch {
    return '';
  }
}

/**
 * `system.selftest`: checks the database, the data directory and which engines this machine can
 * reach. An engine that is absent is reported "not available", which is not a failure.
 */
export function defineSelftestJob(jobs: Pick<JobService, 'define'>, deps: Pick<JobRunnerDeps, 'db' | 'dialect' | 'dataDir'>): void {
  jobs.define<SelftestInput>({
    type: SELFTEST_JOB,
    input: SelftestInput,
    title: () => 'System self-test',
    steps: [
      {
        name: 'Database',
        idempotent: true,
        async run(ctx) {
          await pause(ctx);
          const started = performance.now();
          await sql`select 1`.execute(deps.db);
          const key = `selftest.${randomBytes(6).toString('hex')}`;
          const value = randomBytes(12).toString('hex');
          await deps.db.insertInto('settings').values({ key, value, updated_at: Date.now() }).execute();
          const back = await deps.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
          await deps.db.deleteFrom('settings').where('key', '=', key).execute();
          if (back?.value !== value) throw new Error('database returned a different value than was written');
          ctx.log(`Database (${deps.dialect}): ok, round trip with write and read in ${(performance.now() - started).toFixed(1)} ms`);
          ctx.progress(100);
        },
      },
      {
        name: 'Data directory',
        idempotent: true,
        async run(ctx) {
          await pause(ctx);
          const dir = path.resolve(deps.dataDir ?? process.env.SLIPWAY_DATA_DIR ?? './data');
          await mkdir(dir, { recursive: true });
          const file = path.join(dir, `.selftest-${randomBytes(6).toString('hex')}`);
          const value = randomBytes(16).toString('hex');
          try {
            await writeFile(file, value, { mode: 0o600 });
            if ((await readFile(file, 'utf8')) !== value) throw new Error(`${dir}: read back different content`);
          } finally {
            await rm(file, { force: true });
          }
          ctx.log(`Data directory ${dir}: ok, writable`);
        },
      },
      {
        name: 'Docker',
        idempotent: true,
        run: (ctx) => checkHttp(ctx, 'Docker (/var/run/docker.sock)', { socketPath: '/var/run/docker.sock', path: '/version' }, (b) => field(b, 'ApiVersion').replace('ApiVersion', 'API')),
      },
      {
        name: 'Caddy',
        idempotent: true,
        run: (ctx) => checkHttp(ctx, 'Caddy admin API (127.0.0.1:2019)', { host: '127.0.0.1', port: 2019, path: '/config/' }, () => ''),
      },
      {
        name: 'Netdata',
        idempotent: true,
        run: (ctx) => checkHttp(ctx, 'Netdata (127.0.0.1:19999)', { host: '127.0.0.1', port: 19999, path: '/api/v1/info' }, (b) => field(b, 'version')),
      },
      {
        name: 'Tools',
        idempotent: true,
        async run(ctx) {
          const tools: [string, string][] = [['virsh', 'libvirt (virsh)'], ['tgtadm', 'iSCSI target (tgtadm)'], ['wo', 'WordOps (wo)'], ['dokku', 'Dokku (dokku)']];
          for (const [i, [command, label]] of tools.entries()) {
            await pause(ctx);
            const found = await onPath(command);
            ctx.log(found ? `${label}: ok (${found})` : `${label}: not available (not on PATH)`, found ? 'info' : 'warn');
            ctx.progress(((i + 1) / (tools.length + 1)) * 100);
          }
          await pause(ctx);
          const systemctl = await onPath('systemctl');
          const init = (await readFile('/proc/1/comm', 'utf8').catch(() => '')).trim();
          if (systemctl && init === 'systemd') ctx.log(`systemd: ok (PID 1 is systemd, ${systemctl})`);
          else ctx.log(`systemd: not available (${systemctl ? `PID 1 is ${init || 'unknown'}` : 'systemctl not on PATH'})`, 'warn');
        },
      },
    ],
  });
}
