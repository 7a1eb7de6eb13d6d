import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { loadOrCreatePanelKey } from '../infra/ssh.js';
import { modules } from '../modules.js';
import { loadOrCreateSecrets } from '../platform/secrets.js';

const root = path.resolve(import.meta.dirname, '../../..');
const tsx = path.join(root, 'node_modules/.bin/tsx');

interface Run { code: number | null; stdout: string; stderr: string }

// Children still running when a case times out are ended in afterAll, before the temp dir goes.
const running = new Set<ChildProcess>();

/** `tsx server/src/main.ts <args>`: the `slipway` command as an operator runs it. */
function slipway(args: string[], opts: { env?: Record<string, string>; input?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, SLIPWAY_LOG_LEVEL: 'warn', ...opts.env };
    const child = spawn(tsx, [path.join(root, 'server/src/main.ts'), ...args], { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] });
    running.add(child);
    child.on('exit', () => running.delete(child));
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

const PASSWORD = 'Sturdy-Lantern-Orbit-47';
let work: string;
let dataDir: string;
let env: Record<string, string>;

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'slipway-cli-'));
  dataDir = path.join(work, 'data');
  env = { SLIPWAY_DATA_DIR: dataDir };
});

afterAll(async () => {
  await Promise.all([...running].map((c) => new Promise((r) => {
    c.once('exit', r);
    c.kill('SIGTERM'); // tsx passes it on to the node process it runs
  })));
  rmSync(work, { recursive: true, force: true });
});

// Each case spawns the CLI several times (a fresh Node + tsx each): generous on a busy machine.
const SLOW = { timeout: 240_000 };

describe('slipway --help', SLOW, () => {
  it('lists every command, and each command explains itself', async () => {
    const top = await slipway(['--help']);
    expect(top.code).toBe(0);
    for (const cmd of ['start', 'migrate', 'user', 'audit', 'backup', 'restore', 'doctor']) expect(top.stdout).toMatch(new RegExp(`^  ${cmd}\\b`, 'm'));
    const user = await slipway(['user', '--help']);
    expect(user.stdout).toMatch(/create \[options\]/);
    expect(user.stdout).toMatch(/reset-password <username>/);
    expect(user.stdout).toMatch(/reset-2fa <username>/);
    const create = await slipway(['user', 'create', '--help']);
    for (const opt of ['--username <name>', '--email <address>', '--role <role>', '--password-stdin']) expect(create.stdout).toContain(opt);
    expect((await slipway(['backup', '--help'])).stdout).toContain('--out <file>');
    const restore = await slipway(['restore', '--help']);
    expect(restore.stdout).toContain('--from <file>');
    expect(restore.stdout).toContain('--force');
    expect((await slipway(['audit', 'verify', '--help'])).stdout).toMatch(/exits 1/);
  });

  it('bin/slipway.mjs (the installed command) runs the same CLI', async () => {
    const r = await new Promise<Run>((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(root, 'bin/slipway.mjs'), 'user', '--help'], { cwd: root, env: { PATH: process.env.PATH } });
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr: '' }));
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: slipway user/m);
    expect(r.stdout).toMatch(/reset-2fa <username>/);
  });

  it('rejects an unknown command with a non-zero exit', async () => {
    const r = await slipway(['frobnicate']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown command/);
  });
});

