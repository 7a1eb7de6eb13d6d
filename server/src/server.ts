import { chmodSync, lstatSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildApp } from './app.js';
import { listenParts, unixSocketPath, type LoadedConfig } from './config.js';
import { openDatabase } from './db/database.js';
import { enabledModules } from './modules.js';
import { loadOrCreateSecrets } from './platform/secrets.js';

export const SETUP_TOKEN_FILE = 'setup-token';

/** Starts the panel: database, migrations, HTTP, jobs; prints the setup link while no admin exists. */
export async function startServer(config: LoadedConfig) {
  const secrets = loadOrCreateSecrets(config.core.dataDir);
  const database = openDatabase({ url: config.core.databaseUrl, dataDir: config.core.dataDir });
  const app = await buildApp({ config, database, secrets, modules: enabledModules(config.core.modules) });
  const socketPath = unixSocketPath(config.core.listen);
  let defaultUrl: string;
  if (socketPath) {
    await listenOnUnixSocket(app, socketPath);
    defaultUrl = 'http://localhost';
  } else {
    const { host, port } = listenParts(config.core.listen);
    await app.listen({ host, port });
    defaultUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }
  const publicUrl = (config.core.publicUrl ?? defaultUrl).replace(/\/$/, '');
  app.log.info({ url: publicUrl, database: database.dialect }, 'Slipway is listening');

  // Every module's status on the console: a missing engine is reported with its fix, never fatal.
  const statuses = app.slipway.modules.list();
  if (statuses.length) {
    const w = Math.max(...statuses.map((m) => m.id.length));
    process.stderr.write(`\n  Modules:\n${statuses.map((m) => `    ${m.id.padEnd(w)}  ${m.status}${m.reason ? `: ${m.reason}` : ''}${m.fix ? `\n    ${''.padEnd(w)}  fix: ${m.fix}` : ''}`).join('\n')}\n`);
  }

  const firstRun = await app.slipway.auth.prepareFirstRun();
  if (firstRun) {
    const file = path.join(config.core.dataDir, SETUP_TOKEN_FILE);
    writeFileSync(file, `${firstRun.token}\n`, { mode: 0o600 });
    // The setup link goes to the console (stderr), never into the structured log stream.
    process.stderr.write(
      `\n  No administrator exists yet. Open this link to create one (valid until ${new Date(firstRun.expiresAt).toISOString()}):\n\n` +
        `    ${publicUrl}/setup#token=${firstRun.token}\n\n  The token is also in ${file}\n\n`,
    );
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 15000);
    force.unref();
    await app.close();
    await database.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  return app;
}

/** Mode of the unix socket: the panel's group (the reverse proxy is a member) may connect. */
export const UNIX_SOCKET_MODE = 0o660;

/**
 * Listens on a unix socket (SLIPWAY_LISTEN=unix:/run/slipway/slipway.sock). A socket left by a
 * crash is removed first (only a socket: any other file there is an error). The socket is created
 * under the process umask (0077 in the unit, so 0600) and then opened to the group.
 */
export async function listenOnUnixSocket(app: { listen(opts: { path: string }): Promise<string> }, socketPath: string): Promise<void> {
  try {
    const st = lstatSync(socketPath);
    if (!st.isSocket()) throw new Error(`SLIPWAY_LISTEN: ${socketPath} exists and is not a socket`);
    unlinkSync(socketPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await app.listen({ path: socketPath });
  chmodSync(socketPath, UNIX_SOCKET_MODE);
}
