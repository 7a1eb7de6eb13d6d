import type { Command } from 'commander';
import { NotFoundError, ValidationError } from '../platform/errors.js';
import { ROLES } from '../platform/rbac/roles.js';
import { action, load, readStdin } from './action.js';
import type { CliContext } from './context.js';

function parseOrThrow<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } }, value: unknown): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new ValidationError(r.error.issues.map((i) => `${i.path.map(String).join('.') || 'value'}: ${i.message}`).join('; '));
}

async function withContext<T>(fn: (ctx: CliContext) => Promise<T>): Promise<T> {
  const ctx = await (await load.context()).openCliContext();
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

async function userIdOf(ctx: CliContext, username: string): Promise<string> {
  const name = parseOrThrow((await load.schemas()).Username, username);
  const row = await ctx.auth.users.byLogin(name);
  if (!row) throw new NotFoundError('User', name);
  return row.id;
}

/** `slipway user …`: the same users service (rules, audit) as the API, acting as `cli`. */
export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('Manage panel users (changes are audited as actor "cli")');

  user
    .command('create')
    .description('Create a user. Without --password-stdin a temporary password is printed once and must be changed at first sign-in.')
    .requiredOption('--username <name>', 'login name: 2-32 of a-z 0-9 . _ -')
    .requiredOption('--email <address>', 'e-mail address')
    .requiredOption('--role <role>', `one of: ${ROLES.join(', ')}`)
    .option('--password-stdin', 'read the password from standard input (never from an argument: it would show in ps and shell history)')
    .action(
      action(async (opts: { username: string; email: string; role: string; passwordStdin?: boolean }) => {
        const password = opts.passwordStdin ? await readStdin() : undefined;
        const { CLI_ACTOR } = await load.context();
        const input = parseOrThrow((await load.schemas()).CreateUserBody, { username: opts.username, email: opts.email, role: opts.role, password });
        const { user: created, temporaryPassword } = await withContext((ctx) => ctx.auth.users.create(CLI_ACTOR, input));
        process.stdout.write(`Created user ${created.username} (${created.role}), id ${created.id}\n`);
        if (temporaryPassword) process.stdout.write(`Temporary password (shown once; must be changed at first sign-in): ${temporaryPassword}\n`);
      }),
    );

  user
    .command('reset-password')
    .description('Set a temporary password (printed once), force a change at next sign-in and end all sessions')
    .argument('<username>', 'the user')
    .action(
      action(async (username: string) => {
        const { CLI_ACTOR } = await load.context();
        const r = await withContext(async (ctx) => ctx.auth.users.resetPassword(CLI_ACTOR, await userIdOf(ctx, username)));
        process.stdout.write(`Password of ${r.user.username} reset; all sessions ended.\n`);
        process.stdout.write(`Temporary password (shown once; must be changed at next sign-in): ${r.temporaryPassword}\n`);
      }),
    );

  user
    .command('reset-2fa')
    .description('Remove a user\'s two-factor enrolment and recovery codes (lost device); ends all sessions')
    .argument('<username>', 'the user')
    .action(
      action(async (username: string) => {
        const { CLI_ACTOR } = await load.context();
        const u = await withContext(async (ctx) => ctx.auth.users.resetTwoFactor(CLI_ACTOR, await userIdOf(ctx, username)));
        process.stdout.write(`Two-factor authentication of ${u.username} removed; they sign in with the password and enrol again.\n`);
      }),
    );
}
