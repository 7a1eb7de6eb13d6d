import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface TestGuest {
  dir: string;
  kernel: string;
  initrd: string;
  baseDisk: string;
  cmdline: string;
}

/** Builds (once, cached in /var/cache/slipway-test) and returns the busybox test guest. */
export function testGuest(): TestGuest {
  const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../scripts/build-test-guest.sh');
  const dir = execFileSync('sh', [script], { encoding: 'utf8', timeout: 300_000 }).trim().split('\n').at(-1)!;
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { cmdline: string };
  return { dir, kernel: path.join(dir, 'vmlinuz'), initrd: path.join(dir, 'initrd.img'), baseDisk: path.join(dir, 'base.qcow2'), cmdline: manifest.cmdline };
}

export interface DebianGuest {
  dir: string;
  /** A bootable qcow2 (GRUB, Debian's cloud kernel, cloud-init with NoCloud only, sshd). */
  image: string;
  sha256: string;
  /** cloud-init's default user, where the seed's ssh_authorized_keys go. */
  user: string;
  virtualSizeMiB: number;
  kernelVersion: string;
  cloudInit: string;
}

/** Builds (once per machine, cached in /var/cache/slipway-ci; a few minutes) and returns the Debian guest. */
export function debianGuest(): DebianGuest {
  const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../scripts/build-debian-guest.sh');
  const dir = execFileSync('sh', [script], { encoding: 'utf8', timeout: 15 * 60_000 }).trim().split('\n').at(-1)!;
  const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { sha256: string; defaultUser: string; virtualSizeMiB: number; kernelVersion: string; cloudInit: string };
  return { dir, image: path.join(dir, 'debian.qcow2'), sha256: m.sha256, user: m.defaultUser, virtualSizeMiB: m.virtualSizeMiB, kernelVersion: m.kernelVersion, cloudInit: m.cloudInit };
}
