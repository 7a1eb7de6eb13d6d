import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  type ExecOptions, type ExecResult, LocalProcessRunner, type ProcessRunner, type StreamHandle,
} from '../../../server/src/testing/index.js';
import { AccelCache, detectAccel, probeBoot } from './accel.js';
import { testGuest } from './test-fixtures/test-guest.js';

class FakeHost implements ProcessRunner {
  calls: string[][] = [];
  constructor(readonly host: string, private readonly answers: { flags: string; kvm: boolean }) {}
  async exec(command: string, args: readonly string[], _o?: ExecOptions): Promise<ExecResult> {
    this.calls.push([command, ...args]);
    if (command === 'grep') return { argv: [], exitCode: this.answers.flags ? 0 : 1, stdout: this.answers.flags, stderr: '', durationMs: 0 };
    if (command === 'test') return { argv: [], exitCode: this.answers.kvm ? 0 : 1, stdout: '', stderr: '', durationMs: 0 };
    throw new Error(`unexpected ${command}`);
  }
  stream(): StreamHandle {
    throw new Error('no boots in the fake');
  }
}

describe('KVM or TCG', () => {
  it('no vmx/svm flag: TCG, without looking further', async () => {
    const h = new FakeHost('h1', { flags: '', kvm: true });
    expect(await detectAccel(h)).toMatchObject({ type: 'qemu', reason: expect.stringMatching(/no vmx\/svm/) });
    expect(h.calls).toHaveLength(1);
  });
  it('flags but no /dev/kvm: TCG; flags and /dev/kvm but no probe guest: still TCG (unsure)', async () => {
    expect(await detectAccel(new FakeHost('h2', { flags: 'vmx\n', kvm: false }))).toMatchObject({ type: 'qemu', reason: expect.stringMatching(/\/dev\/kvm is missing/) });
    expect(await detectAccel(new FakeHost('h3', { flags: 'vmx\n', kvm: true }))).toMatchObject({ type: 'qemu', reason: expect.stringMatching(/no probe guest/) });
  });
  it('decides once per host', async () => {
    const h = new FakeHost('h4', { flags: '', kvm: false });
    const c = new AccelCache();
    await c.get(h);
    await c.get(h);
    expect(h.calls).toHaveLength(1);
  });

  it('this machine: the decision follows its real CPU flags', async () => {
    const hasFlag = /\b(vmx|svm)\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
    const d = await detectAccel(new LocalProcessRunner());
    if (!hasFlag) expect(d.type).toBe('qemu');
    expect(d.reason.length).toBeGreaterThan(10);
  });

  it('the boot probe sees a real guest reach userland under TCG, and never under this host\'s KVM', async () => {
    const g = testGuest();
    const run = new LocalProcessRunner();
    const tcg = await probeBoot(run, 'tcg', { kernel: g.kernel, initrd: g.initrd, marker: 'SLIPWAY-GUEST: init', timeoutSeconds: 90 });
    expect(tcg.booted).toBe(true);
    if (!/\b(vmx|svm)\b/.test(readFileSync('/proc/cpuinfo', 'utf8'))) {
      const kvm = await probeBoot(run, 'kvm', { kernel: g.kernel, initrd: g.initrd, marker: 'SLIPWAY-GUEST: init', timeoutSeconds: 30 });
      expect(kvm.booted).toBe(false);
    }
  }, 180_000);
});
