import type { Kysely } from 'kysely';
import { defineMigrations } from '../../../server/src/sdk.js';

/**
 * The apps module's tables; portable between SQLite and PostgreSQL: text UUIDv7 ids, epoch-ms
 * integers (`bigint`), booleans as 0/1 integers, JSON as text.
 */

/** What Dokku last said about each app (so listing never calls `dokku`), plus who owns it. */
export interface AppsInventoryTable {
  id: string;
  host_id: string;
  name: string;
  /** Recorded before `apps:create` runs; null for apps found on the host (an admin assigns them). */
  owner_id: string | null;
  /** `pending` while the panel's own `apps:create` runs; `ready` once Dokku reports the app. */
  state: 'pending' | 'ready';
  status: 'running' | 'stopped' | 'not_deployed' | 'unknown';
  /** git deploy-source: `docker-image`, `git-sync`, `git-push`…; '' before the first deploy. */
  deploy_source: string;
  image: string | null;
  /** The deployed commit (git:report sha) when deployed from git. */
  git_commit: string | null;
  /** `<remote>` of a git:sync deploy. */
  git_remote: string | null;
  /** JSON array of host names. */
  domains: string;
  url: string | null;
  /** JSON object: process type → count. */
  scale: string;
  processes: number;
  last_deploy_job_id: string | null;
  last_deploy_outcome: string | null;
  last_deploy_at: number | null;
  refreshed_at: number;
  created_at: number;
  updated_at: number;
}

/** A successful deploy, numbered per app; rollback redeploys exactly its image or commit. */
export interface AppsReleasesTable {
  id: string;
  host_id: string;
  app_name: string;
  number: number;
  source_kind: 'image' | 'git';
  image: string | null;
  repo: string | null;
  ref: string | null;
  git_commit: string | null;
  /** The release this one rolled back to. */
  rollback_of: number | null;
  actor_id: string | null;
  actor_name: string | null;
  /** HMAC of the app's env at deploy time (a change is visible, values are not). */
  config_digest: string | null;
  duration_ms: number | null;
  outcome: string;
  job_id: string;
  build_id: string | null;
  created_at: number;
}

/** Every deploy asked for (queued, running, finished), with its job and what Dokku said happened. */
export interface AppsDeploysTable {
  job_id: string;
  host_id: string;
  app_name: string;
  kind: 'image' | 'git' | 'rollback';
  image: string | null;
  repo: string | null;
  ref: string | null;
  rollback_of: number | null;
  actor_id: string | null;
  actor_name: string | null;
  requested_at: number;
  started_at: number | null;
  finished_at: number | null;
  /** null while queued or running: succeeded, failed, cancelled, interrupted. */
  outcome: string | null;
  /** What `builds:list` says about the build (after a crash: abandoned, canceled…). */
  build_id: string | null;
  build_status: string | null;
  message: string | null;
  release_number: number | null;
}

/** Env keys marked secret, their values sealed (AES-256-GCM) with a key derived from the data key. */
export interface AppsSecretsTable {
  host_id: string;
  app_name: string;
  key: string;
  sealed: string;
  updated_at: number;
}

/**
 * The certificate watch (issue 11, as the sites module watches WordOps' certificates): what
 * `letsencrypt:report` last said per app, and the alert it raised (null: none).
 */
export interface AppsCertificatesTable {
  host_id: string;
  app_name: string;
  /** 1 while Let's Encrypt is enabled for the app. */
  active: number;
  expires_at: number | null;
  checked_at: number;
  alert_kind: 'expiring' | 'expired' | null;
  days_left: number | null;
  message: string | null;
  /** When the current alert was raised (a repeat check keeps it). */
  alert_at: number | null;
}

export interface AppsTables {
  apps_certificates: AppsCertificatesTable;
  apps_inventory: AppsInventoryTable;
  apps_releases: AppsReleasesTable;
  apps_deploys: AppsDeploysTable;
  apps_secrets: AppsSecretsTable;
}

