import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ContainersConfig } from './containers.config.js';
import { checkHostPath, effectiveLimits, isSecretEnv, limitIssues, maskArgs, unmaskArgs, volumeName } from './containers.policy.js';

const M = '********';

describe('containers policy', () => {
  const base = mkdtempSync(path.join(tmpdir(), 'slipway-policy-'));
  const root = path.join(base, 'roots');
  const dataDir = path.join(base, 'roots', 'panel-data');
  mkdirSync(path.join(root, 'app', 'uploads'), { recursive: true });
  mkdirSync(dataDir, { recursive: true });
  symlinkSync('/etc', path.join(root, 'app', 'to-etc'));
  symlinkSync(path.join(root, 'app', 'uploads'), path.join(root, 'inside-link'));
  const rules = { roots: [root], protectedPaths: [dataDir, '/var/run/docker.sock'] };
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('env entries named or shaped like credentials are secret whatever their flag', () => {
    for (const name of ['DB_PASSWORD', 'PGPASS', 'MYSQL_PWD', 'API_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'STRIPE_KEY', 'DATABASE_URL', 'SENTRY_DSN', 'DSN', 'AUTH_HEADER']) {
      expect(isSecretEnv({ name, value: 'x', secret: false }), name).toBe(true);
    }
    expect(isSecretEnv({ name: 'REDIS_URL', value: 'redis://:hunter2@cache:6379/0', secret: false })).toBe(true);
    expect(isSecretEnv({ name: 'UPSTREAM', value: 'https://ghp_abc@github.com/x', secret: false })).toBe(true);
    expect(isSecretEnv({ name: 'PUBLIC_URL', value: 'https://example.com/app', secret: false })).toBe(false);
    expect(isSecretEnv({ name: 'MODE', value: 'demo', secret: false })).toBe(false);
    expect(isSecretEnv({ name: 'MODE', value: 'demo', secret: true })).toBe(true);
  });

  it('argv: secret options, secret values and URL passwords are masked; the rest is kept', () => {
    expect(maskArgs(['app', '--password=hunter2', '--db-token', 'abc123', '--port', '80', 'pg://u:pw@db/x', 'uses s3cretvalue here', '-v'], ['s3cretvalue'])).toEqual(
      ['app', `--password=${M}`, '--db-token', M, '--port', '80', `pg://${M}@db/x`, `uses ${M} here`, '-v'],
    );
    expect(maskArgs(['sh', '-c', 'PGPASSWORD=hunter2 psql --password hunter3 -h db'], [])).toEqual(['sh', '-c', `PGPASSWORD=${M} psql --password ${M} -h db`]);
    const stored = ['app', '--password=hunter2', '--port', '80'];
    const shown = maskArgs(stored, []);
    // Sent back unchanged: the stored values stay; an edited argument is taken as written.
    expect(unmaskArgs(shown, stored, [])).toEqual(stored);
    expect(unmaskArgs(['app', `--password=${M}`, '--port', '81'], stored, [])).toEqual(['app', '--password=hunter2', '--port', '81']);
    // A masked argument moved to another place is not restored there.
    expect(unmaskArgs(['app', '--port', `--password=${M}`], stored, [])).toEqual(['app', '--port', `--password=${M}`]);
  });

  it('host paths: only existing paths under a root, never protected ones or their parents, symlinks resolved', () => {
    expect(checkHostPath(path.join(root, 'app', 'uploads'), rules)).toEqual({ ok: true, path: path.join(root, 'app', 'uploads') });
    expect(checkHostPath(path.join(root, 'inside-link'), rules)).toEqual({ ok: true, path: path.join(root, 'app', 'uploads') });
    const refused = (p: string) => {
      const r = checkHostPath(p, rules);
      expect(r.ok, p).toBe(false);
      return r.ok ? '' : r.reason;
    };
    expect(refused('/')).toMatch(/root directory/);
    for (const p of ['/etc', '/etc/ssh', '/proc', '/proc/1/root', '/sys', '/dev', '/var/run/docker.sock', '/run', '/var', '/var/lib/docker']) expect(refused(p)).toMatch(/never mounted/);
    expect(refused(path.join(root, 'app', 'to-etc'))).toMatch(/\/etc/); // a symlink out of the root
    expect(refused(dataDir)).toMatch(/panel-data/);
    expect(refused(root)).toMatch(/contains or is inside/); // the data dir is inside it
    expect(refused(path.join(root, 'app', 'nope'))).toMatch(/does not exist/);
    expect(refused(`${root}/app/../app`)).toMatch(/without \.\./);
    expect(refused(tmpdir())).toMatch(/never mounted|not under/);
    expect(checkHostPath(path.join(root, 'app'), { ...rules, roots: [] })).toMatchObject({ ok: false, reason: expect.stringMatching(/no host path roots/) });
  });

  it('volume names derive from the service id; limits take defaults and never pass the maxima', () => {
    expect(volumeName('0190-a', 'app-data')).toBe('slw-0190-a-app-data');
    const cfg = ContainersConfig.parse({ defaultMemoryMb: '256', maxMemoryMb: '1024', defaultCpus: '0.5', maxCpus: '2', defaultPids: '100', maxPids: '200' });
    expect(effectiveLimits({}, cfg)).toEqual({ memoryMb: 256, cpus: 0.5, pids: 100 });
    expect(effectiveLimits({ resources: { memoryMb: 4096, cpus: 1.5 } }, cfg)).toEqual({ memoryMb: 1024, cpus: 1.5, pids: 100 });
    expect(limitIssues([{ resources: { memoryMb: 4096, pids: 300 } }], cfg).map((i) => i.path)).toEqual(['containers.0.resources.memoryMb', 'containers.0.resources.pids']);
    expect(ContainersConfig.parse({ hostPathRoots: '/srv/a, /srv/b' }).hostPathRoots).toEqual(['/srv/a', '/srv/b']);
    expect(ContainersConfig.parse({}).hostPathRoots).toEqual([]);
    expect(ContainersConfig.safeParse({ defaultMemoryMb: '2048', maxMemoryMb: '1024' }).success).toBe(false);
  });
});
