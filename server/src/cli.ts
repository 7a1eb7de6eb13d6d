import { Command } from 'commander';
import { registerCommands } from './cli/index.js';
import { ConfigError, loadConfig } from './config.js';

/** The `slipway` command: `start` here, the operator tools in cli/. */
export async function runCli(argv: string[]): Promise<void> {
  const program = new Command('slipway').description('Slipway control panel').showHelpAfterError();
  program
    .command('start')
    .description('Start the panel (HTTP API, web console, job workers)')
    .action(async () => {
      try {
        // Loaded on use so `--help` and the small commands start fast.
        const { modules } = await import('./modules.js');
        const { startServer } = await import('./server.js');
        await startServer(loadConfig(process.env, modules.map((m) => m.id)));
      } catch (e) {
        if (e instanceof ConfigError) {
          process.stderr.write(`${e.message}\n`);
          process.exit(2);
        }
        throw e;
      }
    });
  registerCommands(program);
  await program.parseAsync(argv);
}
