import type { Kysely, Migration } from 'kysely';

/**
 * Lifecycle policies (issue 12): one row per resource that carries an expiry, whatever module owns
 * it (`module` + `resource_type` + `resource_id`). `phase` walks active → notified → expired, and
 * the row goes when the resource is deleted after its grace period. Portable SQLite/PostgreSQL.
 */
export const lifecycleMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('lifecycle_policies')
      .addColumn('resource_type', 'text', (c) => c.notNull())
      .addColumn('resource_id', 'text', (c) => c.notNull())
      .addColumn('module', 'text', (c) => c.notNull())
      .addColumn('owner_id', 'text')
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('notify_days', 'integer', (c) => c.notNull())
      .addColumn('grace_days', 'integer', (c) => c.notNull())
      .addColumn('on_expiry', 'text', (c) => c.notNull())
      .addColumn('phase', 'text', (c) => c.notNull())
      .addColumn('notified_at', 'bigint')
      .addColumn('expired_at', 'bigint')
      .addColumn('last_error', 'text')
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('lifecycle_policies_pk', ['resource_type', 'resource_id'])
      .execute();
    await db.schema.createIndex('lifecycle_policies_due').on('lifecycle_policies').columns(['module', 'phase', 'expires_at']).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('lifecycle_policies').execute();
  },
};
