import { existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalProcessRunner, redactSecrets as redactLine } from '../../../server/src/testing/index.js';
import { parseDomain } from './sites.schema.js';
import { createFakeWo, type FakeWo } from './test-fixtures/fake-wo.js';
import {
  classifyFailure, cleanLine, parseSiteInfo, WoCertificateError, WoInvalidOptionsError, WoNoChangeError, WordOpsCli,
  WoSiteExistsError, WoSiteNotFoundError,
} from './wordops.cli.js';

const d = (s: string) => parseDomain(s);

describe('redaction of secrets in wo output (the platform pattern, on what WordOps prints)', () => {
  const secret = 'S3cr3t-Value_42';
  it.each([
    ['WordPress admin password : %s', 'WordPress admin password : [redacted]'],
    ['HTTP Auth Password : %s', 'HTTP Auth Password : [redacted]'],
    ['HTTP Auth User Name: WordOps\tHTTP Auth Password : %s', 'HTTP Auth User Name: WordOps\tHTTP Auth Password : [redacted]'],
    ['DB_PASS\t\t\t %s', 'DB_PASS\t\t\t [redacted]'],
    ['DB_PASSWORD=%s', 'DB_PASSWORD=[redacted]'],
    ['MYSQL_ROOT_PASSWORD = %s', 'MYSQL_ROOT_PASSWORD = [redacted]'],
    ['wo_db_pass: %s', 'wo_db_pass: [redacted]'],
    ['passwd=%s', 'passwd=[redacted]'],
    ['api_key=%s', 'api_key=[redacted]'],
    ['Secret Key : %s', 'Secret Key : [redacted]'],
    ['X-Auth-Token: %s', 'X-Auth-Token: [redacted]'],
    ['"password": "%s"', '"password": [redacted]'],
    ['{"dbpass":"%s"}', '{"dbpass":[redacted]'],
    ['see http://example.com/cb?token=%s', 'see http://example.com/cb?token=[redacted]'],
    ['  Admin PASSWORD:%s', '  Admin PASSWORD:[redacted]'],
  ])('redacts %j', (template, expected) => {
    const out = redactLine(template.replace('%s', secret));
    expect(out).toBe(expected);
    expect(out).not.toContain(secret);
  });

  it('keeps ordinary WordOps lines', () => {
    for (const l of [
      'WordPress admin user : admin', 'Successfully created site http://passport.example.com', 'Configure redis-cache:\thttp://a.example.com/wp-admin/options-general.php?page=redis-cache',
      'Nginx-Helper configuration :\thttp://a.example.com/wp-admin/options-general.php?page=nginx', 'Issuing SSL cert with acme.sh    [OK]', 'access_log\t\t /var/www/a/logs/access.log',
      'HTTP Auth User Name: WordOps',
    ]) expect(redactLine(l), l).toBe(l);
  });

  it('property: for any key spelling with a secret word and any value, the value never survives', () => {
    const words = ['pass', 'Password', 'PASSWD', 'secret', 'Token', 'key', 'ApiKey', 'db_pass', 'root-password', 'auth token'];
    const seps = [':', ' : ', '=', ' = ', ':\t'];
    const prefixes = ['', '  ', 'Info ', 'x,', '[', '{"'];
    for (let i = 0; i < 500; i++) {
      const pick = <T,>(a: T[]) => a[Math.floor(Math.random() * a.length)]!;
      const value = `v${Math.random().toString(36).slice(2)}${pick(['', '!#%', ' with spaces', '"quoted"'])}`;
      const key = `${pick(['', 'HTTP ', 'mysql_', 'X-'])}${pick(words)}${pick(['', '_1', 'word'])}`;
      const quote = pick(['', '"']);
      const line = `${pick(prefixes)}${quote}${key}${quote}${pick(seps)}${value}`;
      expect(redactLine(line), line).not.toContain(value.trim());
    }
  });
});

