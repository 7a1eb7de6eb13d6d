import type { Command } from 'commander';
import { action, load } from './action.js';
import { registerApiCommand } from './api.commands.js';
import { registerAuditCommands } from './audit.commands.js';
import { registerBackupCommands } from './backup.commands.js';
import { registerUserCommands } from './user.commands.js';

/** Every `slipway` subcommand besides `start`. */
export function registerCommands(program: Command): void {
  program
    .command('migrate')
    .description('Apply pending database migrations (core and every enabled module) and exit')
    .action(
      action(async () => {
        const { CLI_ACTOR, cliAuditLog, cliConfig, moduleMigrations } = await load.context();
        const { migrate, openDatabase } = await load.database();
        const config = await cliConfig();
        const database = openDatabase({ url: config.core.databaseUrl, dataDir: config.core.dataDir });
        try {
          const applied = await migrate(database.db, await moduleMigrations());
          if (applied.length) {
            const { loadOrCreateSecrets } = await import('../platform/secrets.js');
            await cliAuditLog(database, loadOrCreateSecrets(config.core.dataDir), config.core.dataDir).record({ actor: CLI_ACTOR, action: 'panel.migrate', details: { applied } });
          }
          process.stdout.write(applied.length ? `Applied ${applied.length} migration(s): ${applied.join(', ')}\n` : 'Database is up to date.\n');
        } finally {
          await database.close();
        }
      }),
    );
  registerUserCommands(program);
  registerAuditCommands(program);
  registerBackupCommands(program);
  registerApiCommand(program);
  program
    .command('doctor')
    .description('Check Node, the data dir, the database and migration level, and which engines are installed or reachable')
    .option('--json', 'print the checks as JSON')
    .action(
      action(async (opts: { json?: boolean }) => {
        const { runDoctor, formatChecks } = await load.doctor();
        const checks = await runDoctor();
        process.stdout.write(opts.json ? `${JSON.stringify(checks, null, 2)}\n` : formatChecks(checks));
        return checks.some((c) => c.required && c.status === 'fail') ? 1 : 0;
      }),
    );
}
