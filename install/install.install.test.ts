import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * scripts/install.sh on a real systemd host: the Debian 12 container of the test provisioning
 * (slipway-test/systemd:1: systemd as PID 1, nginx). The container has no network: the tree to
 * install is this checkout's build (dist/, production node_modules) copied to a staging folder and
 * mounted read-only, Node is this machine's binary, and Debian packages are not installed
 * (--skip-packages: the modules' engines are missing there and say so in /api/v1/modules).
 */
const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');
const IMAGE = 'slipway-test/systemd:1';
const DOMAIN = 'panel.test';
const PASSWORD = 'install test password 1';

let stage: string;
let container = '';

interface Result { code: number; out: string }
/** A shell command in the container; never throws, the exit code is in the result. */
async function sh(cmd: string, timeoutMs = 240_000): Promise<Result> {
  try {
    const r = await run('docker', ['exec', container, 'bash', '-c', `${cmd} 2>&1`], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, out: r.stdout };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; message: string };
    return { code: typeof err.code === 'number' ? err.code : 1, out: err.stdout ?? err.message };
  }
}

const INSTALL_OPTS = `--prebuilt --skip-packages --node /usr/local/bin/node --proxy nginx --domain ${DOMAIN} --tls-cert /stage/tls/cert.pem --tls-key /stage/tls/key.pem`;
const installSh = (tree: string, args: string) => sh(`bash /stage/${tree}/scripts/install.sh ${args} --source /stage/${tree}`);

