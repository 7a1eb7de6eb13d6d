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
