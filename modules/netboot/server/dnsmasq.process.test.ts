import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsmasqSupervisor } from './dnsmasq.process.js';

/**
 * The supervised dnsmasq with the real binary: a config that answers nothing on the network
 * (`port=0`: no DNS; no dhcp-range: no DHCP), so the test needs no privileged port or interface.
 * Proven: the config test gates the start, start/stop, restart after a crash (SIGKILL) with
 * backoff, output in the log file with tokens redacted. Not proven here: proxyDHCP/TFTP answers.
 */

let dir: string;
const alive = (pid: number | null) => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const until = async (what: () => boolean, ms = 8000) => {
  const end = Date.now() + ms;
  while (!what() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return what();
};

beforeAll(async () => {
  dir = await mkdtemp('/tmp/slw-dnsm-');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('dnsmasq supervisor (real dnsmasq)', () => {
  it('refuses a config dnsmasq --test refuses (nothing started), runs a good one, restarts it after a crash, stops it on stop', async () => {
    const conf = `${dir}/dnsmasq.conf`;
    const sup = new DnsmasqSupervisor({ confPath: conf, logPath: `${dir}/dnsmasq.log`, pidPath: `${dir}/dnsmasq.pid`, backoffMs: 100, backoffMaxMs: 400, stableMs: 60_000 });
    await writeFile(conf, 'port=0\nno-resolv\nno-hosts\nbogus-option-xyz\n# token=Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n');
    const bad = await sup.start();
    expect(bad.state).toBe('failed');
    expect(bad.pid).toBeNull();
    expect(bad.reason).toMatch(/bogus-option-xyz|bad option|error/i);

    await writeFile(conf, 'port=0\nno-resolv\nno-hosts\n');
    const ok = await sup.start();
    expect(ok.state).toBe('running');
    expect(await until(() => alive(ok.pid))).toBe(true);
    // dnsmasq itself wrote the pid of the process we watch
    const pidInFile = () => (existsSync(`${dir}/dnsmasq.pid`) ? readFileSync(`${dir}/dnsmasq.pid`, 'utf8').trim() : '');
    expect(await until(() => pidInFile() === String(ok.pid))).toBe(true);

    // crash: SIGKILL → backoff → a new process
    process.kill(ok.pid!, 'SIGKILL');
    expect(await until(() => sup.status().state === 'backoff' || (sup.status().pid !== ok.pid && sup.status().state === 'running'))).toBe(true);
    expect(await until(() => sup.status().state === 'running' && sup.status().pid !== ok.pid)).toBe(true);
    const second = sup.status();
    expect(second.restarts).toBe(1);
    expect(await until(() => alive(second.pid))).toBe(true);
    expect(alive(ok.pid)).toBe(false);

    // a bad config later does not take the running one down (on a loaded machine the restarted
    // child may still be settling: start from a child that is running now)
    // and has read its config (dnsmasq logs "started" once it has parsed it)
    const logText = () => (existsSync(`${dir}/dnsmasq.log`) ? readFileSync(`${dir}/dnsmasq.log`, 'utf8') : '');
    expect(await until(() => sup.status().state === 'running' && logText().includes(`dnsmasq[${sup.status().pid}]: started`))).toBe(true);
    const running = sup.status();
    await writeFile(conf, 'port=0\nbogus-option-xyz\n');
    const kept = await sup.start();
    expect(kept.state, `${JSON.stringify(kept)}\n${existsSync(`${dir}/dnsmasq.log`) ? readFileSync(`${dir}/dnsmasq.log`, 'utf8') : ''}`).toBe('running');
    expect(kept.pid).toBe(running.pid);
    expect(kept.reason).toMatch(/--test refused/);

    await sup.stop();
    expect(sup.status()).toMatchObject({ state: 'stopped', pid: null });
    expect(await until(() => !alive(running.pid))).toBe(true);
    // no restart after a stop
    await new Promise((r) => setTimeout(r, 500));
    expect(sup.status().state).toBe('stopped');
    // the log lines are appended asynchronously
    const logged = (re: RegExp) => re.test(existsSync(`${dir}/dnsmasq.log`) ? readFileSync(`${dir}/dnsmasq.log`, 'utf8') : '');
    expect(await until(() => logged(/dnsmasq exited \(SIGKILL\)/))).toBe(true);
    expect(await until(() => logged(/started, version/))).toBe(true);
  }, 30_000);

  it('redacts boot tokens in the lines the child prints before they reach the log file', async () => {
    // dnsmasq prints the boot URL it offers (log-dhcp) only for real DHCP traffic: a stand-in
    // process prints such a line, so what is checked is the supervisor's log path.
    const tok = 'B'.repeat(43);
    const fake = `${dir}/fake-dnsmasq`;
    await writeFile(fake, `#!/bin/sh\ncase "$1" in --test) exit 0;; esac\necho "dnsmasq-dhcp: bootfile name: http://10.0.0.1/api/v1/netboot/boot/52-54-00-00-00-01.ipxe?token=${tok}" >&2\nexec sleep 30\n`, { mode: 0o700 });
    const sup = new DnsmasqSupervisor({ binary: fake, confPath: `${dir}/x.conf`, logPath: `${dir}/tok.log`, pidPath: `${dir}/tok.pid` });
    expect((await sup.start()).state).toBe('running');
    expect(await until(() => existsSync(`${dir}/tok.log`) && readFileSync(`${dir}/tok.log`, 'utf8').includes('bootfile name'))).toBe(true);
    await sup.stop();
    const log = await readFile(`${dir}/tok.log`, 'utf8');
    expect(log).toContain('token=[redacted]');
    expect(log).not.toContain(tok);
  });
});