describe('user commands and audit verify', SLOW, () => {
  it('creates users through the users service, audited as cli', async () => {
    const migrated = await slipway(['migrate'], { env });
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toMatch(/0001_core/);
    expect((await slipway(['migrate'], { env })).stdout).toMatch(/up to date/);

    const alice = await slipway(['user', 'create', '--username', 'alice', '--email', 'alice@example.test', '--role', 'admin', '--password-stdin'], { env, input: `${PASSWORD}\n` });
    expect(alice.code, alice.stderr).toBe(0);
    expect(alice.stdout).toMatch(/Created user alice \(admin\)/);
    expect(alice.stdout).not.toMatch(/Temporary password/);

    const bob = await slipway(['user', 'create', '--username', 'bob', '--email', 'bob@example.test', '--role', 'viewer'], { env });
    expect(bob.code).toBe(0);
    expect(bob.stdout).toMatch(/Temporary password .*: [A-Z0-9]{5}-[A-Z0-9]{5}-/);

    const dup = await slipway(['user', 'create', '--username', 'bob', '--email', 'bob2@example.test', '--role', 'viewer'], { env });
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/bob is taken/);
    const bad = await slipway(['user', 'create', '--username', '-rf', '--email', 'x@example.test', '--role', 'root'], { env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/role/);

    const reset = await slipway(['user', 'reset-password', 'bob'], { env });
    expect(reset.code).toBe(0);
    const temp = /Temporary password[^:]*: (\S+)/.exec(reset.stdout)?.[1];
    expect(temp).toBeTruthy();
    expect((await slipway(['user', 'reset-2fa', 'alice'], { env })).code).toBe(0);
    const missing = await slipway(['user', 'reset-2fa', 'nobody'], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/User 'nobody' not found/);

    const db = new SQLite(path.join(dataDir, 'slipway.db'), { readonly: true });
    try {
      const users = db.prepare('select username, role, must_change_password from users order by username').all();
      expect(users).toEqual([
        { username: 'alice', role: 'admin', must_change_password: 0 },
        { username: 'bob', role: 'viewer', must_change_password: 1 },
      ]);
      const audit = db.prepare('select action, actor_kind, actor_name, details from audit_log order by seq').all() as { action: string; actor_kind: string; actor_name: string; details: string }[];
      expect(audit.map((a) => a.action)).toEqual(['panel.migrate', 'user.create', 'user.create', 'user.reset_password', 'user.reset_2fa']);
      expect(new Set(audit.map((a) => `${a.actor_kind}:${a.actor_name}`))).toEqual(new Set(['system:cli']));
      expect(audit.map((a) => a.details).join('')).not.toContain(temp!); // the password is never in the log
    } finally {
      db.close();
    }
  });

  it('audit verify passes on an intact chain and names a tampered entry', async () => {
    const ok = await slipway(['audit', 'verify'], { env });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/intact: 5 entries verified/);

    const db = new SQLite(path.join(dataDir, 'slipway.db'));
    // Entry 3 is bob's creation: make him look like an admin.
    const row = db.prepare('select id, details from audit_log where seq = 3').get() as { id: string; details: string };
    expect(row.details).toContain('viewer');
    db.prepare('update audit_log set details = ? where seq = 3').run(row.details.replace('viewer', 'admin'));
    try {
      const broken = await slipway(['audit', 'verify'], { env });
      expect(broken.code).toBe(1);
      expect(broken.stdout).toMatch(/BROKEN at entry #3/);
      expect(broken.stdout).toContain(row.id);
      expect(broken.stdout).toMatch(/altered/);
    } finally {
      db.prepare('update audit_log set details = ? where seq = 3').run(row.details);
      db.close();
    }
    expect((await slipway(['audit', 'verify'], { env })).code).toBe(0);
  });
});

