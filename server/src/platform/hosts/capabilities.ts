import { ExecError } from '../../infra/exec-error.js';
import type { ProcessRunner } from '../../infra/process-runner.js';

/** What a host offers; modules read these to enable themselves on it. */
export const CAPABILITY_PATHS = {
  wordops: ['/usr/local/bin/wo', '/usr/bin/wo'],
  dokku: ['/usr/bin/dokku', '/usr/local/bin/dokku'],
  docker: ['/var/run/docker.sock', '/run/docker.sock'],
  libvirt: ['/usr/bin/virsh'],
  tgt: ['/usr/sbin/tgtadm'],
  systemctl: ['/usr/bin/systemctl', '/bin/systemctl'],
  journald: ['/usr/bin/journalctl', '/bin/journalctl'],
  netdata: ['/usr/sbin/netdata', '/opt/netdata/bin/netdata'],
  caddy: ['/usr/bin/caddy', '/usr/local/bin/caddy'],
} as const;

export type CapabilityName = keyof typeof CAPABILITY_PATHS | 'systemd';
export type Capabilities = Record<CapabilityName, boolean>;

/**
 * One `ls -d -- <known paths>` tells which tools are installed (ls prints the ones that exist and
 * exits 2 for the rest); `systemctl is-system-running` tells whether systemd is actually PID 1.
 */
export async function detectCapabilities(run: ProcessRunner): Promise<Capabilities> {
  const all = Object.values(CAPABILITY_PATHS).flat();
  const r = await run.exec('ls', ['-d', '--', ...all], { timeoutMs: 15_000, okExitCodes: [0, 1, 2] });
  const present = new Set(r.stdout.split('\n').map((l) => l.trim()).filter(Boolean));
  const caps = Object.fromEntries(
    Object.entries(CAPABILITY_PATHS).map(([name, paths]) => [name, paths.some((p) => present.has(p))]),
  ) as Capabilities;
  caps.systemd = caps.systemctl ? await systemdIsLive(run) : false;
  // journald only answers where systemd runs.
  caps.journald = caps.journald && caps.systemd;
  return caps;
}

/** True when systemd is PID 1 and answering (`is-system-running` prints running/degraded/…; "offline" without it). */
async function systemdIsLive(run: ProcessRunner): Promise<boolean> {
  try {
    const r = await run.exec('systemctl', ['is-system-running'], { timeoutMs: 10_000, okExitCodes: [0, 1] });
    const state = r.stdout.trim() || 'offline';
    return !['offline', 'unknown', ''].includes(state);
  } catch (e) {
    if (e instanceof ExecError) return false;
    throw e;
  }
}
