import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecError, loadOrCreatePanelKey, SshConnection, SshProcessRunner } from '../../../server/src/testing/index.js';
import { startSshd, type TestSshd } from '../../../server/src/testing/sshd.js';
import { parseAppName, parseGitRef, parseGitRepoUrl, parseImageRef, type EnvKey } from './apps.schema.js';
import { DokkuAppNotFoundError, DokkuCli, DokkuDeployLockedError, DokkuRefusedError, SshcommandRunner } from './dokku.cli.js';
import { createFakeDokku, type FakeDokku } from './test-fixtures/fake-dokku.js';

const app = (s: string) => parseAppName(s);

/**
 * Dokku reached as its own `dokku` user: sshd forces every login through
 * `dokku $SSH_ORIGINAL_COMMAND` (the authorized_keys line sshcommand writes), and the fake re-splits
 * SSH_ORIGINAL_COMMAND exactly as dokku's main script does.
 */
describe('DokkuCli over SSH as the dokku user (SSH_ORIGINAL_COMMAND)', () => {
  let fake: FakeDokku;
  let sshd: TestSshd;
  let conn: SshConnection;
  let cli: DokkuCli;
  let keyDir: string;

  beforeAll(async () => {
    fake = createFakeDokku({
      apps: { web: { deployed: true, running: true, image: 'nginx:1.26', deploySource: 'docker-image', deploySourceMetadata: 'nginx:1.26', containers: { 'web.1': 'd'.repeat(64) } } },
      images: ['nginx:1.26', 'nginx:1.27'],
      repos: { 'https://git.example.com/org/site.git': { refs: { 'release/2': 'b'.repeat(40) } } },
    });
    keyDir = mkdtempSync(path.join(tmpdir(), 'slipway-dokku-ssh-key-'));
    const key = loadOrCreatePanelKey(keyDir);
    sshd = await startSshd({ authorizedKeys: [fake.sshcommandKey(key.publicKey)] });
    conn = new SshConnection(
      { name: 'dokku-ssh-1', address: sshd.address, port: sshd.port, username: sshd.username, hostKeyFingerprint: sshd.hostKeyFingerprint },
      () => key.privateKey,
    );
    cli = new DokkuCli(new SshcommandRunner(conn));
  });
  afterAll(async () => {
    conn?.close();
    await sshd?.stop();
    fake?.cleanup();
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  });

  it('the generic SSH runner cannot drive a forced-command dokku user (why SshcommandRunner exists)', async () => {
    const generic = new SshProcessRunner(conn);
    const e = await generic.exec('dokku', ['apps:list', '--format', 'json']).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ExecError);
    // dokku received the shell line `echo "slipway-pid:$$" >&2; exec 'dokku' …` as its own arguments
    expect(fake.callRecords().at(-1)).toMatchObject({ via: 'ssh', argv: expect.arrayContaining(['echo']) });
  });

  it('lists, creates and reports apps; exit code 20 and refusals come back typed', async () => {
    expect(await cli.listApps()).toEqual(['web']);
    await cli.create(app('api'));
    expect(fake.callRecords().at(-1)).toEqual(expect.objectContaining({ argv: ['apps:create', 'api'], via: 'ssh', original: 'apps:create api' }));
    expect(await cli.listApps()).toEqual(['api', 'web']);
    await expect(cli.create(app('api'))).rejects.toMatchObject({ constructor: DokkuRefusedError, message: 'Name is already taken' });
    await expect(cli.report(app('ghost'))).rejects.toBeInstanceOf(DokkuAppNotFoundError);
    expect(await cli.report(app('web'))).toMatchObject({ deployed: true, running: 'true', deploySourceMetadata: 'nginx:1.26' });
  });

  it('deploys from an image with the live log arriving over SSH, and refuses a concurrent deploy', async () => {
    fake.setState({ ...fake.state(), deployDelayMs: 100 });
    const lines: { l: string; at: number }[] = [];
    const started = Date.now();
    const first = cli.deployFromImage(app('web'), parseImageRef('nginx:1.27'), { onLine: (l) => lines.push({ l, at: Date.now() }) });
    while (!lines.some((x) => x.l === '-----> Building web from Dockerfile')) await new Promise((r) => setTimeout(r, 30));
    await expect(cli.deployFromImage(app('web'), parseImageRef('nginx:1.26'))).rejects.toBeInstanceOf(DokkuDeployLockedError);
    const res = await first;
    expect(lines[0]!.at - started).toBeLessThan(Date.now() - started - 500);
    expect(lines.every((x) => !/[\x1b\r]/.test(x.l))).toBe(true);
    expect(res.urls).toEqual(['http://web.dokku.example.net']);
    expect((await cli.report(app('web'))).deploySourceMetadata).toBe('nginx:1.27');
    fake.setState({ ...fake.state(), deployDelayMs: 0 });
  });

  it('deploys from git: git:* commands are whitespace-split on the remote side and arrive intact', async () => {
    await cli.syncFromGit(app('api'), parseGitRepoUrl('https://git.example.com/org/site.git').url, parseGitRef('release/2'));
    expect(fake.callRecords().at(-1)).toMatchObject({ via: 'ssh', argv: ['git:sync', '--build', 'api', 'https://git.example.com/org/site.git', 'release/2'] });
    expect((await cli.report(app('api'))).gitSha).toBe('b'.repeat(40));
  });

  it('carries config values with blanks, quotes, $() and newlines exactly (--encoded), never as text on the line', async () => {
    const value = `a b 'c' "d" $(touch /tmp/pwned-${process.pid}) \`id\` ; | & \\ \n end`;
    await cli.configSet(app('api'), { WEIRD: value } as Record<EnvKey, string>, { restart: false });
    const rec = fake.callRecords().at(-1)!;
    expect(rec.original).toBe(`config:set --no-restart --encoded api WEIRD=${Buffer.from(value).toString('base64')}`);
    expect(await cli.configExport(app('api'))).toEqual({ WEIRD: value });
  });

  it('cancels a running deploy over SSH', async () => {
    fake.setState({ ...fake.state(), deployDelayMs: 300 });
    const lines: string[] = [];
    const running = cli.deployFromImage(app('api'), parseImageRef('nginx:1.27'), { onLine: (l) => lines.push(l) }).catch((e: unknown) => e);
    while (!lines.includes('-----> Building api from Dockerfile')) await new Promise((r) => setTimeout(r, 30));
    expect((await cli.cancelBuild(app('api'))).cancelled).toBe(true);
    expect(await running).toBeInstanceOf(Error);
    expect((await cli.listBuilds(app('api')))[0]).toMatchObject({ status: 'canceled', source: 'git:from-image' });
    fake.setState({ ...fake.state(), deployDelayMs: 0 });
  });

  it('hostile words never leave the panel: nothing new reaches dokku', async () => {
    const before = fake.callRecords().length;
    for (const bad of ['a b', 'x;id', '$(id)', '`id`', "a'b", 'a"b', 'a\nb', 'a*', 'a?', '~', 'a\\b', 'a|b', 'a&b', 'a>b', 'a\0b']) {
      await expect(cli.run(['apps:create', bad])).rejects.toThrow(TypeError);
    }
    expect(fake.callRecords().length).toBe(before);
  });
});
