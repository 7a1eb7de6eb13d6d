import type { Kysely, Migration } from 'kysely';
import { type CoreTables, defineMigrations } from '../../../server/src/sdk.js';

export interface ServicesTable {
  id: string;
  name: string;
  host_id: string;
  owner_id: string | null;
  spec: string;
  state: string;
  last_error: string | null;
  wake_count: number;
  sleep_count: number;
  last_activity_at: number | null;
  last_wake_at: number | null;
  created_at: number;
  updated_at: number;
}
export interface WakesTable {
  id: string;
  service_id: string;
  at: number;
  trigger: string;
  outcome: string;
  start_to_ready_ms: number | null;
  first_byte_ms: number | null;
  error: string | null;
}
export type ContainersTables = {
  containers_services: ServicesTable;
  containers_wakes: WakesTable;
};
/** The database as the containers module sees it (`ctx.db`). */
export type ContainersDb = Kysely<CoreTables & ContainersTables>;

/** Services (spec as JSON text) and the history of their wakes. Portable SQLite/PostgreSQL schema. */
export const containersInit: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('containers_services')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('host_id', 'text', (c) => c.notNull())
      .addColumn('owner_id', 'text')
      .addColumn('spec', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('last_error', 'text')
      .addColumn('wake_count', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('sleep_count', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('last_activity_at', 'bigint')
      .addColumn('last_wake_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('containers_services_owner').on('containers_services').column('owner_id').execute();
    await db.schema
      .createTable('containers_wakes')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('service_id', 'text', (c) => c.notNull().references('containers_services.id').onDelete('cascade'))
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('trigger', 'text', (c) => c.notNull())
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('start_to_ready_ms', 'integer')
      .addColumn('first_byte_ms', 'integer')
      .addColumn('error', 'text')
      .execute();
    await db.schema.createIndex('containers_wakes_service_at').on('containers_wakes').columns(['service_id', 'at']).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('containers_wakes').execute();
    await db.schema.dropTable('containers_services').execute();
  },
};

export const containersMigrations = defineMigrations<ContainersTables>({ containers_0001_init: containersInit });
