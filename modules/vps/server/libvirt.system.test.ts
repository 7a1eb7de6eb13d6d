import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalProcessRunner, QemuImg } from '../../../server/src/testing/index.js';
import { detectAccel } from './accel.js';
import { buildSeedFiles, writeSeedIso } from './cloud-init.js';
import { buildDomainXml, buildNetworkXml } from './domain-xml.js';
import { Virsh, stateAfterEvent, type LifecycleEvent } from './libvirt.virsh.js';
import { testGuest, type TestGuest } from './test-fixtures/test-guest.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIo3nGHoLxjSFeJ2CU1cQTFmSuvvmBJXCsaXrP38OeTi alice@laptop';

/**
 * One real guest under qemu:///system: disk overlay (qemu-img) + NoCloud seed ISO + isolated network
 * with a DHCP reservation + direct kernel boot under TCG; we see it running via libvirt's event
 * stream and its seed applied on the serial console, then destroy and undefine everything.
 */
describe('real libvirt (qemu:///system): a TCG guest from the test-guest builder', () => {
  const run = new LocalProcessRunner();
  const v = new Virsh(run, { uri: 'qemu:///system' });
  const tag = randomBytes(3).toString('hex');
  const vpsId = `0190a0b0-0000-7000-8000-${randomBytes(6).toString('hex')}`;
  const name = `slipway-${vpsId}`;
  const net = `slipway-t${tag}`;
  const octet = 100 + (parseInt(tag.slice(0, 2), 16) % 150);
  const mac = `52:54:00:${tag.slice(0, 2)}:${tag.slice(2, 4)}:${tag.slice(4, 6)}`;
  const dir = `/var/lib/libvirt/images/slipway-vpstest-${tag}`;
  const events: LifecycleEvent[] = [];
  let stream: { stop(): void } | null = null;
  let guest: TestGuest;

  beforeAll(() => {
    guest = testGuest();
    mkdirSync(dir, { recursive: true, mode: 0o711 });
  });
  afterAll(async () => {
    stream?.stop();
    if (await v.exists(name).catch(() => false)) {
      await v.destroy(name, vpsId).catch(() => {});
      await v.undefine(name, vpsId).catch(() => {});
    }
    if ((await v.netList().catch(() => [])).some((n) => n.name === net)) {
      await v.netDestroy(net).catch(() => {});
      await v.netUndefine(net).catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('defines and starts the guest, sees it running, and the seed applied; then destroys and undefines it', async () => {
    const q = new QemuImg(run, { root: dir });
    copyFileSync(guest.baseDisk, path.join(dir, 'image.qcow2'));
    const image = await q.inspectUntrusted(path.join(dir, 'image.qcow2'));
    await q.create(path.join(dir, 'disk.qcow2'), { backing: { file: path.join(dir, 'image.qcow2'), format: image.format as 'qcow2' }, sizeBytes: 96 * 1024 ** 2 });

    await v.netDefine(buildNetworkXml({ name: net, bridge: `swt${tag}`, mode: 'isolated', address: `10.231.${octet}.1`, prefix: 24, dhcpRange: { start: `10.231.${octet}.100`, end: `10.231.${octet}.200` } }));
    await v.netStart(net);
    await v.netDhcpHost(net, 'add', { mac, ip: `10.231.${octet}.50`, name: 'web1' });

    await writeSeedIso(run, path.join(dir, 'seed.iso'), buildSeedFiles({
      instanceId: vpsId,
      hostname: 'web1',
      sshKeys: [KEY],
      userData: '#cloud-config\nfinal_message: "hello from slipway"\n',
      network: { mac, mode: 'dhcp' },
    }));

    const accel = await detectAccel(run);
    const xml = buildDomainXml({
      name,
      type: accel.type,
      memoryMb: 256,
      vcpus: 1,
      boot: { kind: 'kernel', kernel: guest.kernel, initrd: guest.initrd, cmdline: guest.cmdline },
      disk: { path: path.join(dir, 'disk.qcow2'), format: 'qcow2' },
      seedIso: path.join(dir, 'seed.iso'),
      interfaces: [{ network: net, mac }],
      vnc: true,
      serialLog: path.join(dir, 'serial.log'),
      metadata: { vpsId, ownerId: 'owner-1' },
    });
    await v.define(xml, { vpsId, ownerId: 'owner-1' });
    expect((await v.listDescribed()).find((d) => d.name === name)).toMatchObject({ managed: true, state: 'shut off' });

    stream = v.events((e) => {
      if (e.domain === name) events.push(e);
    });
    await new Promise((r) => setTimeout(r, 300));
    await v.start(name, vpsId);
    await v.waitForState(name, 'running', 30_000);

    const d = await v.describe(name);
    expect(d.vnc?.listen).toBe('127.0.0.1');
    expect(d.vnc?.port).toBeGreaterThanOrEqual(5900);
    expect(d.serialPty).toMatch(/^\/dev\/pts\/\d+$/);

    const log = path.join(dir, 'serial.log');
    const until = Date.now() + 120_000;
    let text = '';
    while (Date.now() < until) {
      text = existsSync(log) ? readFileSync(log, 'utf8') : '';
      if (/web1 login:/.test(text) && text.includes(`SLIPWAY-GUEST: ip=10.231.${octet}.50`)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(text).toContain('SLIPWAY-GUEST: hostname=web1');
    expect(text).toContain(`SLIPWAY-GUEST: instance-id=${vpsId}`);
    expect(text).toContain('SLIPWAY-GUEST: key ssh-ed25519 alice@laptop');
    expect(text).toContain('SLIPWAY-GUEST: final_message=hello from slipway');
    expect(text).toContain(`SLIPWAY-GUEST: disk-bytes=${96 * 1024 ** 2}`);
    expect(text).toContain(`SLIPWAY-GUEST: ip=10.231.${octet}.50`);
    expect(text).toMatch(/web1 login:/);

    expect(events.some((e) => stateAfterEvent(e) === 'running')).toBe(true);
    const stats = await v.domstats([name], ['state', 'cpu-total']);
    expect(stats.get(name)?.['state.state']).toBe(1);

    await v.destroy(name, vpsId);
    await v.waitForState(name, 'shut off', 15_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(events.some((e) => e.type === 'Stopped')).toBe(true);
    await v.undefine(name, vpsId);
    expect(await v.exists(name)).toBe(false);
    await v.netDhcpHost(net, 'delete', { mac, ip: `10.231.${octet}.50`, name: 'web1' });
    await v.netDestroy(net);
    await v.netUndefine(net);
    expect((await v.netList()).some((n) => n.name === net)).toBe(false);
  }, 240_000);
});
