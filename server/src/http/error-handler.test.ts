import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecError } from '../infra/exec-error.js';
import type { ProcessRunner } from '../infra/process-runner.js';
import { defineModule } from '../platform/module.js';
import { definePermissions } from '../platform/rbac/permissions.js';
import { createTestApp, type SignedIn, type TestApp } from '../testing/harness.js';

const perms = definePermissions('tooltest', { run: { description: 'Run the test tool', roles: ['operator'] } });

/** An adapter as modules write them: argv through the host's runner, ExecError on failure. */
class GitCli {
  constructor(private readonly run: ProcessRunner) {}
  clone(repo: string) {
    return this.run.exec('sh', ['-c', `printf 'Cloning into x...\\nremote: password=hunter2 rejected\\nfatal: repository %s not found\\n\\n' "$1" >&2; exit 128`, 'sh', repo]);
  }
  missing() {
    return this.run.exec('slipway-no-such-tool', ['--version']);
  }
  slow() {
    return this.run.exec('sleep', ['5'], { timeoutMs: 100 });
  }
  leaky() {
    return this.run.exec('sh', ['-c', 'echo "error: auth failed for https://deploy:s3cr3tpass@git.example.com/x.git token=abcd1234efgh" >&2; exit 1']);
  }
}

const toolModule = defineModule({
  id: 'tooltest',
  title: 'Tool test',
  permissions: perms,
  register(ctx) {
    const cli = async () => new GitCli(await ctx.hosts.runner());
    ctx.http.post('/tooltest/clone', { config: { permission: perms.run }, schema: { operationId: 'tooltestClone', summary: 'Tool test', tags: ['tooltest'] } }, async () => (await cli()).clone('acme/app'));
    ctx.http.post('/tooltest/missing', { config: { permission: perms.run }, schema: { operationId: 'tooltestMissing', summary: 'Tool test', tags: ['tooltest'] } }, async () => (await cli()).missing());
    ctx.http.post('/tooltest/slow', { config: { permission: perms.run }, schema: { operationId: 'tooltestSlow', summary: 'Tool test', tags: ['tooltest'] } }, async () => (await cli()).slow());
    ctx.http.post('/tooltest/leaky', { config: { permission: perms.run }, schema: { operationId: 'tooltestLeaky', summary: 'Tool test', tags: ['tooltest'] } }, async () => (await cli()).leaky());
  },
});

describe('tool failures reach the client in words', () => {
  let t: TestApp;
  let admin: SignedIn;
  beforeAll(async () => {
    t = await createTestApp({ modules: [toolModule] });
    admin = await t.signIn('admin');
  });
  afterAll(async () => t?.close());

  const post = (url: string) => t.app.inject({ method: 'POST', url, headers: admin.headers });

  it('an ExecError from an adapter is 502 tool_failed with program, host, exit code and the last meaningful stderr line', async () => {
    const res = await post('/api/v1/tooltest/clone');
    expect(res.statusCode).toBe(502);
    expect(res.json()).toEqual({
      error: {
        code: 'tool_failed',
        message: 'sh failed: fatal: repository acme/app not found',
        details: { program: 'sh', host: 'local', exitCode: 128, reason: 'fatal: repository acme/app not found' },
      },
    });
    // The earlier stderr lines (a password) and the argv never reach the client.
    expect(res.body).not.toContain('hunter2');
    expect(res.body).not.toContain('printf');
  });

  it('redacts credentials in the reason', async () => {
    const res = await post('/api/v1/tooltest/leaky');
    expect(res.statusCode).toBe(502);
    expect(res.body).not.toContain('s3cr3tpass');
    expect(res.body).not.toContain('abcd1234efgh');
    expect(res.json().error.details.reason).toMatch(/^error: auth failed for https:\/\/deploy:\[redacted\]@git\.example\.com/);
  });

  it('a program that cannot be started is 503 tool_unavailable; a timeout is 503 tool_timeout', async () => {
    const missing = await post('/api/v1/tooltest/missing');
    expect(missing.statusCode).toBe(503);
    expect(missing.json().error).toMatchObject({ code: 'tool_unavailable', message: 'slipway-no-such-tool is not installed', details: { program: 'slipway-no-such-tool', host: 'local' } });
    const slow = await post('/api/v1/tooltest/slow');
    expect(slow.statusCode).toBe(503);
    expect(slow.json().error).toMatchObject({ code: 'tool_timeout', message: 'sleep did not finish in time', details: { program: 'sleep' } });
  });
});

describe('ExecError', () => {
  it('isMissingProgram: spawn failures and exit 127 (a remote shell that found no such command)', () => {
    expect(new ExecError(['wo'], null, '', 'spawn').isMissingProgram).toBe(true);
    expect(new ExecError(['wo'], 127, 'bash: wo: command not found', 'exit', 'web1').isMissingProgram).toBe(true);
    expect(new ExecError(['wo'], 1, 'Error: site exists').isMissingProgram).toBe(false);
    expect(new ExecError(['wo'], 127, '', 'exit', 'web1').userReason).toBe('wo is not installed on web1');
  });

  it('userReason skips tracebacks and blank lines, trims long lines', () => {
    const e = new ExecError(['wo'], 1, 'Traceback (most recent call last):\n  File "/usr/lib/wo.py", line 3\nwo.core.Error: site example.com already exists\n\n');
    expect(e.userReason).toBe('wo.core.Error: site example.com already exists');
    expect(new ExecError(['x'], 2, `${'a'.repeat(400)}\n`).userReason).toHaveLength(300);
    expect(new ExecError(['x'], 2, '').userReason).toBe('x exited with code 2');
  });
});