export const appsMigrations = defineMigrations<AppsTables>({
  apps_0001_init: {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('apps_inventory')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('host_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('owner_id', 'text')
        .addColumn('state', 'text', (c) => c.notNull().defaultTo('ready'))
        .addColumn('status', 'text', (c) => c.notNull().defaultTo('unknown'))
        .addColumn('deploy_source', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('image', 'text')
        .addColumn('git_commit', 'text')
        .addColumn('git_remote', 'text')
        .addColumn('domains', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('url', 'text')
        .addColumn('scale', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('processes', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_deploy_job_id', 'text')
        .addColumn('last_deploy_outcome', 'text')
        .addColumn('last_deploy_at', 'bigint')
        .addColumn('refreshed_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('apps_inventory_host_name', ['host_id', 'name'])
        .execute();
      await db.schema.createIndex('apps_inventory_by_name').on('apps_inventory').columns(['name', 'host_id']).execute();
      await db.schema.createIndex('apps_inventory_by_owner').on('apps_inventory').columns(['owner_id', 'name']).execute();
      await db.schema.createIndex('apps_inventory_by_status').on('apps_inventory').columns(['status', 'name']).execute();

      await db.schema
        .createTable('apps_releases')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('host_id', 'text', (c) => c.notNull())
        .addColumn('app_name', 'text', (c) => c.notNull())
        .addColumn('number', 'integer', (c) => c.notNull())
        .addColumn('source_kind', 'text', (c) => c.notNull())
        .addColumn('image', 'text')
        .addColumn('repo', 'text')
        .addColumn('ref', 'text')
        .addColumn('git_commit', 'text')
        .addColumn('rollback_of', 'integer')
        .addColumn('actor_id', 'text')
        .addColumn('actor_name', 'text')
        .addColumn('config_digest', 'text')
        .addColumn('duration_ms', 'bigint')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('build_id', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('apps_releases_app_number', ['host_id', 'app_name', 'number'])
        .addUniqueConstraint('apps_releases_job', ['job_id'])
        .execute();

      await db.schema
        .createTable('apps_deploys')
        .addColumn('job_id', 'text', (c) => c.primaryKey())
        .addColumn('host_id', 'text', (c) => c.notNull())
        .addColumn('app_name', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('image', 'text')
        .addColumn('repo', 'text')
        .addColumn('ref', 'text')
        .addColumn('rollback_of', 'integer')
        .addColumn('actor_id', 'text')
        .addColumn('actor_name', 'text')
        .addColumn('requested_at', 'bigint', (c) => c.notNull())
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .addColumn('outcome', 'text')
        .addColumn('build_id', 'text')
        .addColumn('build_status', 'text')
        .addColumn('message', 'text')
        .addColumn('release_number', 'integer')
        .execute();
      await db.schema.createIndex('apps_deploys_by_app').on('apps_deploys').columns(['host_id', 'app_name', 'job_id']).execute();
      await db.schema.createIndex('apps_deploys_open').on('apps_deploys').columns(['outcome', 'job_id']).execute();

      await db.schema
        .createTable('apps_secrets')
        .addColumn('host_id', 'text', (c) => c.notNull())
        .addColumn('app_name', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('sealed', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('apps_secrets_pk', ['host_id', 'app_name', 'key'])
        .execute();
    },
    async down(db: Kysely<any>) {
      for (const t of ['apps_secrets', 'apps_deploys', 'apps_releases', 'apps_inventory']) await db.schema.dropTable(t).execute();
    },
  },
  apps_0002_certificates: {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('apps_certificates')
        .addColumn('host_id', 'text', (c) => c.notNull())
        .addColumn('app_name', 'text', (c) => c.notNull())
        .addColumn('active', 'integer', (c) => c.notNull())
        .addColumn('expires_at', 'bigint')
        .addColumn('checked_at', 'bigint', (c) => c.notNull())
        .addColumn('alert_kind', 'text')
        .addColumn('days_left', 'integer')
        .addColumn('message', 'text')
        .addColumn('alert_at', 'bigint')
        .addPrimaryKeyConstraint('apps_certificates_pk', ['host_id', 'app_name'])
        .execute();
      await db.schema.createIndex('apps_certificates_alerts').on('apps_certificates').columns(['alert_kind', 'days_left']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('apps_certificates').execute();
    },
  },
});
