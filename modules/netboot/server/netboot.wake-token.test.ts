import { createSocket, type Socket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { injector, type Json } from './test-fixtures/inject.js';
import { createTestApp, type SignedIn, type TestApp } from '../../../server/src/testing/harness.js';
import { createNetbootModule, type NetbootRuntime } from './index.js';
import type { Mac } from './netboot.schema.js';
import { netbootTestEnv, uniqueTestIds } from './test-fixtures/runners.js';
import { directedBroadcast, magicPacket, parseWakeAddress } from './wol.js';
import type { Ipv4Cidr } from './netboot.schema.js';

/**
 * Boot-token rotation and wake-on-LAN through the API. The magic packet is caught by a real UDP
 * socket on 127.0.0.1 (the panel's configured wake address in this test), so what is asserted is
 * the datagram that left the panel, byte for byte.
 */

const ids = uniqueTestIds();
let t: TestApp;
let rt: NetbootRuntime;
let admin: SignedIn;
let listener: Socket;
const got: { msg: Buffer; port: number }[] = [];

const api = injector(() => t);

beforeAll(async () => {
  listener = createSocket('udp4');
  listener.on('message', (msg, rinfo) => got.push({ msg, port: rinfo.port }));
  await new Promise<void>((r) => listener.bind(0, '127.0.0.1', () => r()));
  const port = (listener.address() as AddressInfo).port;
  t = await createTestApp({
    modules: [createNetbootModule({ onRuntime: (r) => (rt = r) })],
    env: netbootTestEnv(ids, { SLIPWAY_NETBOOT_WAKE_BROADCAST: '127.0.0.1', SLIPWAY_NETBOOT_WAKE_PORT: String(port) }),
  });
  admin = await t.signIn('admin');
}, 120_000);

afterAll(async () => {
  listener?.close();
  await t?.close();
});

const waitPackets = async (n: number) => {
  for (let i = 0; i < 100 && got.length < n; i++) await new Promise((r) => setTimeout(r, 20));
};

describe('netboot: wake-on-LAN', () => {
  it('the magic packet is 6 × ff then the MAC 16 times (102 bytes); addresses are dotted IPv4 only', () => {
    const p = magicPacket('52:54:00:ab:cd:ef' as Mac);
    expect(p.length).toBe(102);
    expect(p.subarray(0, 6).toString('hex')).toBe('ffffffffffff');
    for (let i = 0; i < 16; i++) expect(p.subarray(6 + i * 6, 12 + i * 6).toString('hex')).toBe('525400abcdef');
    expect(directedBroadcast('10.20.0.0/24' as Ipv4Cidr)).toBe('10.20.0.255');
    expect(directedBroadcast('172.16.0.0/12' as Ipv4Cidr)).toBe('172.31.255.255');
    for (const bad of ['example.com', '10.0.0.01', '0.0.0.0', '224.0.0.1', '::1', '10.0.0.1 ', '']) expect(() => parseWakeAddress(bad), bad).toThrow();
    expect(parseWakeAddress('255.255.255.255')).toBe('255.255.255.255');
  });

  it('POST …/wake sends one magic packet for the machine\'s MAC to the configured address; a body naming another host changes nothing', async () => {
    const m = (await api('POST', '/netboot/machines', admin, { name: `${ids.tag}-w`, mac: '52-54-00-AB-CD-EF', imageId: null })).body.machine;
    expect(m?.id).toBeTruthy();
    got.length = 0;
    const r = await api('POST', `/netboot/machines/${m.id}/wake`, admin);
    expect(r.status, r.text).toBe(200);
    expect(r.body.sent).toMatchObject({ address: '127.0.0.1', bytes: 102 });
    await waitPackets(1);
    expect(got).toHaveLength(1);
    expect(got[0]!.msg.toString('hex')).toBe(`ffffffffffff${'525400abcdef'.repeat(16)}`);
    // the target is never taken from the request
    const r2 = await api('POST', `/netboot/machines/${m.id}/wake`, admin, { address: '192.0.2.1', port: 7, mac: '52:54:00:00:00:01' });
    expect(r2.status, r2.text).toBe(200);
    expect(r2.body.sent.address).toBe('127.0.0.1');
    await waitPackets(2);
    expect(got).toHaveLength(2);
    expect(got[1]!.msg.equals(got[0]!.msg)).toBe(true);
    const audit = await t.services.audit.list({ action: 'netboot.machine.wake', targetId: m.id, limit: 5 });
    expect(audit.items).toHaveLength(2);
    expect(audit.items[0]!.details).toMatchObject({ mac: '52:54:00:ab:cd:ef', address: '127.0.0.1' });
    expect((await api('POST', '/netboot/machines/does-not-exist/wake', admin)).status).toBe(404);
  });
});

describe('netboot: boot token rotation', () => {
  it('the new token works at once, the old one gets the unknown-MAC menu, the dnsmasq config follows, the audit holds no token', async () => {
    await api('PATCH', '/netboot/settings', admin, { subnet: '10.88.0.0/24' });
    const m = (await api('POST', '/netboot/machines', admin, { name: `${ids.tag}-r`, mac: '52:54:00:ab:cd:01', imageId: null, bootMode: 'iscsi' })).body.machine;
    const oldUrl = new URL(m.ipxeScriptUrl as string);
    const oldTok = oldUrl.searchParams.get('token')!;
    const script = (tok: string) => t.app.inject({ method: 'GET', url: `/api/v1/netboot/boot/52-54-00-ab-cd-01.ipxe?token=${encodeURIComponent(tok)}` }).then((x) => x.body);
    const menu = (await t.app.inject({ method: 'GET', url: '/api/v1/netboot/boot/52-54-00-ab-cd-99.ipxe' })).body;
    const before = await script(oldTok);
    expect(before).not.toBe(menu);
    const conf = rt.engine.paths.dnsmasqConf;
    const waitConf = async (needle: string) => {
      for (let i = 0; i < 50; i++) {
        if ((await readFile(conf, 'utf8').catch(() => '')).includes(needle)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await waitConf(oldTok);
    expect(await readFile(conf, 'utf8')).toContain(oldTok);

    const r = await api('POST', `/netboot/machines/${m.id}/token`, admin);
    expect(r.status, r.text).toBe(200);
    const newTok = new URL(r.body.machine.ipxeScriptUrl as string).searchParams.get('token')!;
    expect(newTok).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(newTok).not.toBe(oldTok);
    expect(await script(oldTok)).toBe(menu);
    expect(await script(newTok)).toBe(before);
    // rewritten before the answer (no debounce): the old token is gone from the file already
    const text = await readFile(conf, 'utf8');
    expect(text).toContain(newTok);
    expect(text).not.toContain(oldTok);
    const audit = await t.services.audit.list({ action: 'netboot.machine.token.rotate', targetId: m.id, limit: 5 });
    expect(audit.items).toHaveLength(1);
    expect(JSON.stringify(audit.items)).not.toContain(newTok);
    expect(JSON.stringify(audit.items)).not.toContain(oldTok);
  });
});
