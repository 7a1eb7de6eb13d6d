import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type SignedIn, type TestApp } from '../../../server/src/testing/harness.js';
import { moduleById } from '../../../server/src/testing/index.js';
import { sitesModule } from './index.js';
import { createFakeWo, type FakeWo } from './test-fixtures/fake-wo.js';

const serverModule = moduleById('server');

describe('site logs in the server module\'s log viewer', () => {
  let fake: FakeWo;
  let t: TestApp;
  let admin: SignedIn;

  beforeAll(async () => {
    fake = createFakeWo({ sites: { 'blog.example.com': { site_type: 'wp', cache_type: 'wpfc', php_version: '8.2' } } });
    t = await createTestApp({
      modules: [serverModule, sitesModule],
      startBackground: false,
      env: { SLIPWAY_SITES_WO_DIR: fake.dir, SLIPWAY_SITES_CERT_DIR: fake.certDir, SLIPWAY_SITES_NGINX_LOG_DIR: fake.nginxLogDir, SLIPWAY_SITES_REFRESH_INTERVAL_SECONDS: '0', SLIPWAY_SITES_CERT_CHECK_INTERVAL_HOURS: '0' },
    });
    admin = await t.signIn('admin');
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/sites/refresh', headers: admin.headers })).statusCode).toBe(200);
  });
  afterAll(async () => {
    await t?.close();
    fake?.cleanup();
  });

  it('lists each site\'s access and error log as sources and tails them', async () => {
    // nginx's log of the site (WordOps templates/virtualconf.mustache 16-17), not the webroot's link to it
    appendFileSync(path.join(fake.nginxLogDir, 'blog.example.com.access.log'), '203.0.113.7 - - "GET /wp-login.php HTTP/1.1" 200\n');
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/server/logs?host=local', headers: admin.headers });
    expect(list.statusCode).toBe(200);
    const ids = (list.json() as { items: { id: string; available: boolean }[] }).items.filter((s) => s.id.startsWith('site-'));
    expect(ids).toEqual([
      expect.objectContaining({ id: 'site-blog.example.com-access', available: true }),
      expect.objectContaining({ id: 'site-blog.example.com-error' }),
    ]);
    const tail = await t.app.inject({ method: 'GET', url: '/api/v1/server/logs/site-blog.example.com-access?host=local&lines=5', headers: admin.headers });
    expect(tail.statusCode).toBe(200);
    expect(tail.body).toContain('GET /wp-login.php');
  });
});
