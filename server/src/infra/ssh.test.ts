import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../db/database.js';
import { HostRegistry, type HostRecord } from '../platform/hosts/host-registry.js';
import { createTestDatabase } from '../testing/test-db.js';
import { freePort, startSshd, type TestSshd } from '../testing/sshd.js';
import { ExecError } from './exec-error.js';
import {
  connectionTest,
  createSshRunnerFactory,
  HostKeyMismatchError,
  HostKeyNotPinnedError,
  loadOrCreatePanelKey,
  probeHostKey,
  remoteCommandLine,
  shellQuote,
  type SshRunnerFactory,
} from './ssh.js';
import type { ProcessRunner } from './process-runner.js';

let dataDir: string;
let sshd: TestSshd;
let factory: SshRunnerFactory;
let runner: ProcessRunner;

function hostRecord(s: TestSshd, fingerprint: string | null): HostRecord {
  return {
    id: 'h1', name: 'test-host', kind: 'ssh', address: s.address, port: s.port, username: s.username,
    hostKeyFingerprint: fingerprint, capabilities: {}, status: 'online', lastCheckedAt: null,
  };
}

/** Waits until no process matches `pattern` (or the deadline passes); returns whether it is gone. */
async function processGone(pattern: string, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      execFileSync('pgrep', ['-f', pattern]);
    } catch {
      return true; // pgrep exits 1 when nothing matches
    }
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until a process matches `pattern`; returns whether one appeared in time. */
async function processAppears(pattern: string, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      execFileSync('pgrep', ['-f', pattern]);
      return true;
    } catch {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'slipway-ssh-'));
  const key = loadOrCreatePanelKey(dataDir);
  sshd = await startSshd({ authorizedKeys: [key.publicKey] });
  factory = createSshRunnerFactory({ dataDir });
  runner = await factory(hostRecord(sshd, sshd.hostKeyFingerprint));
});

