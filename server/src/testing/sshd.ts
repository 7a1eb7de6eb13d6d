import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

export interface TestSshd {
  address: string;
  port: number;
  /** The listening sshd's pid; its children are the per-connection processes. */
  pid: number;
  /** The user tests log in as (the user running the tests). */
  username: string;
  /** `SHA256:…` of the server's host key, as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
  /** The private host key file, to start another sshd with the same identity. */
  hostKeyPath: string;
  stop(): Promise<void>;
}

export interface StartSshdOptions {
  /** `authorized_keys` lines allowed to log in. */
  authorizedKeys: string[];
  /** Reuse a port (e.g. to restart "the same host" with another key). */
  port?: number;
  /** Reuse an existing host key (e.g. another running instance's) instead of generating a fresh one. */
  hostKeyPath?: string;
  /**
   * Sessions get SHLVL=1, so bash (the test user's login shell) does not source ~/.bashrc for
   * commands run over SSH: a host's rc files (e.g. a `pyenv init` that waits 60 s on a lock) are not
   * what the test is about. Opt-in: with it, 12 concurrent channels on one connection were seen to
   * end without an exit status (ssh.test.ts), so the default keeps the host's normal shell start.
   */
  skipShellRc?: boolean;
}


export { freePort };

/**
 * A private OpenSSH server on loopback for tests (DEBUG_TEST_SSHD=1 shows its debug log): its own host key, config and authorized_keys
 * in a temp dir, run in the foreground (`sshd -D -e`) and stopped by `stop()`.
 */
export async function startSshd(opts: StartSshdOptions): Promise<TestSshd> {
  const dir = mkdtempSync(path.join(tmpdir(), 'slipway-sshd-'));
  let hostKeyPath = opts.hostKeyPath;
  if (!hostKeyPath) {
    hostKeyPath = path.join(dir, 'ssh_host_ed25519_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'slipway-test-host', '-f', hostKeyPath]);
  }
  const fingerprintLine = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKeyPath}.pub`], { encoding: 'utf8' });
  const hostKeyFingerprint = fingerprintLine.split(' ')[1]!;
  const authorized = path.join(dir, 'authorized_keys');
  writeFileSync(authorized, opts.authorizedKeys.map((k) => `${k.trim()}\n`).join(''), { mode: 0o600 });
  const port = opts.port ?? (await freePort());
  const config = path.join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKeyPath}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorized}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'UsePAM no',
      'StrictModes no',
      'MaxStartups 50',
      ...(opts.skipShellRc ? ['SetEnv SHLVL=1'] : []),
      process.env.DEBUG_TEST_SSHD ? 'LogLevel DEBUG3' : 'LogLevel INFO',
      '',
    ].join('\n'),
  );
  // sshd's privilege separation directory; present on Debian once openssh-server ran, not in every container.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const child: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sshd did not start within 10 s:\n${log}`)), 10000);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (c: string) => {
      log += c;
      if (/Server listening on/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited with code ${code}:\n${log}`));
    });
  });
  if (process.env.DEBUG_TEST_SSHD) child.stderr!.on('data', (c: string) => process.stderr.write(c));
  else child.stderr!.resume();
  let stopped = false;
  return {
    address: '127.0.0.1',
    port,
    pid: child.pid!,
    username: userInfo().username,
    hostKeyFingerprint,
    hostKeyPath,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        await exited;
      }
      // Keep a reused host key's directory: only remove what this instance created.
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
