import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExecError, LocalProcessRunner } from '../../../server/src/testing/index.js';
import {
  AppsInputError, parseAppName, parseEnvKey, parseGitRef, parseGitRepoUrl, parseHostname, parseImageRef, parsePortMap, parseProcessType,
  type EnvKey,
} from './apps.schema.js';
import {
  cleanLine, DokkuAppNotFoundError, DokkuChecksFailedError, DokkuCli, DokkuDeployLockedError, DokkuRefusedError, parseDeployedUrls, redact,
} from './dokku.cli.js';
import { createFakeDokku, type FakeDokku } from './test-fixtures/fake-dokku.js';

const app = (s: string) => parseAppName(s);
const image = (s: string) => parseImageRef(s);

describe('Dokku output parsing', () => {
  it('strips colours and cursor moves and keeps the last state of a \\r progress line', () => {
    expect(cleanLine('\x1b[1A\x1b[2K4f4f: Downloading [=>  ] 1MB\r\x1b[2K4f4f: Pull complete')).toBe('4f4f: Pull complete');
    expect(cleanLine('\x1b[1G\x1b[KReceiving objects:  50%\r\x1b[1G\x1b[KReceiving objects: 100% (10/10), done.')).toBe('Receiving objects: 100% (10/10), done.');
    expect(cleanLine('-----> Releasing a1...')).toBe('-----> Releasing a1...');
  });

  it('redacts secret-looking text and the values it is told about, also base64-encoded', () => {
    expect(redact('#4 RUN echo token=abc123def')).toBe('#4 RUN echo token=[redacted]');
    expect(redact('DATABASE_URL: postgres://app:hunter22@db:5432/app')).toContain('postgres://app:[redacted]@db');
    expect(redact('       STRIPE_KEY:  sk_live_zzzz', ['sk_live_zzzz'])).toBe('       STRIPE_KEY:  [redacted]');
    expect(redact(`arg KEY=${Buffer.from('s3cr3t-value').toString('base64')}`, ['s3cr3t-value'])).toBe('arg KEY=[redacted]');
  });

  it('reads the URLs after "=====> Application deployed:"', () => {
    expect(parseDeployedUrls(['-----> Running post-deploy', '=====> Application deployed:', '       http://a.example.com', '       https://b.example.com', '']))
      .toEqual(['http://a.example.com', 'https://b.example.com']);
    expect(parseDeployedUrls(['-----> Releasing a...'])).toEqual([]);
  });
});

