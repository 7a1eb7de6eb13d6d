import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalProcessRunner } from '../../../server/src/testing/index.js';
import { dnsmasqConfig, redactTokens } from './dnsmasq.config.js';
import {
  entryScriptUrl, iscsiRootPath, locateIpxeBootFiles, machineScript, machineScriptUrl, menuScript, newBootToken, parseBootBaseUrl, scriptValue, tokenMatches,
} from './ipxe.js';
import { type BootToken, type Iqn, type Mac, initiatorIqn, parseIqnPrefix, parseIpv4Cidr, parseMac, parseMachineName, targetIqn } from './netboot.schema.js';
import { SpyRunner } from './test-fixtures/runners.js';

const prefix = parseIqnPrefix('iqn.2026-01.io.slipway:netboot');
const name = parseMachineName('lab-pc-01');
const mac = parseMac('52:54:00:12:34:56');
const base = parseBootBaseUrl('http://10.20.0.1:8080');
const token = 'A'.repeat(20) + 'b_-'.repeat(7) + 'z'.repeat(2) as BootToken;

describe('iPXE scripts', () => {
  it('a machine script sets its initiator IQN and sanboots its own target, with a fallback', () => {
    const s = machineScript({ name, mac, initiatorIqn: initiatorIqn(prefix, name), targetIqn: targetIqn(prefix, name), server: '10.20.0.1', fallback: { kind: 'local' } });
    expect(s).toBe([
      '#!ipxe',
      '# Slipway netboot: lab-pc-01 (52-54-00-12-34-56)',
      'set initiator-iqn iqn.2026-01.io.slipway:netboot:initiator.lab-pc-01',
      'sanboot iscsi:10.20.0.1::3260:1:iqn.2026-01.io.slipway:netboot:lab-pc-01 || goto fallback',
      'exit',
      ':fallback',
      'echo The network disk could not be booted',
      'echo Booting the local disk',
      'sanboot --no-describe --drive 0x80 || exit',
      '',
    ].join('\n'));
    const menu = machineScript({ name, mac, initiatorIqn: initiatorIqn(prefix, name), targetIqn: targetIqn(prefix, name), server: 'boot.lan', fallback: { kind: 'menu', menuUrl: `${base}/api/v1/netboot/boot/menu.ipxe` } });
    expect(menu).toMatch(/^chain --autofree http:\/\/10\.20\.0\.1:8080\/api\/v1\/netboot\/boot\/menu\.ipxe \|\| exit$/m);
  });

  it('with CHAP, the script sets the user and secret before sanboot', () => {
    const s = machineScript({ name, mac, initiatorIqn: initiatorIqn(prefix, name), targetIqn: targetIqn(prefix, name), server: '10.20.0.1', fallback: { kind: 'local' }, chap: { user: 'nb-0123456789ab', secret: 'Q'.repeat(32) } });
    const lines = s.split('\n');
    expect(lines.slice(2, 5)).toEqual(['set initiator-iqn iqn.2026-01.io.slipway:netboot:initiator.lab-pc-01', 'set username nb-0123456789ab', `set password ${'Q'.repeat(32)}`]);
    expect(lines[5]).toMatch(/^sanboot iscsi:/);
  });

  it.each([
    ['an IQN with a space and a second command', { targetIqn: 'iqn.2026-01.io.slipway:x || shell' }],
    ['an IQN carrying ${} expansion', { targetIqn: 'iqn.2026-01.io.slipway:${root-path}' }],
    ['an initiator IQN with a newline', { initiatorIqn: 'iqn.2026-01.io.slipway:a\nshell' }],
    ['a server with a space', { server: '10.0.0.1 shell' }],
    ['a server with a colon (another root-path field)', { server: '10.0.0.1:99' }],
    ['a server starting with -', { server: '-x' }],
    ['a name with #', { name: 'pc#1' }],
    ['a multicast MAC', { mac: '01:00:5e:00:00:01' }],
    ['a menu URL with a space', { fallback: { kind: 'menu', menuUrl: 'http://x/ y' } }],
    ['a menu URL with &&', { fallback: { kind: 'menu', menuUrl: 'http://x/a&&shell' } }],
    ['a menu URL with ${}', { fallback: { kind: 'menu', menuUrl: 'http://x/${x}' } }],
    ['a CHAP secret with a space and a command', { chap: { user: 'nb-a', secret: 'aaaaaaaaaaaaaaaa shell' } }],
    ['a CHAP secret with ${} expansion', { chap: { user: 'nb-a', secret: '${net0/mac}aaaaaaaaaaaaaaaa' } }],
    ['a CHAP secret with a newline', { chap: { user: 'nb-a', secret: 'aaaaaaaaaaaaaaaa\nshell' } }],
    ['a short CHAP secret', { chap: { user: 'nb-a', secret: 'abc' } }],
    ['a CHAP user with ||', { chap: { user: 'nb||shell', secret: 'a'.repeat(24) } }],
  ])('refuses %s', (_w, over) => {
    const ok = { name, mac, initiatorIqn: initiatorIqn(prefix, name), targetIqn: targetIqn(prefix, name), server: '10.20.0.1', fallback: { kind: 'local' } as const };
    expect(() => machineScript({ ...ok, ...(over as object) } as Parameters<typeof machineScript>[0])).toThrow();
  });

  it('the menu script for unknown machines names no machine, target or token', () => {
    const s = menuScript({ retryUrl: entryScriptUrl(base), registered: true });
    expect(s).toMatch(/^#!ipxe\n/);
    expect(s).toContain('chain --autofree http://10.20.0.1:8080/api/v1/netboot/boot/${net0/mac:hexhyp}.ipxe || goto local');
    expect(s).not.toMatch(/iqn\.|token|sanboot iscsi/);
    expect(() => menuScript({ retryUrl: 'http://x/ shell', registered: false })).toThrow();
  });

  it('the chained URL carries the MAC and the token', () => {
    expect(machineScriptUrl(base, mac, token)).toBe(`http://10.20.0.1:8080/api/v1/netboot/boot/52-54-00-12-34-56.ipxe?token=${token}`);
  });

  it('tokens are unguessable and compared in constant time', () => {
    const a = newBootToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(newBootToken()).not.toBe(a);
    expect(tokenMatches(a, a)).toBe(true);
    expect(tokenMatches(a, `${a.slice(0, 42)}x`)).toBe(a.endsWith('x'));
    expect(tokenMatches(a, a.slice(0, 42))).toBe(false);
    expect(tokenMatches(a, undefined)).toBe(false);
  });

  it.each(['ftp://x', 'http://x/path', 'http://user@x', 'http://x:0', 'http://x:99999', 'http://X', 'http://x?y', 'http://x y', 'javascript:alert(1)', 'http://[::1]'])('refuses boot URL %j', (v) => {
    expect(() => parseBootBaseUrl(v)).toThrow();
  });
  it('values that could change a script line are refused', () => {
    for (const v of ['a b', 'a\tb', 'a\nb', '$x', 'a#b', 'a|b', 'a&b', '"a"', "'a'", 'a;b', '-x', '', 'a'.repeat(600)]) expect(() => scriptValue(v)).toThrow();
    expect(() => iscsiRootPath('10.0.0.1', 'iqn.2026-01.x:y' as Iqn, { lun: 256 })).toThrow();
  });

  it('finds Debian ipxe boot files', async () => {
    const files = await locateIpxeBootFiles(new LocalProcessRunner());
    expect(files).toEqual({ bios: '/usr/lib/ipxe/undionly.kpxe', efi: '/usr/lib/ipxe/ipxe.efi', dir: '/usr/lib/ipxe' });
  });
});

describe('dnsmasq proxyDHCP config', () => {
  const dir = mkdtempSync('/tmp/slw-dnsmasq-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const bootFiles = { bios: '/usr/lib/ipxe/undionly.kpxe', efi: '/usr/lib/ipxe/ipxe.efi', dir: '/usr/lib/ipxe' };
  const opts = {
    interface: 'eth0', subnet: parseIpv4Cidr('10.20.0.0/24'), bootBaseUrl: base, bootFiles, logDhcp: true,
    machines: [{ mac, token }, { mac: parseMac('52:54:00:aa:bb:cc'), token: newBootToken() }],
  };
  const run = new LocalProcessRunner();
  async function dnsmasqTest(text: string) {
    const file = `${dir}/dnsmasq-${Math.random().toString(36).slice(2)}.conf`;
    writeFileSync(file, text, { mode: 0o600 });
    return run.exec('dnsmasq', ['--test', '-C', file], { timeoutMs: 10_000, okExitCodes: [0, 1] });
  }

  it('is accepted by the real dnsmasq --test', async () => {
    const text = dnsmasqConfig(opts);
    expect(text).toContain('port=0\n');
    expect(text).toContain('dhcp-range=10.20.0.0,proxy,255.255.255.0\n');
    expect(text).toContain('dhcp-boot=tag:ipxe,tag:!slwknown,http://10.20.0.1:8080/api/v1/netboot/boot/${net0/mac:hexhyp}.ipxe\n');
    expect(text).toContain(`dhcp-mac=set:slw525400123456,52:54:00:12:34:56\ndhcp-boot=tag:ipxe,tag:slw525400123456,http://10.20.0.1:8080/api/v1/netboot/boot/52-54-00-12-34-56.ipxe?token=${token}\n`);
    const r = await dnsmasqTest(text);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/syntax check OK/);
  });

  it('the check itself catches a broken config (the test can fail)', async () => {
    const r = await dnsmasqTest(`${dnsmasqConfig(opts)}dhcp-range=10.20.0.0,proxy,not-a-mask\n`);
    expect(r.exitCode).not.toBe(0);
  });

  it('redacts tokens for display', () => {
    const shown = redactTokens(dnsmasqConfig(opts));
    expect(shown).not.toContain(token);
    expect(shown).toContain('?token=[redacted]');
  });

  it.each([
    ['an interface with a newline', { interface: 'eth0\ndhcp-script=/tmp/x' }],
    ['an interface starting with -', { interface: '-eth0' }],
    ['an interface with a comma', { interface: 'eth0,lo' }],
    ['an oversize interface name', { interface: 'a'.repeat(16) }],
    ['a subnet with host bits', { subnet: '10.20.0.1/24' }],
    ['a subnet with an extra option', { subnet: '10.20.0.0/24\nport=53' }],
    ['a duplicate MAC', { machines: [{ mac, token }, { mac, token }] }],
    ['a broadcast MAC', { machines: [{ mac: 'ff:ff:ff:ff:ff:ff' as Mac, token }] }],
    ['a token with a comma', { machines: [{ mac, token: `${'a'.repeat(41)},x` as BootToken }] }],
    ['a token with a newline', { machines: [{ mac, token: `${'a'.repeat(41)}\nx` as BootToken }] }],
    ['a TFTP root with ..', { bootFiles: { ...bootFiles, dir: '/usr/lib/../../etc' } }],
    ['a boot file outside the TFTP root', { bootFiles: { ...bootFiles, bios: '/etc/shadow' } }],
  ])('refuses %s', (_w, over) => {
    expect(() => dnsmasqConfig({ ...opts, ...(over as object) } as Parameters<typeof dnsmasqConfig>[0])).toThrow();
  });

  it('looks up the ipxe package with argv only', async () => {
    const spy = new SpyRunner();
    await locateIpxeBootFiles(spy);
    expect(spy.calls).toEqual([{ command: 'dpkg', args: ['-L', 'ipxe'] }]);
  });
});

