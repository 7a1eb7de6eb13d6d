import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedIn } from '../../../server/src/testing/harness.js';
import { appsPanel, until, type AppsTestPanel } from './test-fixtures/apps-harness.js';

const inDays = (d: number) => String(Math.floor(Date.now() / 1000) + Math.round(d * 86400));
const le = (days: number) => ({ active: true, email: 'ops@example.org', expiration: inDays(days) });

/** The certificate watch: letsencrypt:report of every app, alerts raised and resolved, events for the console. */
describe('apps: certificate expiry alerts', () => {
  let p: AppsTestPanel;
  let operator: SignedIn;
  let owner: SignedIn;

  beforeAll(async () => {
    p = await appsPanel({
      apps: {
        soon: { deployed: true, running: true, image: 'nginx:1.26', deploySource: 'docker-image', vhosts: ['soon.example.org'], letsencrypt: le(3.5) },
        late: { deployed: true, running: true, image: 'nginx:1.26', deploySource: 'docker-image', vhosts: ['late.example.org'], letsencrypt: le(60) },
        gone: { deployed: true, running: true, image: 'nginx:1.26', deploySource: 'docker-image', vhosts: ['gone.example.org'], letsencrypt: le(-2.5) },
        plain: { deployed: true, running: true, image: 'nginx:1.26', deploySource: 'docker-image' },
      },
      certDays: 5,
    }, { SLIPWAY_APPS_LETSENCRYPT_EMAIL: 'ops@example.org', SLIPWAY_APPS_CERT_WARN_DAYS: '14' });
    operator = await p.t.signIn('operator');
    owner = await p.t.signIn('user');
    await until('the inventory', async () => (await p.inject(operator, 'GET', '/apps')).body.total === 4);
  }, 60_000);
  afterAll(async () => p?.close());

  const alerts = async (who: SignedIn) => (await p.inject(who, 'GET', '/apps/-/alerts')).body.items as { name: string; kind: string; daysLeft: number; message: string }[];
  const events = (type: string) => p.t.services.events.since(0).filter((e) => e.type === type);

  it('raises an alert for a certificate expiring within the warning window and one for an expired certificate, once', async () => {
    const r = await p.inject(operator, 'POST', '/apps/-/refresh');
    expect(r.status, r.text).toBe(200);
    expect(r.body.certificates).toEqual({ checked: 4, alerts: 2 });
    const list = await alerts(operator);
    expect(list.map((a) => [a.name, a.kind, a.daysLeft])).toEqual([['gone', 'expired', -3], ['soon', 'expiring', 3]]);
    expect(list[1]!.message).toMatch(/^The certificate of soon expires in 3 days \(\d{4}-\d\d-\d\d\)$/);
    expect(list[0]!.message).toMatch(/^The certificate of gone expired on \d{4}-\d\d-\d\d$/);
    expect(events('apps.certificate_expiring').map((e) => e.data?.name)).toEqual(['soon']);
    expect(events('apps.certificate_expired').map((e) => e.data?.name)).toEqual(['gone']);
    // a second check keeps the alerts and does not announce them again
    await p.inject(operator, 'POST', '/apps/-/refresh');
    expect((await alerts(operator)).map((a) => a.name)).toEqual(['gone', 'soon']);
    expect(events('apps.certificate_expiring')).toHaveLength(1);
    // ownerless apps' alerts are for staff only
    expect(await alerts(owner)).toEqual([]);
  });

  it('a renewed certificate resolves its alert', async () => {
    p.fake.patchApp('soon', { letsencrypt: le(89) });
    await p.inject(operator, 'POST', '/apps/-/refresh');
    expect((await alerts(operator)).map((a) => a.name)).toEqual(['gone']);
    expect(events('apps.certificate_ok').map((e) => e.data?.name)).toContain('soon');
  });

  it('enabling Let\'s Encrypt is read into the watch at once: the owner sees its app\'s alert', async () => {
    expect((await p.inject(owner, 'POST', '/apps', { name: 'mine' })).status).toBe(201);
    expect((await p.inject(owner, 'PATCH', '/apps/mine/domains', { add: ['mine.example.org'] })).status).toBe(200);
    const res = await p.inject(owner, 'PUT', '/apps/mine/letsencrypt', { enabled: true });
    expect(res.status, res.text).toBe(202);
    expect((await p.waitJob(res.body.job.id)).state).toBe('succeeded');
    // the fake issues certificates valid for `certDays` (5) days: inside the 14-day window
    expect((await alerts(owner)).map((a) => [a.name, a.kind, a.daysLeft])).toEqual([['mine', 'expiring', 4]]);
    expect((await p.inject(owner, 'GET', '/apps/mine/letsencrypt')).body).toMatchObject({ active: true });
    const off = await p.inject(owner, 'PUT', '/apps/mine/letsencrypt', { enabled: false });
    expect((await p.waitJob(off.body.job.id)).state).toBe('succeeded');
    expect(await alerts(owner)).toEqual([]);
  });
});
