import type { Kysely, Migration } from 'kysely';

/**
 * Hostname ownership (issue 9, finding 15): which owner claims a hostname, across modules (site
 * domains; container and app hostnames later) and hosts. `hostname` is the normalised name
 * (lower-case punycode, no trailing dot, no leading `www.`); `resources` is a JSON array of the
 * resource ids that use it (`site:<host>:<domain>`, …). `owner_id` null: found on a host, owned by
 * nobody yet (only an admin may use it).
 */
export const hostnameClaimsMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('hostname_claims')
      .addColumn('hostname', 'text', (c) => c.primaryKey())
      .addColumn('owner_id', 'text')
      .addColumn('resources', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('hostname_claims_owner').on('hostname_claims').column('owner_id').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('hostname_claims').execute();
  },
};
