import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Panel {
  url: string;
  /** The printed first-run link, `<url>/setup#token=…`. */
  setupUrl: string;
  dataDir: string;
  output(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Builds the console into its own temp folder (so parallel runs and rebuilds of dist/web by others
 * cannot pull files from under a running panel). Returns the folder; remove it when done.
 */
let lastBuild: string | undefined;

export function buildWeb(): string {
  const outDir = mkdtempSync(path.join(tmpdir(), 'slipway-web-'));
  process.once('exit', () => rmSync(outDir, { recursive: true, force: true }));
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'web/vite.config.ts', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], { cwd: repoRoot, encoding: 'utf8' });
  if (r.status !== 0 || !existsSync(path.join(outDir, 'index.html'))) throw new Error(`web build failed:\n${r.stdout}\n${r.stderr}`);
  lastBuild = outDir;
  return outDir;
}

/** Starts a panel process (tsx) on a fresh data dir and a free port; resolves once it printed the setup link. */
/** `webDir` defaults to this process's last buildWeb() output, else dist/web. */
export async function startPanel(extraEnv: Record<string, string> = {}, webDir = lastBuild ?? path.join(repoRoot, 'dist/web')): Promise<Panel> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'slipway-e2e-'));
  const port = await freePort();
  // Fixed default ports of enabled modules would clash with other panels running on this machine.
  const { modules } = await import('../server/src/modules.js');
  const portDefaults: Record<string, string> = {};
  if (modules.some((m) => m.id === 'containers') && !extraEnv.SLIPWAY_CONTAINERS_ACTIVATOR_PORT) portDefaults.SLIPWAY_CONTAINERS_ACTIVATOR_PORT = String(await freePort());
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
