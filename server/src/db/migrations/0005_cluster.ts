import type { Kysely, Migration } from 'kysely';

/**
 * Replicas (issue 15): several panel processes on one PostgreSQL.
 * - `cluster_replicas`: one row per running panel process, refreshed by its heartbeat
 *   (GET /api/v1/cluster); `duties` is a JSON array of the machine-local duties it holds.
 * - `cluster_leases`: one row per exactly-once schedule; `holder` runs it until `expires_at`
 *   passes without a renewal, `next_run_at` is when the schedule is next due (shared by all replicas).
 * - `cluster_payloads`: bodies of cross-replica messages too large for a NOTIFY payload; the
 *   notification carries the row's id. Pruned after a few minutes.
 * SQLite (one process) creates the same tables and uses them for its single replica.
 */
export const clusterMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('cluster_replicas')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('address', 'text', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('pid', 'integer', (c) => c.notNull())
      .addColumn('hostname', 'text', (c) => c.notNull())
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
      .addColumn('stopped_at', 'bigint')
      .addColumn('duties', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('cluster_leases')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('holder', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('next_run_at', 'bigint', (c) => c.notNull())
      .addColumn('runs', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('cluster_payloads')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('cluster_payloads_created').on('cluster_payloads').column('created_at').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('cluster_payloads').execute();
    await db.schema.dropTable('cluster_leases').execute();
    await db.schema.dropTable('cluster_replicas').execute();
  },
};
