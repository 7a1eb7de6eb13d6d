import type { Command } from 'commander';
import { action, load } from './action.js';

/**
 * `slipway audit verify`: walks the HMAC chain and checks its end against the last published head
 * (the data dir's audit-head.json, or `--head <seq>:<hash>` taken from the journal or a backup
 * manifest); exit 1 and names the first broken entry, or the deleted tail.
 */
export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('Audit log tools');
  audit
    .command('verify')
    .description('Recompute the audit log hash chain and compare its end with the last published head; exits 1 and names the first entry that was altered, removed or reordered, or the deleted tail')
    .option('--head <seq:hash>', 'the head to check against (from the journal line "audit head" or a backup manifest); default: audit-head.json in the data dir')
    .action(
      action(async (opts: { head?: string }) => {
        const { parseAuditHead } = await import('../platform/audit/audit.service.js');
        const given = opts.head === undefined ? undefined : parseAuditHead(opts.head);
        if (given === null) {
          process.stderr.write('error: --head must be <seq>:<64 hex digits>, as in the "audit head" log line\n');
          return 2;
        }
        const ctx = await (await load.context()).openCliContext();
        try {
          const r = await ctx.audit.verify(given ? { publishedHead: given } : {});
          if (r.ok) {
            const against = r.publishedHead ? ` up to the published head #${r.publishedHead.seq}` : ' (no published head to compare with)';
            process.stdout.write(`Audit log intact: ${r.checked} entries verified${against}.\n`);
            if (r.head) process.stdout.write(`Head: ${r.head.seq}:${r.head.hash}\n`);
            return 0;
          }
          if (r.brokenAt === undefined) {
            process.stdout.write(`Audit log BROKEN: ${r.reason}.\n`);
            return 1;
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
