import type { Kysely } from 'kysely';
import { type CoreTables, defineMigrations } from '../../../server/src/sdk.js';

/** The server module's own tables (portable: epoch-ms bigint, JSON as text). */
export type ServerTables = {
  /** 1-minute averages of each host's metric points, kept `retentionDays`. */
  server_metrics_minute: { host_id: string; at: number; data: string };
};
/** The database as the server module sees it (`ctx.db`). */
export type ServerDb = Kysely<CoreTables & ServerTables>;

export const serverMigrations = defineMigrations<ServerTables>({
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
});
