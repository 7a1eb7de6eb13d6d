import { defineMigrations } from '../../../server/src/sdk.js';
import type { Kysely, Migration } from 'kysely';
import type { NetbootTables } from './netboot.repo.js';

/**
 * Images and their versions, machines, and boot sessions. Portable SQLite/PostgreSQL schema (text
 * UUIDv7 ids, epoch-ms bigints, JSON as text). The database is the record a panel restart rebuilds
 * targets and exports from; tgtd and the writeback directory are reconciled against it.
 */
export const netbootInit: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('netboot_images')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      /** uploading | converting | ready | failed */
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('error', 'text')
      .addColumn('created_by', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('netboot_image_versions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('image_id', 'text', (c) => c.notNull().references('netboot_images.id').onDelete('restrict'))
      .addColumn('number', 'integer', (c) => c.notNull())
      /** The file under the module's image root (self-contained: never a backing chain). */
      .addColumn('file', 'text', (c) => c.notNull().unique())
      .addColumn('format', 'text', (c) => c.notNull())
      .addColumn('virtual_size', 'bigint', (c) => c.notNull())
      .addColumn('file_size', 'bigint', (c) => c.notNull())
      .addColumn('sha256', 'text')
      .addColumn('comment', 'text', (c) => c.notNull())
      .addColumn('author_id', 'text')
      /** The machine whose writeback was committed into this version, if any. */
      .addColumn('from_machine_id', 'text')
      .addColumn('parent_version_id', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('netboot_image_versions_image_number', ['image_id', 'number'])
      .execute();
    await db.schema
      .createTable('netboot_machines')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('mac', 'text', (c) => c.notNull().unique())
      .addColumn('fixed_ip', 'text', (c) => c.unique())
      .addColumn('group_name', 'text')
      /** pending (registered by an unknown MAC's boot) | active */
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('image_id', 'text', (c) => c.references('netboot_images.id').onDelete('restrict'))
      /** null: the image's latest version */
      .addColumn('version_id', 'text', (c) => c.references('netboot_image_versions.id').onDelete('restrict'))
      /** iscsi | local | menu */
      .addColumn('boot_mode', 'text', (c) => c.notNull())
      .addColumn('keep_writeback', 'integer', (c) => c.notNull().defaultTo(0))
      /** The version the current writeback was made on (a kept writeback is only valid on it). */
      .addColumn('writeback_version_id', 'text')
      .addColumn('boot_token', 'text', (c) => c.notNull().unique())
      .addColumn('notes', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('last_script_at', 'bigint')
      .addColumn('last_boot_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('netboot_machines_version').on('netboot_machines').column('version_id').execute();
    await db.schema
      .createTable('netboot_sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('machine_id', 'text', (c) => c.notNull().references('netboot_machines.id').onDelete('cascade'))
      .addColumn('version_id', 'text', (c) => c.notNull().references('netboot_image_versions.id').onDelete('restrict'))
      /** starting | ready | stopping | stopped | failed */
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('tid', 'integer')
      .addColumn('target_iqn', 'text', (c) => c.notNull())
      .addColumn('initiator_iqn', 'text', (c) => c.notNull())
      .addColumn('export_file', 'text')
      .addColumn('daemon_pid', 'integer')
      .addColumn('job_id', 'text')
      .addColumn('error', 'text')
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('ready_at', 'bigint')
      .addColumn('stopped_at', 'bigint')
      .execute();
    await db.schema.createIndex('netboot_sessions_machine_started').on('netboot_sessions').columns(['machine_id', 'started_at']).execute();
    await db.schema.createIndex('netboot_sessions_state').on('netboot_sessions').column('state').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('netboot_sessions').execute();
    await db.schema.dropTable('netboot_machines').execute();
    await db.schema.dropTable('netboot_image_versions').execute();
    await db.schema.dropTable('netboot_images').execute();
  },
};

/** Boot server settings an operator changed in the console (over the SLIPWAY_NETBOOT_* defaults). */
export const netbootSettings: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('netboot_settings')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('netboot_settings').execute();
  },
};

/**
 * Per-machine incoming CHAP (the secret sealed with ctx.secretBox('netboot chap v1'); null: CHAP
 * off) and image edits (an image version booted as a VM through the `vm-disk-editor` capability).
 */
export const netbootChapEdits: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('netboot_machines').addColumn('chap_secret', 'text').execute();
    await db.schema.alterTable('netboot_machines').addColumn('chap_rotated_at', 'bigint').execute();
    await db.schema
      .createTable('netboot_edits')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('image_id', 'text', (c) => c.notNull().references('netboot_images.id').onDelete('restrict'))
      .addColumn('version_id', 'text', (c) => c.notNull().references('netboot_image_versions.id').onDelete('restrict'))
      /** starting | running | stopped | committing | committed | discarded | failed */
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('overlay', 'text', (c) => c.notNull())
      /** The editor's handle of its VM (the vps module's VPS id). */
      .addColumn('vm_id', 'text')
      .addColumn('console_url', 'text')
      /** The job now working on the edit (start or commit); reconcile settles an edit whose job is over. */
      .addColumn('job_id', 'text')
      .addColumn('committed_version_id', 'text')
      .addColumn('error', 'text')
      .addColumn('created_by', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('netboot_edits_version').on('netboot_edits').column('version_id').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('netboot_edits').execute();
    await db.schema.alterTable('netboot_machines').dropColumn('chap_rotated_at').execute();
    await db.schema.alterTable('netboot_machines').dropColumn('chap_secret').execute();
  },
};

export const netbootMigrations = defineMigrations<NetbootTables>({ netboot_0001_init: netbootInit, netboot_0002_settings: netbootSettings, netboot_0003_chap_edits: netbootChapEdits });