describe('apps input validation (refused before any dokku call)', () => {
  const bad = (fn: () => unknown) => expect(fn).toThrow(AppsInputError);

  it('app names follow Dokku\'s rule', () => {
    expect(parseAppName('shop-1.eu')).toBe('shop-1.eu');
    for (const v of ['', '-x', '--force', 'Shop', 'a_b', 'a;b', 'a$(id)', 'a\nb', 'a b', 'a'.repeat(64), 'аpp', 'ａpp', '../x', 'a\0b']) bad(() => parseAppName(v));
  });

  it('images follow the Docker reference grammar', () => {
    for (const v of ['nginx', 'nginx:1.27', 'ghcr.io/org/app:v1.2.3', 'localhost:5000/a/b', `busybox@sha256:${'a'.repeat(64)}`]) expect(parseImageRef(v)).toBe(v);
    for (const v of ['-nginx', '--build-dir', 'nginx:1.27;id', 'nginx $(id)', 'NGINX', 'nginx\n', 'a:b:c', 'nginx:', 'ｎginx', 'x'.repeat(600)]) bad(() => parseImageRef(v));
  });

  it('git URLs are https with a checked host, no credentials, query or fragment', () => {
    expect(parseGitRepoUrl('https://github.com/dokku/smoke-test-app.git')).toMatchObject({ url: 'https://github.com/dokku/smoke-test-app.git', host: 'github.com', port: 443 });
    expect(parseGitRepoUrl('https://bücher.example/r.git').url).toBe('https://xn--bcher-kva.example/r.git');
    for (const v of ['http://github.com/a/b', 'ssh://git@github.com/a/b', 'git@github.com:a/b.git', 'https://u:p@github.com/a/b', 'https://github.com/a/b?x=1',
      'https://github.com/a/b#main', 'https://github.com/../etc', 'https://github.com/a b', 'https://gіthub.com/a/b', '-https://x.com/a', 'https://localhost/a', 'file:///etc/passwd']) {
      bad(() => parseGitRepoUrl(v));
    }
    expect(parseGitRepoUrl('http://git.internal.example/a.git', { allowInsecure: true }).port).toBe(80);
  });

  it('refs follow git check-ref-format, narrowed', () => {
    for (const v of ['main', 'release/1.2', 'v1.0.0', 'a'.repeat(40).replace(/a/g, 'f')]) expect(parseGitRef(v)).toBe(v);
    for (const v of ['-b', '--upload-pack=x', 'a..b', 'a/.x', 'x.lock', 'a//b', '/a', 'a/', 'a.', '@', 'a b', 'a~1', 'a^', 'a:b', 'a*', 'a[', 'a\\b', 'a@{1}', '$(id)', 'ma\u200bin']) {
      bad(() => parseGitRef(v));
    }
  });

  it('env keys, domains, ports and process types', () => {
    expect(parseEnvKey('DATABASE_URL')).toBe('DATABASE_URL');
    for (const v of ['1A', 'A-B', 'A B', 'DOKKU_PROXY_PORT', 'GIT_REV', '', 'A\n']) bad(() => parseEnvKey(v));
    expect(parseHostname('Shop.Example.com')).toBe('shop.example.com');
    expect(parseHostname('bücher.example')).toBe('xn--bcher-kva.example');
    for (const v of ['-x.example.com', '*.example.com', '_', 'a_b.example.com', 'аррӏе.com', 'pаypal.com', 'ex ample.com', 'localhost', 'a.example.com;id', 'ｅxample.com']) bad(() => parseHostname(v));
    expect(parsePortMap('http:80:5000')).toBe('http:80:5000');
    for (const v of ['http:80', 'ftp:21:21', 'http:0:5000', 'http:80:70000', 'http:-1:5000', 'http:80:5000 https:443:5000']) bad(() => parsePortMap(v));
    expect(parseProcessType('worker_2')).toBe('worker_2');
    for (const v of ['-web', 'web=1', 'we b', '']) bad(() => parseProcessType(v));
  });
});

