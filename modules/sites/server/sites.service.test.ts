import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditLog, EventBus, HostnameClaims, HostRegistry, type JobService, migrate, type PublishedEvent,
} from '../../../server/src/testing/index.js';
import { createTestDatabase, type TestDatabase } from '../../../server/src/testing/test-db.js';
import { SitesConfig } from './sites.config.js';
import { sitesMigrations, type SitesInventoryTable, type SitesTables } from './sites.migrations.js';
import { planUpdate, SitesService } from './sites.service.js';

const DAY = 86_400_000;

describe('certificate watch', () => {
  let tdb: TestDatabase;
  let sites: SitesService;
  const events: PublishedEvent[] = [];

  beforeAll(async () => {
    tdb = await createTestDatabase();
    await migrate(tdb.database.db, sitesMigrations);
    const bus = new EventBus();
    bus.subscribe((e) => events.push(e));
    sites = new SitesService({
      db: tdb.database.db.withTables<SitesTables>(), jobs: {} as JobService, audit: new AuditLog(tdb.database.db, tdb.database.dialect, bus), events: bus,
      hosts: new HostRegistry(tdb.database.db), claims: new HostnameClaims(tdb.database.db), log: pino({ level: 'silent' }), config: SitesConfig.parse({}),
    });
  });
  afterAll(async () => tdb?.cleanup());

  const observe = (domain: string, expiresInDays: number | null) => sites.repo.upsert({
    host_id: 'local', domain, site_type: 'wp', cache_type: 'basic', php_version: '8.3', enabled: 1, ssl: expiresInDays === null ? 0 : 1,
    ssl_provider: 'Lets Encrypt', ssl_expires_at: expiresInDays === null ? null : Date.now() + expiresInDays * DAY + 3_600_000,
    ssl_days_left: expiresInDays, ssl_checked_at: Date.now(), webroot: `/var/www/${domain}`, db_name: null, disk_bytes: null,
  }, Date.now());
  const active = async () => (await sites.repo.activeAlerts()).map((a) => `${a.domain}:${a.kind}:${a.days_left}`).sort();

  it('warns within 14 days, escalates to expired, and clears once renewed', async () => {
    await observe('soon.example.com', 3);
    await observe('fine.example.com', 60);
    await observe('edge.example.com', 14);
    await observe('plain.example.com', null);
    await sites.checkCertificates('local');
    expect(await active()).toEqual(['edge.example.com:expiring:14', 'soon.example.com:expiring:3']);
    expect(events.filter((e) => e.type === 'sites.certificate_expiring').map((e) => e.data?.domain).sort()).toEqual(['edge.example.com', 'soon.example.com']);

    await observe('soon.example.com', -2);
    await sites.checkCertificates('local');
    expect(await active()).toEqual(['edge.example.com:expiring:14', 'soon.example.com:expired:-2']);
    expect(events.filter((e) => e.type === 'sites.certificate_expired').map((e) => e.data?.domain)).toEqual(['soon.example.com']);

    await observe('soon.example.com', 89);
    await sites.checkCertificates('local');
    expect(await active()).toEqual(['edge.example.com:expiring:14']);
  });
});

describe('planUpdate', () => {
  const row = (o: Partial<SitesInventoryTable>): SitesInventoryTable => ({
    id: 'x', host_id: 'local', domain: 'a.example.com', site_type: 'wp', cache_type: 'wpfc', php_version: '8.2', enabled: 1, ssl: 0, ssl_provider: null,
    ssl_expires_at: null, ssl_days_left: null, ssl_checked_at: null, hsts: null, webroot: '/var/www/a.example.com', db_name: 'a', disk_bytes: null,
    owner_id: null, state: 'ready', pending_job_id: null, refreshed_at: 0, created_at: 0, updated_at: 0, ...o,
  });

  it('keeps only what differs, with what an undo needs', () => {
    expect(planUpdate(row({}), { host: 'local', php: '8.2', cache: 'wpfc', enabled: true })).toEqual({});
    expect(planUpdate(row({}), { host: 'local', php: '8.4', cache: 'wpredis' })).toEqual({ php: '8.4', previousPhp: '8.2', cache: 'wpredis', previousCache: 'wpfc', siteType: 'wp' });
    expect(planUpdate(row({}), { host: 'local', ssl: true, hsts: true })).toEqual({ ssl: true, letsencrypt: 'on', hsts: true });
  });

  it('refuses what WordOps cannot do', () => {
    expect(() => planUpdate(row({ site_type: 'html', php_version: null }), { host: 'local', php: '8.3' })).toThrow(/no PHP/);
    expect(() => planUpdate(row({ site_type: 'php' }), { host: 'local', cache: 'wpredis' })).toThrow(/only for WordPress/);
    expect(() => planUpdate(row({}), { host: 'local', hsts: true })).toThrow(/HSTS needs SSL/);
    expect(() => planUpdate(row({}), { host: 'local', renewCertificate: true })).toThrow(/no certificate/);
    expect(() => planUpdate(row({}), { host: 'local', ssl: true, letsencrypt: 'wildcard' })).toThrow(/DNS API/);
  });
});
