import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshd, type TestSshd } from '../testing/sshd.js';
import { assertArgv, LocalProcessRunner, type ProcessRunner } from './process-runner.js';
import { createSshRunnerFactory, loadOrCreatePanelKey, type SshRunnerFactory } from './ssh.js';

// Pieces that would change meaning in a shell if an argument were ever pasted unquoted.
const SHELL_PIECES = [
  "'", '"', '\\', '$(id)', '`id`', '${HOME}', '$HOME', ';', '&&', '||', '|', '&', '>', '<', '\n', '\r', '\t', ' ',
  '*', '?', '[a]', '~', '#', '!', '-', '--', '-rf', '%s', '\\0', 'é', '日本', '🚀', '\u200b', "'\\''",
];

const argument = fc.string({
  unit: fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...SHELL_PIECES) },
    { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter((c) => c !== '\0') },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }).filter((c) => c !== '\0') },
  ),
  maxLength: 40,
});
const argvArb = fc.array(argument, { minLength: 1, maxLength: 6 });

/** `printf '%s\0' args…` prints each argument as it arrived, NUL-terminated. */
async function echoArgv(runner: ProcessRunner, args: string[]): Promise<string[]> {
  const r = await runner.exec('printf', ['%s\\0', ...args]);
  return r.stdout.split('\0').slice(0, -1);
}

let dataDir: string;
let sshd: TestSshd;
let factory: SshRunnerFactory;
let ssh: ProcessRunner;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'slipway-argv-'));
  sshd = await startSshd({ authorizedKeys: [loadOrCreatePanelKey(dataDir).publicKey] });
  factory = createSshRunnerFactory({ dataDir });
  ssh = await factory({
    id: 'p', name: 'prop-host', kind: 'ssh', address: sshd.address, port: sshd.port, username: sshd.username,
    hostKeyFingerprint: sshd.hostKeyFingerprint, capabilities: {}, status: 'online', lastCheckedAt: null,
  });
});

afterAll(async () => {
  factory?.close();
  await sshd?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('every argument arrives as exactly one argument, byte for byte', () => {
  it('local runner', async () => {
    const local = new LocalProcessRunner();
    await fc.assert(
      fc.asyncProperty(argvArb, async (args) => {
        expect(await echoArgv(local, args)).toEqual(args);
      }),
      { numRuns: 150 },
    );
  });

  it('SSH runner (through the remote login shell)', async () => {
    await fc.assert(
      fc.asyncProperty(argvArb, async (args) => {
        expect(await echoArgv(ssh, args)).toEqual(args);
      }),
      { numRuns: 50 },
    );
  }, 120_000); // 50 SSH round trips: well under a second each, but several seconds each on a loaded CI machine

  it('SSH runner: env values and cwd are not shell fragments either', async () => {
    await fc.assert(
      fc.asyncProperty(argument, async (value) => {
        const r = await ssh.exec('printenv', ['SLIPWAY_PROBE'], { env: { SLIPWAY_PROBE: value } });
        expect(r.stdout).toBe(`${value}\n`);
      }),
      { numRuns: 20 },
    );
  });
});

describe('assertArgv', () => {
  it('refuses command names that are options or carry shell characters', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          argument.map((s) => `-${s}`),
          fc.tuple(fc.string({ unit: 'grapheme-ascii', maxLength: 8 }), fc.constantFrom(' ', ';', '|', '&', '$', '`', '(', ')', '<', '>', '\n', "'", '"', '*', '\\'), fc.string({ unit: 'grapheme-ascii', maxLength: 8 }))
            .map(([a, bad, b]) => `${a}${bad}${b}`),
          fc.constantFrom('', '..', '../bin/sh', 'a/../b', '--help'),
        ),
        (command) => {
          expect(() => assertArgv(command, [])).toThrow(TypeError);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('accepts plain program names and paths, and any NUL-free arguments', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_+-]{0,15}(\/[A-Za-z0-9_][A-Za-z0-9_+-]{0,15}){0,3}$/), argvArb, (command, args) => {
        expect(() => assertArgv(command, args)).not.toThrow();
      }),
      { numRuns: 200 },
    );
    expect(() => assertArgv('ls', ['a\0b'])).toThrow(/NUL/);
  });
});
