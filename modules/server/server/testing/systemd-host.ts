import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SYSTEMD_IMAGE = 'slipway-test/systemd:1';

export interface SystemdHost {
  containerId: string;
  address: string;
  port: number;
  username: 'root';
  /** As `ssh-keygen -lf` prints it inside the container: what an operator compares before pinning. */
  hostKeyFingerprint: string;
  exec(args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A real systemd host for tests: the Debian container built by scripts/provision-test-host.sh
 * (systemd as PID 1, sshd, nginx), its SSH port published on loopback and the panel's key in
 * root's authorized_keys.
 */
export async function startSystemdHost(authorizedKey: string): Promise<SystemdHost> {
  await run('docker', ['image', 'inspect', SYSTEMD_IMAGE]).catch(() => {
    throw new Error(`${SYSTEMD_IMAGE} is missing: run scripts/provision-test-host.sh`);
  });
  const { stdout } = await run('docker', [
    'run', '-d', '--rm', '--stop-signal', 'SIGRTMIN+3', '-v', '/sys/fs/cgroup:/sys/fs/cgroup:ro', '--tmpfs', '/run', '--tmpfs', '/run/lock',
    '-e', 'container=docker', '-p', '127.0.0.1::22', '--label', 'slipway-test=server-module', SYSTEMD_IMAGE, '/lib/systemd/systemd',
  ]);
  const containerId = stdout.trim();
  const exec = async (args: string[]) => (await run('docker', ['exec', containerId, ...args])).stdout;
  const stop = async () => {
    await run('docker', ['rm', '-f', containerId]).catch(() => {});
  };
  try {
    const dir = mkdtempSync(path.join(tmpdir(), 'slipway-systemd-'));
    const keys = path.join(dir, 'authorized_keys');
    writeFileSync(keys, `${authorizedKey.trim()}\n`);
    await run('docker', ['cp', keys, `${containerId}:/root/.ssh/authorized_keys`]);
    rmSync(dir, { recursive: true, force: true });
    await exec(['chown', 'root:root', '/root/.ssh/authorized_keys']);
    await exec(['chmod', '600', '/root/.ssh/authorized_keys']);
    const deadline = Date.now() + 30_000;
    let fingerprint = '';
    for (;;) {
      const state = (await exec(['systemctl', 'is-system-running']).catch((e: { stdout?: string }) => e.stdout ?? '')).trim();
      const ssh = (await exec(['systemctl', 'is-active', 'ssh']).catch(() => '')).trim();
      if ((state === 'running' || state === 'degraded') && ssh === 'active') {
        fingerprint = (await exec(['ssh-keygen', '-l', '-E', 'sha256', '-f', '/etc/ssh/ssh_host_ed25519_key.pub'])).split(' ')[1] ?? '';
        break;
      }
      if (Date.now() > deadline) throw new Error(`systemd container did not come up (state ${state}, ssh ${ssh})`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const port = Number((await run('docker', ['port', containerId, '22/tcp'])).stdout.trim().split('\n')[0]!.split(':').pop());
    return { containerId, address: '127.0.0.1', port, username: 'root', hostKeyFingerprint: fingerprint, exec, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