describe('WordOps output parsing', () => {
  it('strips colours and keeps the last state of a \\r-rewritten progress line', () => {
    const raw = '\x1b[94mIssuing SSL cert with acme.sh    [\x1b[0m..\x1b[94m]\x1b[0m\r\x1b[94mIssuing SSL cert with acme.sh    [\x1b[0m\x1b[92mOK\x1b[0m\x1b[94m]\x1b[0m';
    expect(cleanLine(raw)).toBe('Issuing SSL cert with acme.sh    [OK]');
  });

  it('parses siteinfo.mustache output of a WordPress site with SSL', () => {
    const out = [
      'Information about example.com (domain):', '', '',
      'Nginx configuration\t wp wpredis (enabled) ',
      'PHP Version\t\t 8.3', '',
      'SSL\t\t\t enabled', 'SSL PROVIDER\t\t Lets Encrypt', 'SSL EXPIRY DATE\t\t 61', '',
      'access_log\t\t /var/www/example.com/logs/access.log', 'error_log\t\t /var/www/example.com/logs/error.log',
      'Webroot\t\t\t /var/www/example.com', '',
      'DB_NAME\t\t\t example_com', 'DB_USER\t\t\t example_coma1b2c3', 'DB_PASS\t\t\t s3cret', '',
    ].join('\n');
    expect(parseSiteInfo(d('example.com'), out)).toEqual({
      domain: 'example.com', type: 'wp', cache: 'wpredis', enabled: true, php: '8.3', ssl: true, sslProvider: 'Lets Encrypt', sslDaysLeft: 61,
      accessLog: '/var/www/example.com/logs/access.log', errorLog: '/var/www/example.com/logs/error.log', webroot: '/var/www/example.com', dbName: 'example_com',
    });
  });

  it('reports "can not update" as a refusal even though WordOps exits 0', () => {
    const e = classifyFailure(['wo'], 0, '\x1b[94m\x1b[91mcan not update wp wpredis to wp wpredis\x1b[0m\n');
    expect(e).toBeInstanceOf(WoNoChangeError);
    expect(e?.message).toBe('can not update wp wpredis to wp wpredis');
    expect(classifyFailure(['wo'], 0, '\x1b[94mSuccessfully updated site http://a.com\x1b[0m\n')).toBeNull();
  });
});

