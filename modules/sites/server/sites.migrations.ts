import type { Kysely } from 'kysely';
import { type CoreTables, defineMigrations } from '../../../server/src/sdk.js';

/** The site inventory: what `wo site list/info` last said, per host, so listing never calls `wo`. */
export interface SitesInventoryTable {
  id: string;
  host_id: string;
  domain: string;
  site_type: string;
  cache_type: string | null;
  php_version: string | null;
  enabled: number;
  ssl: number;
  ssl_provider: string | null;
  ssl_expires_at: number | null;
  ssl_days_left: number | null;
  ssl_checked_at: number | null;
  hsts: number | null;
  webroot: string | null;
  db_name: string | null;
  disk_bytes: number | null;
  owner_id: string | null;
  /**
   * `pending`: recorded with its intended owner before `wo site create` ran (job `pending_job_id`),
   * so a create orphaned by a crash is owned, never ownerless; `ready` once WordOps reports it.
   */
  state: 'pending' | 'ready';
  pending_job_id: string | null;
  refreshed_at: number;
  created_at: number;
  updated_at: number;
}

export interface SitesCertAlertsTable {
  id: string;
  host_id: string;
  domain: string;
  kind: 'expiring' | 'expired' | 'renewal_failed';
  days_left: number | null;
  expires_at: number | null;
  message: string;
  created_at: number;
  updated_at: number;
  resolved_at: number | null;
}

/**
 * A WordPress admin password waiting to be shown once to the one user who created the site or
 * reset it (issue 18): sealed with the module's secret box, deleted when shown or the site goes.
 */
export interface SitesWpPasswordsTable {
  host_id: string;
  domain: string;
  /** The only user it is shown to. */
  user_id: string;
  wp_user: string;
  sealed: string;
  created_at: number;
}

export type SitesTables = {
  sites_inventory: SitesInventoryTable;
  sites_cert_alerts: SitesCertAlertsTable;
  sites_wp_passwords: SitesWpPasswordsTable;
};
/** The database as the sites module sees it (`ctx.db`). */
export type SitesDb = Kysely<CoreTables & SitesTables>;

export const sitesMigrations = defineMigrations<SitesTables>({
  sites_0001_init: {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('sites_inventory')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('host_id', 'text', (c) => c.notNull())
        .addColumn('domain', 'text', (c) => c.notNull())
        .addColumn('site_type', 'text', (c) => c.notNull())
        .addColumn('cache_type', 'text')
        .addColumn('php_version', 'text')
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('ssl', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('ssl_provider', 'text')
        .addColumn('ssl_expires_at', 'bigint')
        .addColumn('ssl_days_left', 'integer')
        .addColumn('ssl_checked_at', 'bigint')
        .addColumn('hsts', 'integer')
        .addColumn('webroot', 'text')
        .addColumn('db_name', 'text')
        .addColumn('disk_bytes', 'bigint')
        .addColumn('owner_id', 'text')
        .addColumn('refreshed_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('sites_inventory_host_domain', ['host_id', 'domain'])
        .execute();
      await db.schema.createIndex('sites_inventory_domain').on('sites_inventory').column('domain').execute();
      await db.schema.createIndex('sites_inventory_type').on('sites_inventory').columns(['site_type', 'domain']).execute();
      await db.schema.createIndex('sites_inventory_expiry').on('sites_inventory').column('ssl_expires_at').execute();
      await db.schema.createIndex('sites_inventory_owner').on('sites_inventory').column('owner_id').execute();

      await db.schema
        .createTable('sites_cert_alerts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('host_id', 'text', (c) => c.notNull())
        .addColumn('domain', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('days_left', 'integer')
        .addColumn('expires_at', 'bigint')
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('resolved_at', 'bigint')
        .addUniqueConstraint('sites_cert_alerts_site_kind', ['host_id', 'domain', 'kind'])
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('sites_cert_alerts').execute();
      await db.schema.dropTable('sites_inventory').execute();
    },
  },
  // The list sorts by a column then (domain, host); these indexes serve each sort and filter
  // without a temporary sort of the whole inventory (bench/sites.ts).
  sites_0002_list_indexes: {
    async up(db: Kysely<any>) {
      await db.schema.dropIndex('sites_inventory_domain').execute();
      await db.schema.dropIndex('sites_inventory_type').execute();
      await db.schema.dropIndex('sites_inventory_expiry').execute();
      await db.schema.createIndex('sites_inventory_by_domain').on('sites_inventory').columns(['domain', 'host_id']).execute();
      await db.schema.createIndex('sites_inventory_by_type').on('sites_inventory').columns(['site_type', 'domain', 'host_id']).execute();
      await db.schema.createIndex('sites_inventory_by_expiry').on('sites_inventory').columns(['ssl_expires_at', 'domain', 'host_id']).execute();
      await db.schema.createIndex('sites_inventory_by_php').on('sites_inventory').columns(['php_version', 'domain', 'host_id']).execute();
    },
    async down(db: Kysely<any>) {
      for (const i of ['sites_inventory_by_domain', 'sites_inventory_by_type', 'sites_inventory_by_expiry', 'sites_inventory_by_php']) await db.schema.dropIndex(i).execute();
      await db.schema.createIndex('sites_inventory_domain').on('sites_inventory').column('domain').execute();
      await db.schema.createIndex('sites_inventory_type').on('sites_inventory').columns(['site_type', 'domain']).execute();
      await db.schema.createIndex('sites_inventory_expiry').on('sites_inventory').column('ssl_expires_at').execute();
    },
  },
  // Issue 9, finding 5 and 15: the owner is recorded before `wo site create` runs (a pending row).
  sites_0003_pending: {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('sites_inventory').addColumn('state', 'text', (c) => c.notNull().defaultTo('ready')).execute();
      await db.schema.alterTable('sites_inventory').addColumn('pending_job_id', 'text').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.alterTable('sites_inventory').dropColumn('pending_job_id').execute();
      await db.schema.alterTable('sites_inventory').dropColumn('state').execute();
    },
  },
  // Issue 18, item 3: the new site's admin password, shown once to its creator.
  sites_0004_wp_passwords: {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('sites_wp_passwords')
        .addColumn('host_id', 'text', (c) => c.notNull())
        .addColumn('domain', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('wp_user', 'text', (c) => c.notNull())
        .addColumn('sealed', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('sites_wp_passwords_pk', ['host_id', 'domain'])
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('sites_wp_passwords').execute();
    },
  },
});
