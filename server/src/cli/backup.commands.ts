import type { Command } from 'commander';
import { action, load } from './action.js';

function formatBytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function registerBackupCommands(program: Command): void {
  program
    .command('backup')
    .description('Write a consistent snapshot of the panel (database, secrets.json, ssh/ keys, manifest) to one .tar.gz; safe while the panel runs')
    .requiredOption('--out <file>', 'archive to write (mode 0600: it holds the panel\'s secrets)')
    .action(
      action(async (opts: { out: string }) => {
        const { CLI_ACTOR, cliConfig, openCliContext } = await load.context();
        const { createBackup } = await load.backup();
        const config = await cliConfig();
        const started = Date.now();
        const r = await createBackup({ dataDir: config.core.dataDir, databaseUrl: config.core.databaseUrl, out: opts.out });
        const ctx = await openCliContext();
        try {
          await ctx.audit.record({ actor: CLI_ACTOR, action: 'panel.backup', target: { type: 'backup', id: r.out }, details: { bytes: r.bytes, dialect: r.manifest.database.dialect } });
        } finally {
          await ctx.close();
        }
        const rows = Object.values(r.manifest.database.tables).reduce((a, b) => a + b, 0);
        process.stdout.write(
          `Backup written to ${r.out} (${formatBytes(r.bytes)}, ${r.manifest.database.dialect}, ${rows} rows in ${Object.keys(r.manifest.database.tables).length} tables, ${r.manifest.files.length} files) in ${Date.now() - started} ms.\n` +
            (r.manifest.auditHead ? `Audit head at backup time: ${r.manifest.auditHead} (check later with: slipway audit verify --head ${r.manifest.auditHead})\n` : '') +
            'It contains the panel\'s secrets and SSH key: store it encrypted.\n',
        );
      }),
    );

  program
    .command('restore')
    .description('Restore a backup into a data dir (and the configured database); refuses a non-empty target unless --force. Stop the panel first.')
    .requiredOption('--from <file>', 'archive written by `slipway backup`')
    .option('--data-dir <dir>', 'target data dir (default: SLIPWAY_DATA_DIR)')
    .option('--force', 'overwrite an existing panel in the target')
    .action(
      action(async (opts: { from: string; dataDir?: string; force?: boolean }) => {
        const { CLI_ACTOR, cliConfig, moduleMigrations, openCliContext } = await load.context();
        const { restoreBackup } = await load.backup();
        const env = opts.dataDir ? { ...process.env, SLIPWAY_DATA_DIR: opts.dataDir } : process.env;
        const config = await cliConfig(env);
        const manifest = await restoreBackup({
          from: opts.from, dataDir: config.core.dataDir, databaseUrl: config.core.databaseUrl, force: !!opts.force, migrations: await moduleMigrations(),
        });
        const ctx = await openCliContext(env);
        try {
          await ctx.audit.record({ actor: CLI_ACTOR, action: 'panel.restore', target: { type: 'backup', id: opts.from }, details: { backupCreatedAt: manifest.createdAt, fromHost: manifest.hostname, force: !!opts.force } });
        } finally {
          await ctx.close();
        }
        process.stdout.write(`Restored the backup of ${manifest.hostname} from ${manifest.createdAt} into ${config.core.dataDir} (${manifest.database.dialect}). Start the panel with: slipway start\n`);
      }),
    );
}
