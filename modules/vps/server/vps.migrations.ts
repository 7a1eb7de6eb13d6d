import type { Kysely, Migration } from 'kysely';
import { type CoreTables, defineMigrations } from '../../../server/src/sdk.js';
import { vpsMetricsMigration } from './vps.metrics.js';

/** Portable column types: text ids, epoch-ms bigints, booleans as 0/1 integers, JSON as text. */
export interface VpsPlansTable {
  id: string; name: string; vcpus: number; memory_mb: number; disk_gb: number; bandwidth_gb: number; max_snapshots: number;
  price_label: string | null; public: number; created_at: number; updated_at: number;
}
export interface VpsQuotasTable { user_id: string; max_count: number; max_vcpus: number; max_memory_mb: number; max_disk_gb: number; updated_at: number }
export interface VpsImagesTable {
  id: string; name: string; status: string; reason: string | null; os: string | null; version: string | null; min_disk_gb: number; cloud_init: number;
  public: number; source_format: string | null; sha256: string | null; size_bytes: number | null; virtual_size: number | null; file: string | null;
  kernel: string | null; initrd: string | null; cmdline: string | null; created_at: number; updated_at: number;
}
export interface VpsInstancesTable {
  id: string; owner_id: string; host_id: string; plan_id: string | null; image_id: string; hostname: string; dns_name: string | null; domain_name: string;
  vcpus: number; memory_mb: number; disk_gb: number; network: string; network_name: string | null; mac: string; address: string | null; state: string;
  last_error: string | null; spec: string; created_at: number; updated_at: number;
}
export interface VpsSnapshotsTable { id: string; vps_id: string; name: string; comment: string; created_at: number }
export interface VpsNetworksTable { name: string; host_id: string; kind: string; owner_id: string | null; subnet: string; created_at: number }
export interface VpsAddressesTable { host_id: string; network: string; ip: string; vps_id: string; mac: string; created_at: number }

/** The tables of vps_0001_init (vps_0002_metrics' tables are read by vps.metrics.ts). */
export interface VpsTables {
  vps_plans: VpsPlansTable;
  vps_quotas: VpsQuotasTable;
  vps_images: VpsImagesTable;
  vps_instances: VpsInstancesTable;
  vps_snapshots: VpsSnapshotsTable;
  vps_networks: VpsNetworksTable;
  vps_addresses: VpsAddressesTable;
}
/** The database as the VPS module sees it (`ctx.db`). */
export type VpsDb = Kysely<CoreTables & VpsTables>;

/** Plans, quotas, images, VPSes, snapshots, networks and addresses. Portable SQLite/PostgreSQL schema. */
export const vpsInit: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.createTable('vps_plans')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('vcpus', 'integer', (c) => c.notNull())
      .addColumn('memory_mb', 'integer', (c) => c.notNull())
      .addColumn('disk_gb', 'integer', (c) => c.notNull())
      .addColumn('bandwidth_gb', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('max_snapshots', 'integer', (c) => c.notNull().defaultTo(3))
      .addColumn('price_label', 'text')
      .addColumn('public', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createTable('vps_quotas')
      .addColumn('user_id', 'text', (c) => c.primaryKey())
      .addColumn('max_count', 'integer', (c) => c.notNull())
      .addColumn('max_vcpus', 'integer', (c) => c.notNull())
      .addColumn('max_memory_mb', 'integer', (c) => c.notNull())
      .addColumn('max_disk_gb', 'integer', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createTable('vps_images')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('os', 'text')
      .addColumn('version', 'text')
      .addColumn('min_disk_gb', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('cloud_init', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('public', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('source_format', 'text')
      .addColumn('sha256', 'text')
      .addColumn('size_bytes', 'bigint')
      .addColumn('virtual_size', 'bigint')
      .addColumn('file', 'text')
      .addColumn('kernel', 'text')
      .addColumn('initrd', 'text')
      .addColumn('cmdline', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createTable('vps_instances')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('owner_id', 'text', (c) => c.notNull())
      .addColumn('host_id', 'text', (c) => c.notNull())
      .addColumn('plan_id', 'text')
      .addColumn('image_id', 'text', (c) => c.notNull())
      .addColumn('hostname', 'text', (c) => c.notNull())
      .addColumn('dns_name', 'text')
      .addColumn('domain_name', 'text', (c) => c.notNull().unique())
      .addColumn('vcpus', 'integer', (c) => c.notNull())
      .addColumn('memory_mb', 'integer', (c) => c.notNull())
      .addColumn('disk_gb', 'integer', (c) => c.notNull())
      .addColumn('network', 'text', (c) => c.notNull())
      .addColumn('network_name', 'text')
      .addColumn('mac', 'text', (c) => c.notNull())
      .addColumn('address', 'text')
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('last_error', 'text')
      .addColumn('spec', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('vps_instances_owner_hostname').on('vps_instances').columns(['owner_id', 'hostname']).unique().execute();
    await db.schema.createIndex('vps_instances_host').on('vps_instances').column('host_id').execute();
    await db.schema.createIndex('vps_instances_mac').on('vps_instances').column('mac').unique().execute();
    await db.schema.createTable('vps_snapshots')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('vps_id', 'text', (c) => c.notNull().references('vps_instances.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('comment', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('vps_snapshots_vps').on('vps_snapshots').columns(['vps_id', 'name']).unique().execute();
    await db.schema.createTable('vps_networks')
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('host_id', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('owner_id', 'text')
      .addColumn('subnet', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('vps_networks_pk', ['host_id', 'name'])
      .execute();
    await db.schema.createIndex('vps_networks_subnet').on('vps_networks').columns(['host_id', 'subnet']).unique().execute();
    await db.schema.createTable('vps_addresses')
      .addColumn('host_id', 'text', (c) => c.notNull())
      .addColumn('network', 'text', (c) => c.notNull())
      .addColumn('ip', 'text', (c) => c.notNull())
      .addColumn('vps_id', 'text', (c) => c.notNull())
      .addColumn('mac', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('vps_addresses_pk', ['host_id', 'network', 'ip'])
      .execute();
    await db.schema.createIndex('vps_addresses_vps').on('vps_addresses').column('vps_id').execute();
  },
  async down(db: Kysely<any>) {
    for (const t of ['vps_addresses', 'vps_networks', 'vps_snapshots', 'vps_instances', 'vps_images', 'vps_quotas', 'vps_plans']) await db.schema.dropTable(t).execute();
  },
};

export const vpsMigrations = defineMigrations<VpsTables>({ vps_0001_init: vpsInit, vps_0002_metrics: vpsMetricsMigration });
