import { describe, expect, it } from 'vitest';
import {
  type AuditLog, EventBus, type ExecOptions, type ExecResult, type HostRegistry, type ProcessRunner,
  type StreamHandle, SYSTEM_ACTOR,
} from '../../../../server/src/testing/index.js';
import { expandAllowlist, globToRegExp, ServicesService } from './services.service.js';
import { parseShowOutput, parseSystemdTimestamp } from './systemctl.cli.js';

/** Records every argv; answers like a systemd host with nginx, php8.2-fpm and journald. */
class RecordingRunner implements ProcessRunner {
  readonly host = 'rec';
  readonly calls: string[][] = [];
  async exec(command: string, args: readonly string[], _o?: ExecOptions): Promise<ExecResult> {
    this.calls.push([command, ...args]);
    const out = args[0] === 'is-system-running' ? 'running\n'
      : args[0] === 'list-units' ? 'nginx.service loaded active running nginx\nphp8.2-fpm.service loaded active running PHP\nsystemd-journald.service loaded active running Journal\n'
        : args[0] === 'show' ? 'Id=nginx.service\nActiveState=active\nSubState=running\nMainPID=7\n' : '';
    return { argv: [command, ...args], exitCode: 0, stdout: out, stderr: '', durationMs: 0 };
  }
  stream(): StreamHandle {
    throw new Error('not used');
  }
}

function setup() {
  const runner = new RecordingRunner();
  const hosts = { get: async (id: string) => ({ id, name: 'h' }), runner: async () => runner } as unknown as HostRegistry;
  const audit = { record: async () => {} } as unknown as AuditLog;
  const svc = new ServicesService(hosts, audit, new EventBus(), () => ['nginx', 'php*-fpm']);
  return { runner, svc };
}

describe('service allow-list', () => {
  it('expands globs against the units the host lists, never beyond', () => {
    expect(expandAllowlist(['nginx', 'php*-fpm'], ['nginx.service', 'php8.2-fpm.service', 'php-evil.service', 'nginx-debug.service', 'ssh.service'])).toEqual(['nginx.service', 'php8.2-fpm.service']);
    expect(globToRegExp('php*-fpm').test('php8.2-fpm.service')).toBe(true);
    expect(globToRegExp('php*-fpm').test('php8.2-fpm.service;reboot')).toBe(false);
  });

  it('refuses names outside the list before any systemctl action runs; allowed names use the listed unit', async () => {
    const { runner, svc } = setup();
    for (const bad of ['systemd-journald', '--now', '-H evil', 'nginx;reboot', 'nginx service', '../x', 'php*-fpm', '*']) {
      await expect(svc.act(SYSTEM_ACTOR, 'h', bad, 'stop')).rejects.toMatchObject({ status: expect.any(Number) });
    }
    expect(runner.calls.filter((c) => ['start', 'stop', 'restart', 'reload'].includes(c[1]!))).toEqual([]);
    expect(runner.calls.flat().join(' ')).not.toMatch(/journald.*stop|--now|evil|reboot/);
    await svc.act(SYSTEM_ACTOR, 'h', 'php8.2-fpm', 'restart');
    expect(runner.calls.find((c) => c[1] === 'restart')).toEqual(['systemctl', 'restart', '--no-ask-password', '--', 'php8.2-fpm.service']);
  });

  it('parses systemctl show output (several units, unset memory, timestamps)', () => {
    const out = 'Id=a.service\nMainPID=0\nMemoryCurrent=[not set]\nStateChangeTimestamp=\n\nId=b.service\nMainPID=12\nMemoryCurrent=2048\nStateChangeTimestamp=Sun 2026-11-22 01:14:42 UTC\n';
    expect(parseShowOutput(out).map((u) => [u.unit, u.mainPid, u.memoryBytes, u.since])).toEqual([
      ['a.service', null, null, null],
      ['b.service', 12, 2048, Date.UTC(2026, 10, 22, 1, 14, 42)],
    ]);
    expect(parseSystemdTimestamp('n/a')).toBeNull();
  });
});
