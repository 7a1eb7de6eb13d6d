import { ConfigError } from '../config.js';
import { AppError } from '../platform/errors.js';

/** Runs a command body; known errors become one clear line on stderr and an exit code. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      process.exitCode = code ?? 0;
    } catch (e) {
      if (e instanceof ConfigError) {
        process.stderr.write(`${e.message}\n`);
        process.exitCode = 2;
        return;
      }
      if (e instanceof AppError) {
        process.stderr.write(`error: ${e.message}\n`);
        process.exitCode = 1;
        return;
      }
      throw e;
    }
  };
}

/** Reads all of stdin (for --password-stdin); trailing newline removed. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * The command implementations, loaded when a command runs: `slipway --help` then does not pay
 * for the database drivers, auth and every module.
 */
export const load = {
  context: () => import('./context.js'),
  backup: () => import('../platform/backup/backup.service.js'),
  doctor: () => import('./doctor.js'),
  schemas: () => import('../platform/auth/auth.schemas.js'),
  database: () => import('../db/database.js'),
};
