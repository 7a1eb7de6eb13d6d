import type { Command } from 'commander';
import { action, load } from './action.js';

/** `slipway audit verify`: walks the hash chain; exit 1 and names the first broken entry. */
export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('Audit log tools');
  audit
    .command('verify')
    .description('Recompute the audit log hash chain; exits 1 and names the first entry that was altered, removed or reordered')
    .action(
      action(async () => {
        const ctx = await (await load.context()).openCliContext();
        try {
          const r = await ctx.audit.verify();
          if (r.ok) {
            process.stdout.write(`Audit log intact: ${r.checked} entries verified.\n`);
            return 0;
          }
          const row = await ctx.database.db.selectFrom('audit_log').select(['id', 'at', 'action', 'actor_name']).where('seq', '=', r.brokenAt!).executeTakeFirst();
          const where = row
            ? `entry #${r.brokenAt} (id ${row.id}, ${row.action} by ${row.actor_name ?? 'unknown'} at ${new Date(Number(row.at)).toISOString()})`
            : `entry #${r.brokenAt}`;
          process.stdout.write(`Audit log BROKEN at ${where}: ${r.reason}. ${r.checked} entries before it are intact.\n`);
          return 1;
        } finally {
          await ctx.close();
        }
      }),
    );
}
