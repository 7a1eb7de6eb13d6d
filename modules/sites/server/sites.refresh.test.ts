import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type SignedIn, type TestApp } from '../../../server/src/testing/harness.js';
import { sitesModule } from './index.js';

/** Issue 18, item 2: a refresh that refreshed nothing does not answer as if it had. */
describe('sites refresh without WordOps', () => {
  let t: TestApp;
  let admin: SignedIn;
  const empty = mkdtempSync(join(tmpdir(), 'slipway-no-wo-'));

  beforeAll(async () => {
    t = await createTestApp({
      modules: [sitesModule],
      env: { SLIPWAY_SITES_WO_DIR: empty, SLIPWAY_SITES_WO_BIN: 'wo-absent-slipway', SLIPWAY_SITES_REFRESH_INTERVAL_SECONDS: '0', SLIPWAY_SITES_CERT_CHECK_INTERVAL_HOURS: '0' },
    });
    admin = await t.signIn('admin');
  });
  afterAll(async () => {
    await t?.close();
    rmSync(empty, { recursive: true, force: true });
  });

  it('answers 503 naming the missing tool, and the audit log records a failure', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/sites/refresh', headers: admin.headers });
    expect(res.statusCode, res.body).toBe(503);
    expect(res.json().error.message).toMatch(/^Nothing was refreshed: WordOps \(wo\) is not installed on local/);
    const audit = await t.services.audit.list({ action: 'sites.refresh', limit: 5 });
    expect(audit.items[0]).toMatchObject({ outcome: 'failure', details: { failed: [{ host: 'local' }] } });
  });
});

describe('site update job titles (issue 18, item 7)', () => {
  it('say the change in words, never the input field names', async () => {
    const { updateTitle } = await import('./sites.jobs.js');
    const title = updateTitle({ php: '8.3', previousPhp: '8.2', cache: 'wpredis', previousCache: 'wpfc', siteType: 'wp', enabled: false });
    expect(title).toBe('PHP 8.2 → 8.3, page cache wpfc → wpredis, disable');
    expect(title).not.toMatch(/previous|siteType/);
  });
});
