import type { Kysely, Migration } from 'kysely';

/** The server module's own tables (portable: epoch-ms bigint, JSON as text). */
export interface ServerTables {
  /** 1-minute averages of each host's metric points, kept `retentionDays`. */
  server_metrics_minute: { host_id: string; at: number; data: string };
}

export const serverMigrations: Record<string, Migration> = {
  server_0001_init: {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('server_metrics_minute')
        .addColumn('host_id', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('server_metrics_minute_pk', ['host_id', 'at'])
        .execute();
      await db.schema.createIndex('server_metrics_minute_at').on('server_metrics_minute').column('at').execute();
    },
  },
};
