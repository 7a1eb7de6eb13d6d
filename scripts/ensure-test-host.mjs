#!/usr/bin/env node
// Runs before `npm test`: the suite talks to real engines (Docker, Caddy, Netdata, sshd, Chromium).
// When one is missing, provision this machine (as root) or say exactly what to run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const checks = [
  ['Docker Engine', () => existsSync('/var/run/docker.sock') && spawnSync('docker', ['-H', 'unix:///var/run/docker.sock', 'info'], { stdio: 'ignore' }).status === 0],
  ['Caddy admin API', () => spawnSync('curl', ['-fsS', '-o', '/dev/null', 'http://127.0.0.1:2019/config/'], { stdio: 'ignore' }).status === 0],
  ['Chromium', () => existsSync('/usr/bin/chromium')],
  ['OpenSSH server', () => existsSync('/usr/sbin/sshd')],
];
const missing = checks.filter(([, ok]) => !ok()).map(([name]) => name);
if (missing.length === 0) process.exit(0);

console.log(`[test host] not ready: ${missing.join(', ')}`);
if (process.getuid?.() === 0) {
  console.log('[test host] running scripts/provision-test-host.sh');
  const r = spawnSync('bash', ['scripts/provision-test-host.sh'], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
console.error('[test host] run once as root: sudo bash scripts/provision-test-host.sh');
process.exit(1);
