import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, isolatedModuleEnv } from '../server/src/testing/ports.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Panel {
  url: string;
  /** The printed first-run link, `<url>/setup#token=…`. */
  setupUrl: string;
  dataDir: string;
  output(): string;
  stop(): Promise<void>;
}


export { freePort };

/** A hash of everything the console build reads, so a build is reused until a source changes. */
function webSourceHash(): string {
  const h = createHash('sha256');
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((x, y) => x.name.localeCompare(y.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (!/\.test\.tsx?$/.test(e.name)) h.update(p).update(readFileSync(p));
    }
  };
  walk(path.join(repoRoot, 'web'));
  for (const m of existsSync(path.join(repoRoot, 'modules')) ? readdirSync(path.join(repoRoot, 'modules')).sort() : []) walk(path.join(repoRoot, 'modules', m, 'web'));
  h.update(readFileSync(path.join(repoRoot, 'package-lock.json'))).update('production build v2');
  return h.digest('hex').slice(0, 16);
}

let lastBuild: string | undefined;

/**
 * Builds the console into node_modules/.cache/slipway-web/<source hash> (reused while the sources are
 * unchanged; never dist/web, which others may rebuild under a running panel). Returns the folder.
 */
export function buildWeb(): string {
  const cacheRoot = path.join(repoRoot, 'node_modules/.cache/slipway-web');
  mkdirSync(cacheRoot, { recursive: true });
  const dir = path.join(cacheRoot, webSourceHash());
  if (!existsSync(path.join(dir, 'index.html'))) {
    const tmp = mkdtempSync(path.join(cacheRoot, 'tmp-'));
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'web/vite.config.ts', '--outDir', tmp, '--emptyOutDir', '--logLevel', 'warn'], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production' } }); // vitest sets NODE_ENV=test, which would build React's dev runtime
    if (r.status !== 0 || !existsSync(path.join(tmp, 'index.html'))) {
      rmSync(tmp, { recursive: true, force: true });
      throw new Error(`web build failed:\n${r.stdout}\n${r.stderr}`);
    }
    try {
      renameSync(tmp, dir);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // a parallel run finished the same build first
    }
    // Drop builds of older sources (left alone for an hour in case a running panel still serves one).
    for (const old of readdirSync(cacheRoot)) {
      const p = path.join(cacheRoot, old);
      if (p !== dir && Date.now() - statSync(p).mtimeMs > 3_600_000) rmSync(p, { recursive: true, force: true });
    }
  }
  lastBuild = dir;
  return dir;
}

/**
 * Containers and networks a test panel made and left (services it never deleted): without this
 * every e2e run keeps a network per service, and Docker's default address pools (about 30
 * networks) run out for the next suites on the machine.
 */
function removeDockerLeftovers(namespace: string | undefined): void {
  if (!namespace) return;
  const docker = (args: string[]) => spawnSync('docker', args, { encoding: 'utf8', timeout: 60_000 });
  const ids = (args: string[]) => (docker(args).stdout ?? '').split('\n').filter(Boolean);
  const label = `label=slipway.namespace=${namespace}`;
  const containers = ids(['ps', '-aq', '--filter', label]);
  if (containers.length) docker(['rm', '-f', ...containers]);
  const networks = ids(['network', 'ls', '-q', '--filter', label]);
  if (networks.length) docker(['network', 'rm', ...networks]);
}

/** `webDir` defaults to this process's last buildWeb() output, else dist/web. */
export async function startPanel(extraEnv: Record<string, string> = {}, webDir = lastBuild ?? path.join(repoRoot, 'dist/web')): Promise<Panel> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'slipway-e2e-'));
  const port = await freePort();
  // Fixed default ports of enabled modules would clash with other panels running on this machine.
  const { modules } = await import('../server/src/modules.js');
  const portDefaults: Record<string, string> = {};
  if (modules.some((m) => m.id === 'containers')) Object.assign(portDefaults, await isolatedModuleEnv(`e2e_${port}`));
  const url = `http://127.0.0.1:${port}`;
  let out = '';
  const child: ChildProcess = spawn(process.execPath, [path.join(repoRoot, 'node_modules/tsx/dist/cli.mjs'), 'server/src/main.ts', 'start'], {
    cwd: repoRoot,
    env: { ...process.env, SLIPWAY_DATA_DIR: dataDir, SLIPWAY_LISTEN: `127.0.0.1:${port}`, SLIPWAY_WEB_DIR: webDir, SLIPWAY_LOG_LEVEL: 'warn', ...portDefaults, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async () => {
    if (child.exitCode === null && child.pid) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 10_000);
      await exited;
      clearTimeout(timer);
    }
    removeDockerLeftovers(portDefaults.SLIPWAY_CONTAINERS_CADDY_SERVER);
    rmSync(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 90_000;
  let setupUrl = '';
  while (!setupUrl) {
    const m = /(http:\/\/\S+\/setup#token=[A-Za-z0-9_-]+)/.exec(out);
    if (m) setupUrl = m[1]!;
    else if (child.exitCode !== null) {
      await stop();
      throw new Error(`panel exited early:\n${out}`);
    } else if (Date.now() > deadline) {
      await stop();
      throw new Error(`panel did not print the setup link in time:\n${out}`);
    } else await new Promise((r) => setTimeout(r, 200));
  }
  return { url, setupUrl, dataDir, output: () => out, stop };
}
