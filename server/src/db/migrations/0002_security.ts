import type { Kysely, Migration } from 'kysely';

/**
 * Security hardening (issue 9):
 * - `auth_challenges`: the second sign-in step's token (mfaToken) is single-use; its id is the
 *   token's `jti`, consumed atomically when the step succeeds.
 * - `audit_log.chain`: which hash scheme an entry was chained with. 1 = the original SHA-256 chain
 *   (rows written before this migration keep it and are verified with it), 2 = HMAC-SHA256 keyed
 *   from the panel's data key. Once a version-2 entry exists, every later entry must be version 2.
 */
export const securityMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('auth_challenges')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('purpose', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .execute();
    await db.schema.createIndex('auth_challenges_expires').on('auth_challenges').column('expires_at').execute();

    await db.schema.alterTable('audit_log').addColumn('chain', 'integer', (c) => c.notNull().defaultTo(1)).execute();
  },
};