describe('DokkuCli against the fake dokku (local)', () => {
  let fake: FakeDokku;
  let cli: DokkuCli;
  beforeEach(() => {
    fake = createFakeDokku({
      apps: { blog: { deployed: true, running: true, image: 'nginx:1.26', deploySource: 'docker-image', deploySourceMetadata: 'nginx:1.26', vhosts: ['blog.example.com'], containers: { 'web.1': 'c'.repeat(64) } } },
      images: ['nginx:1.26', 'nginx:1.27'],
      repos: { 'https://git.example.com/org/site.git': { refs: { main: 'a'.repeat(40) } } },
    });
    cli = new DokkuCli(new LocalProcessRunner(), { bin: fake.bin, newSession: true });
  });
  afterEach(() => fake.cleanup());

  it('lists, creates, reports and destroys apps with the exact argv', async () => {
    expect(await cli.listApps()).toEqual(['blog']);
    await cli.create(app('shop'));
    expect(await cli.listApps()).toEqual(['blog', 'shop']);
    await expect(cli.create(app('shop'))).rejects.toMatchObject({ constructor: DokkuRefusedError, message: 'Name is already taken', status: 422 });
    const r = await cli.report(app('blog'));
    expect(r).toMatchObject({ name: 'blog', deploySource: 'docker-image', deploySourceMetadata: 'nginx:1.26', deployed: true, running: 'true', processes: 1, vhosts: ['blog.example.com'], locked: false });
    expect(r.containers).toEqual({ 'web.1': 'running' });
    expect(r.createdAt).toBe(1_700_000_000_000);
    await cli.destroy(app('shop'));
    expect(fake.calls()).toContainEqual(['apps:destroy', 'shop', '--force']);
    expect(await cli.listApps()).toEqual(['blog']);
  });

  it('maps exit code 20 to not found', async () => {
    const e = await cli.report(app('ghost')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DokkuAppNotFoundError);
    expect((e as Error).message).toBe("App 'ghost' not found");
    await expect(cli.deployFromImage(app('ghost'), image('nginx:1.27'))).rejects.toBeInstanceOf(DokkuAppNotFoundError);
  });

  it('deploys from an image, streaming clean lines while it runs, and records the build', async () => {
    fake.setState({ ...fake.state(), deployDelayMs: 120 });
    const seen: { line: string; at: number }[] = [];
    const started = Date.now();
    const res = await cli.deployFromImage(app('blog'), image('nginx:1.27'), { onLine: (line) => seen.push({ line, at: Date.now() }) });
    const ended = Date.now();
    expect(fake.calls().at(-1)).toEqual(['git:from-image', 'blog', 'nginx:1.27']);
    expect(seen[0]!.line).toBe('-----> Generating build context');
    expect(seen[0]!.at - started).toBeLessThan(ended - started - 500); // the first line arrived long before the end
    expect(seen.map((s) => s.line)).toContain('#2 transferring context: 4.20kB done');
    expect(seen.every((s) => !/[\x1b\r]/.test(s.line))).toBe(true);
    expect(res.urls).toEqual(['http://blog.example.com']);
    expect((await cli.report(app('blog'))).deploySourceMetadata).toBe('nginx:1.27');
    const builds = await cli.listBuilds(app('blog'));
    expect(builds[0]).toMatchObject({ source: 'git:from-image', status: 'succeeded', displayStatus: 'succeeded', exitCode: 0, kind: 'build' });
    const log = await cli.buildOutput(app('blog'), builds[0]!.id as never);
    expect(log).toContain('=====> Application deployed:');
  });

  it('a second concurrent deploy hits Dokku\'s exclusive deploy lock', async () => {
    fake.setState({ ...fake.state(), deployDelayMs: 150 });
    const first = cli.deployFromImage(app('blog'), image('nginx:1.27'));
    await new Promise((r) => setTimeout(r, 700));
    await expect(cli.deployFromImage(app('blog'), image('nginx:1.26'))).rejects.toBeInstanceOf(DokkuDeployLockedError);
    await first;
    expect((await cli.listBuilds(app('blog'))).map((b) => b.status).sort()).toEqual(['failed', 'succeeded']);
  });

  it('cancels a running deploy with builds:cancel; the build reads canceled and the old image stays', async () => {
    fake.setState({ ...fake.state(), deployDelayMs: 300 });
    const lines: string[] = [];
    const running = cli.deployFromImage(app('blog'), image('nginx:1.27'), { onLine: (l) => lines.push(l) }).catch((e: unknown) => e);
    while (!lines.includes('-----> Building blog from Dockerfile')) await new Promise((r) => setTimeout(r, 50));
    expect(await cli.cancelBuild(app('blog'))).toMatchObject({ cancelled: true });
    const e = await running;
    expect(e).toBeInstanceOf(ExecError);
    expect((await cli.listBuilds(app('blog')))[0]).toMatchObject({ status: 'canceled', exitCode: -1 });
    expect((await cli.report(app('blog'))).deploySourceMetadata).toBe('nginx:1.26');
    expect(await cli.cancelBuild(app('blog'))).toEqual({ cancelled: false, message: 'App not currently deploying' });
  });

  it('a deploy whose checks fail is refused with the check lines and the previous release stays', async () => {
    fake.setState({ ...fake.state(), failChecksImages: ['nginx:1.27'] });
    const e = await cli.deployFromImage(app('blog'), image('nginx:1.27')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DokkuChecksFailedError);
    expect((e as Error).message).toBe('Could not start due to 1 failed checks (web.1)');
    expect((await cli.report(app('blog'))).deploySourceMetadata).toBe('nginx:1.26');
  });

  it('deploys from git with git:sync --build and records the commit', async () => {
    await cli.syncFromGit(app('blog'), parseGitRepoUrl('https://git.example.com/org/site.git').url, parseGitRef('main'));
    expect(fake.calls().at(-1)).toEqual(['git:sync', '--build', 'blog', 'https://git.example.com/org/site.git', 'main']);
    const r = await cli.report(app('blog'));
    expect(r).toMatchObject({ deploySource: 'git-sync', deploySourceMetadata: `https://git.example.com/org/site.git#${'a'.repeat(40)}`, gitSha: 'a'.repeat(40) });
    await expect(cli.syncFromGit(app('blog'), parseGitRepoUrl('https://git.example.com/org/nope.git').url, parseGitRef('main'))).rejects.toBeInstanceOf(ExecError);
  });

  it('sets config values of any content through --encoded and never shows them', async () => {
    const secret = "p@ss w0rd'\"$(id)\nline2";
    const lines: string[] = [];
    const commands: (readonly string[])[] = [];
    const out = await cli.configSet(app('blog'), { API_TOKEN: secret, PLAIN: 'visible-ish' } as Record<EnvKey, string>, {
      restart: false, onLine: (l) => lines.push(l), onCommand: (a) => commands.push(a),
    });
    const call = fake.calls().at(-1)!;
    expect(call.slice(0, 4)).toEqual(['config:set', '--no-restart', '--encoded', 'blog']);
    expect(call).toContain(`API_TOKEN=${Buffer.from(secret).toString('base64')}`);
    expect(commands[0]).toEqual([fake.bin, 'config:set', '--no-restart', '--encoded', 'blog', 'API_TOKEN=[redacted]', 'PLAIN=[redacted]']);
    expect(out).toEqual(lines);
    expect(lines).toContain('-----> Setting config vars');
    expect(lines.join('\n')).not.toMatch(/p@ss|line2|visible-ish/);
    expect(await cli.configExport(app('blog'))).toEqual({ API_TOKEN: secret, PLAIN: 'visible-ish' });
    await cli.configUnset(app('blog'), ['PLAIN' as EnvKey], { restart: false });
    expect(fake.calls().at(-1)).toEqual(['config:unset', '--no-restart', 'blog', 'PLAIN']);
    expect(Object.keys(await cli.configExport(app('blog')))).toEqual(['API_TOKEN']);
  });

  it('scales, manages domains, checks, ports and letsencrypt with Dokku\'s messages surfaced', async () => {
    expect(await cli.scaleReport(app('blog'))).toEqual({ web: 1 });
    await cli.scale(app('blog'), [[parseProcessType('web'), 3]]);
    expect(await cli.scaleReport(app('blog'))).toEqual({ web: 3 });
    await expect(cli.scale(app('blog'), [[parseProcessType('worker'), 1]])).rejects.toThrow('worker is not a valid process name to scale up');

    await cli.domainsChange('add', app('blog'), [parseHostname('www.blog.example.com')]);
    expect(await cli.domains(app('blog'))).toEqual(['blog.example.com', 'www.blog.example.com']);

    await cli.checksChange('disable', app('blog'), [parseProcessType('worker')]);
    await cli.checksSetWaitToRetire(app('blog'), 30);
    expect(await cli.checksReport(app('blog'))).toEqual({ disabled: ['worker'], skipped: [], waitToRetire: 30, computedWaitToRetire: 30 });

    await cli.portsChange('set', app('blog'), [parsePortMap('http:80:5000'), parsePortMap('https:443:5000')]);
    expect((await cli.portsReport(app('blog'))).map).toEqual([{ scheme: 'http', hostPort: 80, containerPort: 5000 }, { scheme: 'https', hostPort: 443, containerPort: 5000 }]);
    await expect(cli.portsChange('add', app('blog'), [parsePortMap('http:80:8080')])).rejects.toThrow('The same scheme:host-port is being reused: http:80');

    await expect(cli.letsencryptEnable(app('blog'))).rejects.toThrow('dokku letsencrypt:set blog email <e-mail>');
    await cli.letsencryptSetEmail(app('blog'), 'ops@example.com');
    await cli.letsencryptEnable(app('blog'));
    const le = await cli.letsencryptReport(app('blog'));
    expect(le.active).toBe(true);
    expect(le.expiresAt! - Date.now()).toBeGreaterThan(89 * 86_400_000);
  });

  it('streams live app logs until stopped', async () => {
    fake.setState({ ...fake.state(), logIntervalMs: 50 });
    const h = cli.logs(app('blog'), { lines: 10 });
    const got: string[] = [];
    for await (const { line } of h.lines) {
      got.push(line);
      if (got.length === 5) h.stop();
    }
    expect(got.length).toBeGreaterThanOrEqual(5);
    expect(got[4]).toMatch(/app\[web\.1\]: GET \/health 4 200$/);
    expect(fake.calls().at(-1)).toEqual(['logs', 'blog', '--tail', '--num', '10']);
  });

  it('refuses hostile argv before spawning anything', async () => {
    for (const args of [['apps:create', 'a b'], ['apps:create', 'a;id'], ['apps:create', '$(id)'], ['apps:create', "a'b"], ['apps:create', 'a\nb'], ['apps:create', 'a*'], ['apps:create', '~root']]) {
      await expect(cli.run(args)).rejects.toThrow(TypeError);
    }
    expect(fake.calls()).toEqual([]);
  });
});