describe('WordOpsCli against the fake wo', () => {
  let fake: FakeWo;
  let cli: WordOpsCli;
  beforeEach(() => {
    fake = createFakeWo({
      sites: {
        'blog.example.com': { site_type: 'wp', cache_type: 'wpfc', php_version: '8.2', db_name: 'blog_example_com', db_user: 'blog_exampl1', db_password: 'pw1' },
        'static.example.org': { site_type: 'html', cache_type: 'basic', php_version: null, is_enabled: false },
      },
    });
    cli = new WordOpsCli(new LocalProcessRunner(), { binDir: fake.dir });
  });
  afterEach(() => fake.cleanup());

  it('lists all, enabled and disabled sites', async () => {
    expect(await cli.listSites()).toEqual(['blog.example.com', 'static.example.org']);
    expect(await cli.listSites('enabled')).toEqual(['blog.example.com']);
    expect(await cli.listSites('disabled')).toEqual(['static.example.org']);
    expect(fake.calls()).toEqual([['site', 'list'], ['site', 'list', '--enabled'], ['site', 'list', '--disabled']]);
  });

  it('reads site info and never returns the database password', async () => {
    const info = await cli.siteInfo(d('blog.example.com'));
    expect(info).toMatchObject({ type: 'wp', cache: 'wpfc', php: '8.2', enabled: true, ssl: false, dbName: 'blog_example_com', webroot: `${fake.webrootBase}blog.example.com` });
    expect(JSON.stringify(info)).not.toContain('pw1');
    await expect(cli.siteInfo(d('nope.example.com'))).rejects.toBeInstanceOf(WoSiteNotFoundError);
  });

  it('creates a WordPress site with Redis, PHP 8.3, Let\'s Encrypt and HSTS, streaming clean lines with the password redacted', async () => {
    const lines: string[] = [];
    const commands: string[][] = [];
    await cli.createSite(d('shop.example.com'), {
      type: 'wp', php: '8.3', cache: 'wpredis', letsencrypt: 'on', hsts: true, adminUser: 'boss', adminEmail: 'boss@example.com',
    }, { onLine: (l) => lines.push(l), onCommand: (a) => commands.push([...a]) });
    expect(fake.calls().at(-1)).toEqual(['site', 'create', 'shop.example.com', '--wp', '--php83', '--wpredis', '--user=boss', '--email=boss@example.com', '--letsencrypt=on', '--hsts']);
    expect(commands[0]).toEqual(['wo', ...fake.calls().at(-1)!]);
    expect(lines.slice(0, 4)).toEqual(['Setting up NGINX configuration \t[Done]', 'Setting up webroot \t\t[Done]', 'Setting up database\t\t[Done]', 'Downloading WordPress \t\t[Done]']);
    expect(lines).toContain('Successfully created site http://shop.example.com');
    expect(lines).toContain('Congratulations! Successfully Configured SSL on https://shop.example.com');
    expect(lines).toContain('WordPress admin password : [redacted]');
    expect(lines.join('\n')).not.toMatch(/\x1b\[/);
    const info = await cli.siteInfo(d('shop.example.com'));
    expect(info).toMatchObject({ type: 'wp', cache: 'wpredis', php: '8.3', ssl: true, sslDaysLeft: 89 });
  });

  it('builds the argv of every site type', async () => {
    await cli.createSite(d('p.example.com'), { type: 'php', php: '8.1', letsencrypt: 'off', hsts: false });
    await cli.createSite(d('m.example.com'), { type: 'mysql', php: '8.4', letsencrypt: 'off', hsts: false });
    await cli.createSite(d('h.example.com'), { type: 'html', letsencrypt: 'off', hsts: false });
    await cli.createSite(d('x.example.com'), { type: 'proxy', proxy: { host: '127.0.0.1', port: 8080 }, letsencrypt: 'off', hsts: false });
    await cli.createSite(d('n.example.com'), { type: 'wpsubdomain', cache: 'basic', letsencrypt: 'wildcard', dnsProvider: 'dns_cf', hsts: false });
    expect(fake.calls()).toEqual([
      ['site', 'create', 'p.example.com', '--php81'],
      ['site', 'create', 'm.example.com', '--mysql', '--php84'],
      ['site', 'create', 'h.example.com', '--html'],
      ['site', 'create', 'x.example.com', '--proxy=127.0.0.1:8080'],
      ['site', 'create', 'n.example.com', '--wpsubdomain', '--letsencrypt=wildcard', '--dns=dns_cf'],
    ]);
    expect((await cli.siteInfo(d('p.example.com'))).type).toBe('php'); // recorded by WordOps as "php81"
    expect(fake.state().sites['p.example.com']!.site_type).toBe('php81');
    expect((await cli.siteInfo(d('x.example.com'))).type).toBe('proxy');
    expect((await cli.siteInfo(d('m.example.com'))).dbName).toBe('m_example_com');
  });

  it('maps failures to typed errors', async () => {
    await expect(cli.createSite(d('blog.example.com'), { type: 'html', letsencrypt: 'off', hsts: false })).rejects.toBeInstanceOf(WoSiteExistsError);
    await expect(cli.updateSite(d('blog.example.com'), { kind: 'cache', siteType: 'wp', cache: 'wpfc' })).rejects.toBeInstanceOf(WoNoChangeError);
    await expect(cli.updateSite(d('gone.example.com'), { kind: 'php', php: '8.3' })).rejects.toBeInstanceOf(WoSiteNotFoundError);
    await expect(cli.updateSite(d('blog.example.com'), { kind: 'ssl', on: false })).rejects.toThrow('SSL is not configured for given site');
    fake.setState({ ...fake.state(), fail: { letsencrypt: true } });
    const err = await cli.createSite(d('new.example.com'), { type: 'html', letsencrypt: 'on', hsts: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WoCertificateError);
    expect((err as Error).message).toContain('acme.sh was unable to issue certificate');
    // WordOps created the site before the certificate failed.
    expect((await cli.siteInfo(d('new.example.com'))).ssl).toBe(false);
  });

  it('switches PHP and cache, enables SSL, renews only when due, disables and deletes', async () => {
    const blog = d('blog.example.com');
    await cli.updateSite(blog, { kind: 'php', php: '8.4' });
    await cli.updateSite(blog, { kind: 'cache', siteType: 'wp', cache: 'wpredis' });
    await cli.updateSite(blog, { kind: 'ssl', on: true, mode: 'on' });
    await expect(cli.updateSite(blog, { kind: 'renew' })).rejects.toThrow(/more than 30 days/);
    await cli.setEnabled(blog, false);
    expect(await cli.siteInfo(blog)).toMatchObject({ php: '8.4', cache: 'wpredis', ssl: true, enabled: false });
    expect(existsSync(`${fake.webrootBase}blog.example.com`)).toBe(false); // seeded without files
    await cli.deleteSite(blog, { keepDatabase: true, keepFiles: false });
    expect(fake.calls().filter((a) => a[1] !== 'info').slice(-6).map((a) => a.slice(1))).toEqual([
      ['update', 'blog.example.com', '--php84'],
      ['update', 'blog.example.com', '--wp', '--wpredis'],
      ['update', 'blog.example.com', '--letsencrypt=on'],
      ['update', 'blog.example.com', '--letsencrypt=renew'],
      ['disable', 'blog.example.com'],
      ['delete', 'blog.example.com', '--files', '--force'],
    ]);
    expect(await cli.listSites()).toEqual(['static.example.org']);
  });

  it('rejects an option WordOps does not know (argparse exit 2)', async () => {
    const runner = new LocalProcessRunner();
    const r = await runner.exec('wo', ['site', 'create', 'a.example.com', '--bogus'], { okExitCodes: [2], env: { PATH: `${fake.dir}:/usr/bin:/bin` } });
    expect(classifyFailure(r.argv, r.exitCode, r.stdout + r.stderr)).toBeInstanceOf(WoInvalidOptionsError);
  });
});
