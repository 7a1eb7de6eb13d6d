import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalProcessRunner } from '../../../server/src/testing/index.js';
import { dnsmasqConfig } from './dnsmasq.config.js';
import { DnsmasqSupervisor } from './dnsmasq.process.js';
import { type IpxeBootFiles, locateIpxeBootFiles, parseBootBaseUrl } from './ipxe.js';
import { type BootToken, type Ipv4Cidr, type Mac } from './netboot.schema.js';

/**
 * proxyDHCP and TFTP answers of the supervised dnsmasq, on the generated config, in a network
 * namespace (ENGINES.md: several hosts on one machine), so ports 67/69/4011 clash with nothing:
 * server namespace ── veth ── client namespace. The client (test-fixtures/pxe-client.mjs, plain
 * node:dgram) plays a PXE firmware then iPXE: DHCPDISCOVER → proxy offer (no address, PXE menu),
 * boot-server request on 4011 → ACK with undionly.kpxe, TFTP read of it, iPXE's DISCOVER (user
 * class "iPXE") → the machine's tokened script URL; an unknown MAC gets the entry URL.
 */

const here = path.dirname(fileURLToPath(import.meta.url));
const client = path.join(here, 'test-fixtures/pxe-client.mjs');
const root = process.getuid?.() === 0;
const haveIp = existsSync('/usr/sbin/ip') || existsSync('/sbin/ip');
const tag = randomBytes(3).toString('hex');
const ns = { srv: `slwsrv${tag}`, cli: `slwcli${tag}` };
const ifs = { srv: `vs${tag}`, cli: `vc${tag}` };
const sh = (args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
const mac = '52:54:00:77:00:01' as Mac;
const token = randomBytes(32).toString('base64url') as BootToken;

let dir: string;
let sup: DnsmasqSupervisor | null = null;
let files: IpxeBootFiles | null = null;

describe.skipIf(!root || !haveIp)('supervised dnsmasq answers PXE in a network namespace', () => {
  beforeAll(async () => {
    files = await locateIpxeBootFiles(new LocalProcessRunner());
    dir = await mkdtemp('/tmp/slw-nbns-');
    sh(['netns', 'add', ns.srv]);
    sh(['netns', 'add', ns.cli]);
    sh(['link', 'add', ifs.srv, 'netns', ns.srv, 'type', 'veth', 'peer', 'name', ifs.cli, 'netns', ns.cli]);
    sh(['-n', ns.srv, 'addr', 'add', '10.213.7.1/24', 'dev', ifs.srv]);
    sh(['-n', ns.cli, 'addr', 'add', '10.213.7.50/24', 'dev', ifs.cli]);
    for (const [n, i] of [[ns.srv, ifs.srv], [ns.cli, ifs.cli]] as const) {
      sh(['-n', n, 'link', 'set', i, 'up']);
      sh(['-n', n, 'link', 'set', 'lo', 'up']);
    }
    sh(['-n', ns.cli, 'route', 'add', 'default', 'dev', ifs.cli]); // where 255.255.255.255 goes
    const conf = `${dir}/dnsmasq.conf`;
    writeFileSync(conf, dnsmasqConfig({
      interface: ifs.srv, subnet: '10.213.7.0/24' as Ipv4Cidr, bootBaseUrl: parseBootBaseUrl('http://10.213.7.1:8080'), bootFiles: files!, machines: [{ mac, token }], logDhcp: true,
    }), { mode: 0o600 });
    // the supervisor runs its binary as given: here dnsmasq inside the server namespace
    const wrapper = `${dir}/dnsmasq-in-ns`;
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns.srv} dnsmasq "$@"\n`);
    chmodSync(wrapper, 0o700);
    sup = new DnsmasqSupervisor({ confPath: conf, logPath: `${dir}/dnsmasq.log`, pidPath: `${dir}/dnsmasq.pid`, binary: wrapper });
    const st = await sup.start();
    expect(st.state, st.reason ?? '').not.toBe('failed');
    const deadline = Date.now() + 15_000;
    while (!(existsSync(`${dir}/dnsmasq.log`) && readFileSync(`${dir}/dnsmasq.log`, 'utf8').includes('TFTP root is')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  }, 60_000);

  afterAll(async () => {
    await sup?.stop();
    for (const n of [ns.srv, ns.cli]) {
      try {
        sh(['netns', 'del', n]);
      } catch {
        /* already gone */
      }
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  type Reply = { op: number; yiaddr: string; siaddr: string; file: string; options: Record<string, string> };
  const pxe = (m: string) => JSON.parse(execFileSync('ip', ['netns', 'exec', ns.cli, process.execPath, client, '10.213.7.1', m, 'undionly.kpxe', '10.213.7.50'], { timeout: 40_000 }).toString()) as
    { pxe: Reply[]; boot?: Reply[]; ipxe: Reply[]; tftp: { opcode: number; block: number; data: string } | null; traversal: { opcode: number; text: string } | null };

  it('a registered MAC: proxy offer without an address, 4011 ACK with undionly.kpxe, TFTP serves it, iPXE gets the tokened script URL', () => {
    expect(sup!.status().state).toBe('running');
    const r = pxe(mac);
    const offer = r.pxe[0]!;
    expect(offer, readFileSync(`${dir}/dnsmasq.log`, 'utf8').slice(-2000)).toBeDefined();
    expect(offer.options['53']).toBe('02'); // DHCPOFFER
    expect(offer.yiaddr).toBe('0.0.0.0'); // proxy: the site's DHCP server gives addresses
    expect(Buffer.from(offer.options['60']!, 'hex').toString()).toBe('PXEClient');
    expect(offer.options['54']).toBe('0ad50701'); // server id 10.213.7.1
    expect(Buffer.from(offer.options['43']!, 'hex').toString('latin1')).toContain('Slipway iPXE (BIOS)');

    const ack = r.boot![0]!;
    expect(ack.options['53']).toBe('05'); // DHCPACK from the boot server (port 4011)
    expect(ack.file).toBe('undionly.kpxe');
    expect(ack.siaddr).toBe('10.213.7.1');

    expect(r.tftp).toMatchObject({ opcode: 3, block: 1 }); // DATA block 1
    const want = readFileSync(files!.bios).subarray(0, 512);
    expect(Buffer.from(r.tftp!.data, 'hex').equals(want)).toBe(true);
    expect(r.traversal).toMatchObject({ opcode: 5 }); // ERROR: nothing outside the TFTP root

    const ipxe = r.ipxe[0]!;
    expect(ipxe.file).toBe(`http://10.213.7.1:8080/api/v1/netboot/boot/52-54-00-77-00-01.ipxe?token=${token}`);
    // the token is redacted in the supervised process's log
    expect(readFileSync(`${dir}/dnsmasq.log`, 'utf8')).not.toContain(token);
  }, 60_000);

  it('an unknown MAC: iPXE is offered the entry URL (menu), never a token', () => {
    const r = pxe('52:54:00:77:00:99');
    expect(r.pxe[0]?.options['53']).toBe('02');
    expect(r.ipxe[0]!.file).toBe('http://10.213.7.1:8080/api/v1/netboot/boot/${net0/mac:hexhyp}.ipxe');
    expect(r.ipxe[0]!.file).not.toContain('token');
  }, 60_000);
});
