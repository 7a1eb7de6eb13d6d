import { type ProcessRunner } from '../../../server/src/sdk.js';

/**
 * Decides per host whether guests run under KVM or TCG (`<domain type='kvm'>` vs `'qemu'`).
 *
 * `/dev/kvm` existing proves nothing: on this project's machines it is a paravirtual nested device
 * without hardware virtualisation flags, and stock kernels die with "KVM internal error … emulation
 * failure" (see ENGINES.md). So the decision takes, in order:
 *   1. no `vmx`/`svm` CPU flag in /proc/cpuinfo → TCG;
 *   2. /dev/kvm missing or not a character device → TCG;
 *   3. with a probe guest (kernel + initrd), boot it under `-accel kvm` and wait for its marker on
 *      the serial console: KVM only if it really boots; without a probe guest → TCG (unsure).
 * Default when unsure is TCG: slower, never broken.
 */

export interface AccelDecision {
  type: 'kvm' | 'qemu';
  reason: string;
  checkedAt: number;
}

export interface ProbeGuest {
  kernel: string;
  initrd: string;
  /** A line the guest prints on ttyS0 once its userland runs. */
  marker: string;
  timeoutSeconds?: number;
}

const PATH = /^\/[A-Za-z0-9._/-]+$/;

/**
 * Boots the probe guest directly with qemu (no libvirt, no disk, no network) and reports whether the
 * marker appeared. `timeout` bounds it; `-no-reboot` + `panic=-1` make a crashing kernel exit.
 */
export async function probeBoot(run: ProcessRunner, accel: 'kvm' | 'tcg', guest: ProbeGuest): Promise<{ booted: boolean; output: string }> {
  if (!PATH.test(guest.kernel) || !PATH.test(guest.initrd)) throw new TypeError('probe guest paths must be absolute');
  const secs = guest.timeoutSeconds ?? 60;
  const args = [
    '--kill-after=5', String(secs), 'qemu-system-x86_64',
    '-accel', accel, ...(accel === 'kvm' ? ['-cpu', 'host'] : []),
    '-m', '256', '-smp', '1', '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-serial', 'stdio', '-monitor', 'none',
    '-kernel', guest.kernel, '-initrd', guest.initrd,
    '-append', 'console=ttyS0 loglevel=3 panic=-1',
  ];
  const h = run.stream('timeout', args);
  let output = '';
  let booted = false;
  for await (const l of h.lines) {
    output = `${output}${l.line}\n`.slice(-8192);
    if (l.line.includes(guest.marker)) {
      booted = true;
      break;
    }
  }
  h.stop();
  await h.done.catch(() => null);
  return { booted, output };
}

export async function detectAccel(run: ProcessRunner, opts: { probe?: ProbeGuest; now?: () => number } = {}): Promise<AccelDecision> {
  const now = opts.now ?? Date.now;
  const flags = await run.exec('grep', ['-m', '1', '-o', '-w', '-E', 'vmx|svm', '/proc/cpuinfo'], { okExitCodes: [0, 1, 2], timeoutMs: 60_000 });
  if (flags.exitCode !== 0 || !flags.stdout.trim()) return { type: 'qemu', reason: 'the CPU has no vmx/svm flag: hardware virtualisation is not available, using TCG', checkedAt: now() };
  const dev = await run.exec('test', ['-c', '/dev/kvm'], { okExitCodes: [0, 1], timeoutMs: 60_000 });
  if (dev.exitCode !== 0) return { type: 'qemu', reason: '/dev/kvm is missing, using TCG', checkedAt: now() };
  if (!opts.probe) return { type: 'qemu', reason: `CPU flag ${flags.stdout.trim()} and /dev/kvm present, but no probe guest to prove KVM boots a stock kernel: using TCG`, checkedAt: now() };
  try {
    const r = await probeBoot(run, 'kvm', opts.probe);
    if (r.booted) return { type: 'kvm', reason: 'a stock kernel booted under KVM', checkedAt: now() };
    const why = /KVM internal error[^\n]*/.exec(r.output)?.[0] ?? 'the probe guest did not reach userland';
    return { type: 'qemu', reason: `KVM present but unusable (${why}): using TCG`, checkedAt: now() };
  } catch (e) {
    return { type: 'qemu', reason: `KVM probe failed (${(e as Error).message.slice(0, 200)}): using TCG`, checkedAt: now() };
  }
}

/** One decision per host, made once (and again on `refresh`). */
export class AccelCache {
  private readonly byHost = new Map<string, Promise<AccelDecision>>();
  constructor(private readonly probe?: ProbeGuest) {}
  get(run: ProcessRunner, refresh = false): Promise<AccelDecision> {
    let p = this.byHost.get(run.host);
    if (!p || refresh) {
      p = detectAccel(run, { probe: this.probe });
      this.byHost.set(run.host, p);
      p.catch(() => this.byHost.delete(run.host));
    }
    return p;
  }
}
