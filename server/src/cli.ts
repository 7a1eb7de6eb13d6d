import { Command } from 'commander';
import { ConfigError, loadConfig } from './config.js';
import { modules } from './modules.js';
import { startServer } from './server.js';

/** The `slipway` command. Subcommands beyond `start` are added by cli-commands.ts. */
export async function runCli(argv: string[]): Promise<void> {
  const program = new Command('slipway').description('Slipway control panel').showHelpAfterError();
  program
    .command('start')
    .description('Start the panel (HTTP API, web console, job workers)')
    .action(async () => {
      try {
        await startServer(loadConfig(process.env, modules.map((m) => m.id)));
      } catch (e) {
        if (e instanceof ConfigError) {
          process.stderr.write(`${e.message}\n`);
          process.exit(2);
        }
        throw e;
      }
    });
  await program.parseAsync(argv);
}