describe('audit verify against the published head', SLOW, () => {
  it('detects a deleted tail through the head file, or through a head given with --head (journal, backup)', async () => {
    const ok = await slipway(['audit', 'verify'], { env });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/up to the published head #\d+/);
    const head = /Head: (\d+:[0-9a-f]{64})/.exec(ok.stdout)?.[1];
    expect(head).toBeTruthy();
    const headFile = path.join(dataDir, 'audit-head.json');
    const db = new SQLite(path.join(dataDir, 'slipway.db'));
    const last = db.prepare('select * from audit_log order by seq desc limit 1').get() as Record<string, unknown>;
    db.prepare('delete from audit_log where seq = ?').run(last.seq);
    try {
      const broken = await slipway(['audit', 'verify'], { env });
      expect(broken.code).toBe(1);
      expect(broken.stdout).toMatch(/BROKEN at entry #\d+: entries \d+\.\.\d+ were deleted/);
      // The attacker also removed the head file: the head copied from the journal still catches it.
      renameSync(headFile, `${headFile}.away`);
      const viaFlag = await slipway(['audit', 'verify', '--head', head!], { env });
      expect(viaFlag.code).toBe(1);
      expect(viaFlag.stdout).toMatch(/were deleted/);
      expect((await slipway(['audit', 'verify', '--head', 'not-a-head'], { env })).code).toBe(2);
    } finally {
      const cols = Object.keys(last);
      db.prepare(`insert into audit_log (${cols.join(', ')}) values (${cols.map((c) => `@${c}`).join(', ')})`).run(last);
      db.close();
      renameSync(`${headFile}.away`, headFile);
    }
    expect((await slipway(['audit', 'verify'], { env })).code).toBe(0);
  });
});

describe('backup and restore', SLOW, () => {
  it('snapshots a live database and restores it into a fresh data dir a panel can run on', async () => {
    loadOrCreatePanelKey(dataDir);
    // A "running panel": an open WAL connection with a write not yet checkpointed into the main file.
    const live = openDatabase({ dataDir });
    live.sqlite!.pragma('wal_autocheckpoint = 0');
    live.sqlite!.prepare(`update users set email = 'alice@new.example.test' where username = 'alice'`).run();
    const archive = path.join(work, 'panel.tar.gz');
    try {
      const b = await slipway(['backup', '--out', archive], { env });
      expect(b.code, b.stderr).toBe(0);
      expect(b.stdout).toMatch(/Backup written to .*panel\.tar\.gz/);
    } finally {
      await live.close();
    }
    expect(statSync(archive).mode & 0o777).toBe(0o600);
    const source = new SQLite(path.join(dataDir, 'slipway.db'), { readonly: true });
    expect(source.prepare(`select actor_name from audit_log where action = 'panel.backup'`).all()).toEqual([{ actor_name: 'cli' }]);
    source.close();

    const target = path.join(work, 'restored');
    const r = await slipway(['restore', '--from', archive, '--data-dir', target], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(path.join(target, 'secrets.json'), 'utf8')).toBe(readFileSync(path.join(dataDir, 'secrets.json'), 'utf8'));
    expect(readFileSync(path.join(target, 'ssh/id_ed25519'), 'utf8')).toBe(readFileSync(path.join(dataDir, 'ssh/id_ed25519'), 'utf8'));
    expect(statSync(path.join(target, 'ssh/id_ed25519')).mode & 0o777).toBe(0o600);

    // A second restore onto the same dir is refused without --force, accepted with it.
    const again = await slipway(['restore', '--from', archive, '--data-dir', target], { env });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/not empty.*--force/);

    // The panel on the restored dir: same users (alice signs in with her password), chain intact.
    const config = loadConfig({ SLIPWAY_DATA_DIR: target, SLIPWAY_LOG_LEVEL: 'silent' }, modules.map((m) => m.id));
    const database = openDatabase({ dataDir: target });
    const app = await buildApp({ config, database, secrets: loadOrCreateSecrets(target), modules, logger: false, startBackground: false });
    try {
      const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'alice', password: PASSWORD } });
      expect(login.statusCode, login.body).toBe(200);
      const me = await app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${(login.json() as { accessToken: string }).accessToken}` } });
      expect(JSON.stringify(me.json())).toContain('alice@new.example.test'); // the un-checkpointed write made it
      const verify = await app.slipway.audit.verify();
      expect(verify.ok).toBe(true);
      const actions = (await app.slipway.audit.list({ limit: 50 })).items.map((e) => e.action);
      expect(actions).toContain('panel.restore');
      expect(actions).not.toContain('panel.backup'); // recorded in the source after its snapshot
    } finally {
      await app.close();
      await database.close();
    }
    expect((await slipway(['audit', 'verify'], { env: { SLIPWAY_DATA_DIR: target } })).stdout).toMatch(/intact/);
    const forced = await slipway(['restore', '--from', archive, '--data-dir', target, '--force'], { env });
    expect(forced.code, forced.stderr).toBe(0);
  });

  it('refuses an archive whose contents do not match the manifest', async () => {
    const archive = path.join(work, 'panel.tar.gz');
    const tampered = path.join(work, 'tampered');
    mkdirSync(tampered);
    const { extract, create } = await import('tar');
    await extract({ file: archive, cwd: tampered });
    writeFileSync(path.join(tampered, 'secrets.json'), '{"jwtKey":"evil","dataKey":"evil"}');
    const bad = path.join(work, 'tampered.tar.gz');
    await create({ gzip: true, file: bad, cwd: tampered }, ['manifest.json', 'database', 'secrets.json', 'ssh']);
    const r = await slipway(['restore', '--from', bad, '--data-dir', path.join(work, 'never')], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/secrets\.json does not match its checksum/);
  });
});

describe('doctor', SLOW, () => {
  it('prints one row per check with a status and hints for what is missing', async () => {
    expect((await slipway(['migrate'], { env })).code).toBe(0); // the module list may have grown since the data dir was made
    const r = await slipway(['doctor'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^CHECK\s+STATUS\s+DETAIL/);
    for (const name of ['node', 'data dir', 'secrets file', 'database', 'migrations', 'docker', 'caddy admin', 'netdata', 'virsh', 'tgtadm', 'systemd', 'wo', 'dokku', 'chromium']) {
      expect(r.stdout).toMatch(new RegExp(`^${name}\\s+(ok|warn|missing|FAIL)\\s+\\S`, 'm'));
    }
    expect(r.stdout).toMatch(/^node\s+ok\s+Node \d+/m);
    expect(r.stdout).toMatch(/^migrations\s+ok\s+(\d+) of \1 applied/m);
    // Facts of this machine that the rows must reflect (ENGINES.md: no WordOps here, Docker runs)
    expect(r.stdout).toMatch(/^wo\s+missing[^\n]*\n\s+hint: install WordOps/m);
    expect(r.stdout).toMatch(/^docker\s+ok\s+Docker \d/m);
  });

  it('fails when the database cannot be reached', async () => {
    const r = await slipway(['doctor', '--json'], { env: { SLIPWAY_DATA_DIR: dataDir, SLIPWAY_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' } });
    expect(r.code).toBe(1);
    const checks = JSON.parse(r.stdout) as { name: string; status: string }[];
    expect(checks.find((c) => c.name === 'database')?.status).toBe('fail');
  });
});