afterAll(async () => {
  factory?.close();
  await sshd?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('panel key', () => {
  it('is generated once, private file 0600, public key in authorized_keys format', () => {
    const a = loadOrCreatePanelKey(dataDir);
    const b = loadOrCreatePanelKey(dataDir);
    expect(a.privateKey).toBe(b.privateKey);
    expect(statSync(a.path).mode & 0o777).toBe(0o600);
    expect(a.publicKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/=]+ slipway@/);
    // Same fingerprint as OpenSSH computes for the .pub file
    const ours = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${a.path}.pub`], { encoding: 'utf8' }).split(' ')[1];
    expect(a.fingerprint).toBe(ours);
  });
});

describe('quoting', () => {
  it('single-quotes every argument and escapes embedded quotes', () => {
    expect(shellQuote(`it's`)).toBe(`'it'\\''s'`);
    expect(remoteCommandLine('ls', ['-l', '$(reboot)'])).toBe(`exec 'ls' '-l' '$(reboot)'`);
    expect(remoteCommandLine('env', [], { env: { A: 'x y' }, cwd: '/tmp' })).toBe(`cd -- '/tmp' && exec env 'A=x y' 'env'`);
    expect(() => remoteCommandLine('ls', [], { env: { 'A;B': '1' } })).toThrow(TypeError);
    expect(() => remoteCommandLine('rm -rf /', [])).toThrow(TypeError);
  });
});

describe('SSH runner against a real sshd', () => {
  it('runs a command and returns its output', async () => {
    const r = await runner.exec('echo', ['hello', 'world']);
    expect(r.stdout).toBe('hello world\n');
    expect(r.exitCode).toBe(0);
    expect(runner.host).toBe('test-host');
  });

  it('reuses one pooled connection for concurrent commands', async () => {
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => runner.exec('echo', [String(i)])));
    expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 12 }, (_, i) => String(i)));
    // Each connection is one child of the listening sshd.
    const connections = execFileSync('pgrep', ['-P', String(sshd.pid)], { encoding: 'utf8' }).trim().split('\n');
    expect(connections).toHaveLength(1);
  });

  it('reports exit codes and stderr in an ExecError naming the host', async () => {
    const err = await runner.exec('sh', ['-c', 'echo oops >&2; exit 3']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecError);
    const e = err as ExecError;
    expect(e.exitCode).toBe(3);
    expect(e.stderr).toBe('oops\n');
    expect(e.host).toBe('test-host');
    expect(e.argv).toEqual(['sh', '-c', 'echo oops >&2; exit 3']);
    expect(e.message).toContain('on test-host');
    const ok = await runner.exec('sh', ['-c', 'exit 3'], { okExitCodes: [0, 3] });
    expect(ok.exitCode).toBe(3);
  });

  it('passes stdin, env and cwd', async () => {
    expect((await runner.exec('cat', [], { input: 'from stdin' })).stdout).toBe('from stdin');
    expect((await runner.exec('sh', ['-c', 'echo "$GREETING"'], { env: { GREETING: "it's $(here)" } })).stdout).toBe("it's $(here)\n");
    expect((await runner.exec('pwd', [], { cwd: '/usr/share' })).stdout).toBe('/usr/share\n');
  });

  it('streams lines to onLine as they arrive, per stream', async () => {
    const seen: [string, string, number][] = [];
    const started = Date.now();
    await runner.exec('sh', ['-c', 'echo one; sleep 0.4; echo two >&2; sleep 0.2; echo three'], {
      onLine: (line, stream) => seen.push([line, stream, Date.now() - started]),
    });
    expect(seen.map(([l, s]) => `${s}:${l}`)).toEqual(['stdout:one', 'stderr:two', 'stdout:three']);
    expect(seen[1]![2] - seen[0]![2]).toBeGreaterThanOrEqual(200); // 'one' arrived before the sleep ended
  });

  it('times out and ends the remote process', async () => {
    const err = await runner.exec('sleep', ['31.11'], { timeoutMs: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecError);
    expect((err as ExecError).reason).toBe('timeout');
    expect(await processGone('sleep 31.11', 10_000)).toBe(true);
  });

  it('cancels through an AbortSignal: the remote sleep really ends', async () => {
    const ac = new AbortController();
    const p = runner.exec('sleep', ['30.77'], { signal: ac.signal }).catch((e: unknown) => e);
    expect(await processAppears('sleep 30.77', 10_000)).toBe(true); // it is running on the host
    ac.abort();
    const err = await p;
    expect((err as ExecError).reason).toBe('cancelled');
    expect(await processGone('sleep 30.77', 10_000)).toBe(true);
  });

  it('cancelling ends the children of the remote program too (its process group)', async () => {
    const ac = new AbortController();
    const p = runner.exec('sh', ['-c', 'sleep 41.37; echo never'], { signal: ac.signal }).catch((e: unknown) => e);
    expect(await processAppears('sleep 41.37', 10_000)).toBe(true);
    ac.abort();
    expect(((await p) as ExecError).reason).toBe('cancelled');
    expect(await processGone('sleep 41.37', 10_000)).toBe(true);
  });

  it('stream() yields lines of a long-running command until stopped', async () => {
    const h = runner.stream('sh', ['-c', 'i=0; while true; do i=$((i+1)); echo "tick-7731 $i"; sleep 0.1; done']);
    const got: string[] = [];
    for await (const { line, stream } of h.lines) {
      expect(stream).toBe('stdout');
      got.push(line);
      if (got.length === 3) h.stop();
    }
    expect(got.slice(0, 3)).toEqual(['tick-7731 1', 'tick-7731 2', 'tick-7731 3']);
    await h.done;
    expect(await processGone('tick-7731', 10_000)).toBe(true);
  });

  it('reconnects after the connection drops', async () => {
    await runner.exec('true', []);
    // Kill this connection's server-side session processes; the pool must open a new one.
    execFileSync('pkill', ['-P', String(sshd.pid)]);
    await new Promise((r) => setTimeout(r, 300));
    const r = await runner.exec('echo', ['again']);
    expect(r.stdout).toBe('again\n');
  });
});

describe('through the host registry', () => {
  it('hosts.runner(id) of a pinned SSH host runs commands there', async () => {
    const t = await createTestDatabase();
    try {
      await migrate(t.database.db);
      const now = Date.now();
      await t.database.db.insertInto('hosts').values({
        id: 'h-reg', name: 'registry-host', kind: 'ssh', address: sshd.address, port: sshd.port, username: sshd.username,
        host_key_fingerprint: sshd.hostKeyFingerprint, capabilities: '{}', status: 'online', last_checked_at: null, created_at: now, updated_at: now,
      }).execute();
      const hosts = new HostRegistry(t.database.db);
      hosts.setRemoteRunnerFactory(factory);
      const r = await hosts.runner('h-reg');
      expect(r.host).toBe('registry-host');
      expect((await r.exec('id', ['-un'])).stdout.trim()).toBe(sshd.username);
    } finally {
      await t.cleanup();
    }
  });
});

describe('host keys', () => {
  it('probeHostKey returns the OpenSSH SHA256 fingerprint without logging in', async () => {
    const probe = await probeHostKey(sshd.address, sshd.port);
    expect(probe).toEqual({ fingerprint: sshd.hostKeyFingerprint, keyType: 'ssh-ed25519' });
  });

  it('connectionTest reports the key, whether it matches and the system', async () => {
    const first = await connectionTest({ address: sshd.address, port: sshd.port, username: sshd.username, hostKeyFingerprint: null }, { dataDir });
    expect(first).toMatchObject({ ok: true, hostKeyFingerprint: sshd.hostKeyFingerprint, hostKeyMatches: null });
    expect(first.system).toMatch(/^Linux /);
    const wrong = await connectionTest({ address: sshd.address, port: sshd.port, username: sshd.username, hostKeyFingerprint: 'SHA256:AAAA' }, { dataDir });
    expect(wrong).toMatchObject({ ok: false, hostKeyMatches: false, error: { code: 'host_key_mismatch' } });
  });

  it('connectionTest fails cleanly when the panel key is not authorized', async () => {
    const other = mkdtempSync(path.join(tmpdir(), 'slipway-ssh-other-'));
    try {
      const r = await connectionTest({ address: sshd.address, port: sshd.port, username: sshd.username, hostKeyFingerprint: sshd.hostKeyFingerprint }, { dataDir: other });
      expect(r.ok).toBe(false);
      expect(r.hostKeyMatches).toBe(true);
      expect(r.error?.code).toBe('auth_failed');
      expect(r.error?.message).toMatch(/authentication/i);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('a host that is down: ExecError (spawn) naming the host, connectionTest says unreachable', async () => {
    const port = await freePort(); // nothing listens there
    const down = await factory({ ...hostRecord(sshd, sshd.hostKeyFingerprint), id: 'down', name: 'down-host', port });
    const err = await down.exec('true', []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecError);
    expect((err as ExecError).reason).toBe('spawn');
    expect((err as ExecError).host).toBe('down-host');
    expect((err as ExecError).message).toMatch(/ECONNREFUSED/);
    const t = await connectionTest({ address: '127.0.0.1', port, username: sshd.username, hostKeyFingerprint: null }, { dataDir });
    expect(t).toMatchObject({ ok: false, hostKeyFingerprint: null, error: { code: 'unreachable' } });
    await expect(probeHostKey('127.0.0.1', port)).rejects.toThrow(/No SSH server answered/);
  });

  it('refuses a host without a pinned key', async () => {
    await expect(factory(hostRecord(sshd, null))).rejects.toBeInstanceOf(HostKeyNotPinnedError);
  });

  it('refuses loudly when the host comes back with another key', async () => {
    const key = loadOrCreatePanelKey(dataDir);
    const pinned = sshd.hostKeyFingerprint;
    const own = createSshRunnerFactory({ dataDir });
    const first = await startSshd({ authorizedKeys: [key.publicKey] });
    const host = hostRecord(first, first.hostKeyFingerprint);
    try {
      const r1 = await own(host);
      expect((await r1.exec('echo', ['pinned'])).stdout).toBe('pinned\n');
      own.close();
      await first.stop();
      // Same address and port, another host key: an impostor as far as we can tell.
      const impostor = await startSshd({ authorizedKeys: [key.publicKey], port: first.port });
      try {
        const again = createSshRunnerFactory({ dataDir });
        const err = await (await again(host)).exec('echo', ['should not run']).catch((e: unknown) => e);
        again.close();
        expect(err).toBeInstanceOf(HostKeyMismatchError);
        const e = err as HostKeyMismatchError;
        expect(e.expected).toBe(first.hostKeyFingerprint);
        expect(e.got).toBe(impostor.hostKeyFingerprint);
        expect(e.message).toContain('changed');
        expect(e.expected).not.toBe(e.got);
      } finally {
        await impostor.stop();
      }
    } finally {
      own.close();
      await first.stop();
    }
    expect(pinned).toBe(sshd.hostKeyFingerprint);
  });
});