/** An HTTPS request to nginx in the container, as a browser on the panel's name would send it. */
async function viaNginx(method: string, url: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string }> {
  const spec = JSON.stringify({ method, url, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), headers: opts.headers ?? {}, host: DOMAIN });
  const script = `
    const s = JSON.parse(process.env.REQ);
    const req = require('https').request({ host: '127.0.0.1', port: 443, servername: s.host, method: s.method, path: s.url, rejectUnauthorized: false,
      headers: { host: s.host, ...(s.body ? { 'content-type': 'application/json' } : {}), ...s.headers } }, (res) => {
      let b = ''; res.setEncoding('utf8'); res.on('data', (c) => (b += c)); res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, body: b })));
    });
    req.on('error', (e) => process.stdout.write(JSON.stringify({ status: 0, body: e.message })));
    req.end(s.body);`;
  const r = await run('docker', ['exec', '-e', `REQ=${spec}`, container, 'node', '-e', script], { maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(r.stdout) as { status: number; body: string };
}

async function login(headers: Record<string, string> = {}): Promise<string> {
  const r = await viaNginx('POST', '/api/v1/auth/login', { body: { username: 'admin', password: PASSWORD }, headers });
  expect(r.status, r.body).toBe(200);
  const body = JSON.parse(r.body) as { accessToken?: string; access_token?: string };
  return (body.accessToken ?? body.access_token)!;
}

/** What a second install must not touch: files (content, mode, owner) and the running process. */
async function fingerprint(): Promise<string> {
  const r = await sh(
    'find /opt/slipway /etc/slipway /etc/systemd/system/slipway.service /etc/systemd/system/slipway.service.d /usr/local/bin/slipway /etc/nginx/sites-available/slipway.conf /etc/nginx/sites-enabled -printf "%p %m %u:%g %s %T@\\n" | sort | sha256sum; ' +
      'systemctl show -p MainPID --value slipway; id slipway; id www-data',
  );
  expect(r.code, r.out).toBe(0);
  return r.out;
}

const currentRelease = async () => (await sh('basename "$(readlink /opt/slipway/current)"')).out.trim();

/** A copy of the staged tree whose core migrations carry one more entry (JS source text). */
function treeWithMigration(from: string, to: string, entry: string): void {
  // Hard links are cheap; the one file that changes is unlinked first so `from` keeps its own.
  execFileSync('cp', ['-al', path.join(stage, from), path.join(stage, to)]);
  const file = path.join(stage, to, 'dist/server/src/db/database.js');
  const js = readFileSync(file, 'utf8');
  expect(js).toContain('export const coreMigrations = {');
  unlinkSync(file);
  writeFileSync(file, js.replace('export const coreMigrations = {', `export const coreMigrations = {\n    ${entry},`));
}

describe('scripts/install.sh on a systemd host behind nginx', () => {
  beforeAll(async () => {
    for (const f of ['dist/server/src/main.js', 'dist/web/index.html']) {
      if (!existsSync(path.join(root, f))) throw new Error(`${f} is missing: the install test installs the build (npm run build first; npm test does)`);
    }
    await run('docker', ['image', 'inspect', IMAGE]).catch(() => {
      throw new Error(`${IMAGE} is missing: run scripts/provision-test-host.sh`);
    });
    stage = mkdtempSync(path.join(tmpdir(), 'slipway-install-'));
    const base = path.join(stage, 'base');
    mkdirSync(base);
    for (const item of ['package.json', 'package-lock.json', 'dist', 'bin', 'deploy', 'docs', 'scripts']) cpSync(path.join(root, item), path.join(base, item), { recursive: true });
    for (const id of readdirSync(path.join(root, 'modules'))) {
      const p = path.join(root, 'modules', id, 'packages.txt');
      mkdirSync(path.join(base, 'modules', id), { recursive: true });
      if (existsSync(p)) cpSync(p, path.join(base, 'modules', id, 'packages.txt'));
    }
    // Production dependencies only, as on a server: hard-linked copy, then the dev ones removed.
    await run('cp', ['-al', path.join(root, 'node_modules'), path.join(base, 'node_modules')]);
    await run('npm', ['prune', '--omit=dev', '--offline', '--no-audit', '--no-fund'], { cwd: base, timeout: 120_000 });
    treeWithMigration('base', 'good', `'0099_install_test': { up: async (db) => { await db.schema.createTable('install_test_marker').addColumn('id', 'integer').execute(); } }`);
    treeWithMigration('good', 'bad', `'0100_install_test_fail': { up: async () => { throw new Error('deliberately failing migration (install test)'); } }`);
    mkdirSync(path.join(stage, 'tls'));
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${DOMAIN}`, '-addext', `subjectAltName=DNS:${DOMAIN}`,
      '-keyout', path.join(stage, 'tls/key.pem'), '-out', path.join(stage, 'tls/cert.pem')]);
    const { stdout } = await run('docker', [
      'run', '-d', '--rm', '--network', 'none', '--stop-signal', 'SIGRTMIN+3', '-v', '/sys/fs/cgroup:/sys/fs/cgroup:ro', '--tmpfs', '/run', '--tmpfs', '/run/lock',
      // /opt on tmpfs: each release is ~20,000 files, which the container's overlay file system
      // copies and deletes slowly; nothing else differs.
      '--tmpfs', '/opt:rw,exec,size=1g',
      '-e', 'container=docker', '-v', `${process.execPath}:/usr/local/bin/node:ro`, '-v', `${stage}:/stage:ro`, '--label', 'slipway-test=install', IMAGE, '/lib/systemd/systemd',
    ]);
    container = stdout.trim();
    const deadline = Date.now() + 60_000;
    for (;;) {
      const state = (await sh('systemctl is-system-running')).out.trim();
      const nginx = (await sh('systemctl is-active nginx')).out.trim();
      if ((state === 'running' || state === 'degraded') && nginx === 'active') break;
      if (Date.now() > deadline) throw new Error(`systemd container did not come up (state ${state}, nginx ${nginx})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }, 240_000);

  afterAll(async () => {
    if (container) await run('docker', ['rm', '-f', container]).catch(() => {});
    if (stage) rmSync(stage, { recursive: true, force: true });
  });

  it('--help and --dry-run print and change nothing', async () => {
    const help = await installSh('base', '--help');
    expect(help.code).toBe(0);
    for (const c of ['install', 'upgrade', 'rollback', 'uninstall', '--purge', '--dry-run', '--modules', '--proxy']) expect(help.out).toContain(c);
    const dry = await installSh('base', `${INSTALL_OPTS} --dry-run`);
    expect(dry.code, dry.out).toBe(0);
    expect(dry.out).toContain('would: create system user slipway');
    expect(dry.out).toContain('would: enable and start slipway.service');
    const after = await sh('ls -d /opt/slipway /var/lib/slipway /etc/slipway /etc/systemd/system/slipway.service; id slipway');
    expect(after.out).not.toMatch(/^\/(opt|var|etc)\//m);
    expect(after.out).toContain('no such user');
  });

  it('refuses an unknown option or module with a clear error and changes nothing', async () => {
    const bad = await installSh('base', `${INSTALL_OPTS} --modules sites,nope`);
    expect(bad.code).not.toBe(0);
    expect(bad.out).toContain('unknown module nope');
    expect((await sh('ls -d /opt/slipway')).code).not.toBe(0);
  });

  let setupToken = '';
  it('installs: active (running) under systemd, answering through nginx on a unix socket, with the setup link', async () => {
    const r = await installSh('base', INSTALL_OPTS);
    expect(r.code, r.out).toBe(0);
    expect((await sh('systemctl show -p ActiveState -p SubState --value slipway')).out.split('\n').slice(0, 2)).toEqual(['active', 'running']);
    expect((await sh('stat -c "%a %U:%G" /var/lib/slipway /etc/slipway/slipway.env /run/slipway/slipway.sock')).out.trim().split('\n'))
      .toEqual(['700 slipway:slipway', '600 root:root', '660 slipway:slipway']);
    expect((await sh('grep ^SLIPWAY_LISTEN= /etc/slipway/slipway.env')).out.trim()).toBe('SLIPWAY_LISTEN=unix:/run/slipway/slipway.sock');
    const ready = await viaNginx('GET', '/api/v1/ready');
    expect(ready.status, ready.body).toBe(200);
    const link = /https:\/\/panel\.test\/setup#token=([A-Za-z0-9_-]+)/.exec(r.out);
    expect(link, r.out).not.toBeNull();
    setupToken = link![1]!;
    // Logs go to journald.
    expect((await sh('journalctl -u slipway --no-pager -o cat')).out).toContain('Slipway is listening');
  });

  it('the setup link works: the console page, then the first administrator, then sign-in', async () => {
    const page = await viaNginx('GET', '/setup');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>Slipway</title>');
    const setup = await viaNginx('POST', '/api/v1/setup', { body: { token: setupToken, username: 'admin', email: 'admin@example.com', password: PASSWORD } });
    expect(setup.status, setup.body).toBe(201);
    // A client-sent X-Forwarded-For is overwritten by nginx: the audit log has the real peer.
    const token = await login({ 'x-forwarded-for': '203.0.113.66' });
    const audit = await viaNginx('GET', '/api/v1/audit', { headers: { authorization: `Bearer ${token}` } });
    expect(audit.status).toBe(200);
    expect(audit.body).toContain('"action":"auth.login"');
    expect(audit.body).toContain('"ip":"127.0.0.1"');
    expect(audit.body).not.toContain('203.0.113.66');
  });

  it('a second install changes nothing', async () => {
    const before = await fingerprint();
    const r = await installSh('base', INSTALL_OPTS);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('No changes');
    expect(await fingerprint()).toBe(before);
  });

  it('systemctl restart keeps the data', async () => {
    expect((await sh('systemctl restart slipway && systemctl is-active slipway')).out.trim()).toBe('active');
    await login();
  });

  let goodRelease = '';
  it('upgrade to a build with a new migration keeps users and audit; audit verify passes', async () => {
    const old = await currentRelease();
    const r = await installSh('good', `upgrade ${INSTALL_OPTS}`);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('Backup written to /var/lib/slipway/backups/pre-upgrade-');
    expect(r.out).toMatch(/Applied 1 migration\(s\): 0099_install_test/);
    goodRelease = await currentRelease();
    expect(goodRelease).not.toBe(old);
    expect((await sh('basename "$(readlink /opt/slipway/previous)"')).out.trim()).toBe(old);
    expect((await sh('systemctl is-active slipway')).out.trim()).toBe('active');
    const token = await login();
    const audit = await viaNginx('GET', '/api/v1/audit', { headers: { authorization: `Bearer ${token}` } });
    expect(audit.body).toContain('"action":"setup.complete"');
    const verify = await sh('slipway audit verify');
    expect(verify.code, verify.out).toBe(0);
    expect(verify.out).toContain('Audit log intact');
  });

  it('an upgrade whose migration fails rolls back by itself and the old version keeps running', async () => {
    const r = await installSh('bad', `upgrade ${INSTALL_OPTS}`);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('deliberately failing migration');
    expect(r.out).toContain(`rolling back to ${goodRelease}`);
    expect(await currentRelease()).toBe(goodRelease);
    // The failed release is gone; the good one and the one before it stay.
    expect((await sh('ls /opt/slipway/releases')).out.trim().split('\n')).toHaveLength(2);
    expect((await sh('systemctl show -p ActiveState -p SubState --value slipway')).out.split('\n').slice(0, 2)).toEqual(['active', 'running']);
    await login();
    const verify = await sh('slipway audit verify');
    expect(verify.code, verify.out).toBe(0);
  });

  it('uninstall removes the service and code and keeps /var/lib/slipway; --purge --yes removes it', async () => {
    const r = await sh('bash /stage/base/scripts/install.sh uninstall');
    expect(r.code, r.out).toBe(0);
    expect((await sh('systemctl cat slipway')).code).not.toBe(0);
    expect((await sh('ls -d /opt/slipway /etc/nginx/sites-enabled/slipway.conf /usr/local/bin/slipway')).out).not.toMatch(/^\//m);
    expect((await sh('test -s /var/lib/slipway/slipway.db && test -f /etc/slipway/slipway.env && echo kept')).out.trim()).toBe('kept');
    expect((await viaNginx('GET', '/api/v1/ready')).status).not.toBe(200);

    const refused = await sh('bash /stage/base/scripts/install.sh uninstall --purge </dev/null');
    expect(refused.code).not.toBe(0);
    expect(refused.out).toContain('--yes');
    expect((await sh('test -d /var/lib/slipway && echo kept')).out.trim()).toBe('kept');

    const purge = await sh('bash /stage/base/scripts/install.sh uninstall --purge --yes');
    expect(purge.code, purge.out).toBe(0);
    expect((await sh('ls -d /var/lib/slipway /etc/slipway')).out).not.toMatch(/^\//m);
    expect((await sh('id slipway')).out).toContain('no such user');
  });
});
