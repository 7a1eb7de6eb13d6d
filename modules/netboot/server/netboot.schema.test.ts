import { describe, expect, it } from 'vitest';
import {
  cidrParts, initiatorIqn, MacSchema, parseBootToken, parseIp, parseIpv4Cidr, parseIqn, parseIqnPrefix, parseMac, parseMachineName, targetIqn,
} from './netboot.schema.js';

describe('parseMac', () => {
  it('normalises every accepted notation to lower-case colon form', () => {
    for (const v of ['52:54:00:AB:cd:01', '52-54-00-ab-cd-01', '5254.00ab.cd01', '525400ABCD01']) expect(parseMac(v)).toBe('52:54:00:ab:cd:01');
  });
  it('accepts locally administered unicast addresses', () => {
    expect(parseMac('02:00:00:00:00:01')).toBe('02:00:00:00:00:01');
  });
  it.each([
    ['broadcast', 'ff:ff:ff:ff:ff:ff'],
    ['all-zero', '00:00:00:00:00:00'],
    ['multicast (IPv4 mapped)', '01:00:5e:00:00:01'],
    ['multicast (IPv6 mapped)', '33:33:00:00:00:01'],
    ['multicast, odd first octet', '03:00:00:00:00:01'],
    ['mixed separators', '52:54-00:ab:cd:01'],
    ['five octets', '52:54:00:ab:cd'],
    ['seven octets', '52:54:00:ab:cd:01:02'],
    ['non-hex', '52:54:00:ab:cd:zz'],
    ['leading dash option', '-52:54:00:ab:cd:01'],
    ['shell', '52:54:00:ab:cd:01;reboot'],
    ['command substitution', '$(id)'],
    ['newline', '52:54:00:ab:cd:01\n'],
    ['NUL', '52:54:00:ab:cd:01\0'],
    ['full-width digits', '５２:54:00:ab:cd:01'],
    ['oversize', '52:54:00:ab:cd:01'.repeat(20)],
    ['empty', ''],
  ])('refuses %s', (_what, v) => {
    expect(() => parseMac(v)).toThrow();
    expect(MacSchema.safeParse(v).success).toBe(false);
  });
  it('refuses non-strings', () => {
    expect(() => parseMac(525400)).toThrow();
  });
});

describe('machine names and IQNs', () => {
  const prefix = parseIqnPrefix('iqn.2026-01.io.slipway:netboot');
  it('derives target and initiator IQNs from the machine name', () => {
    const n = parseMachineName('lab-pc-01');
    expect(targetIqn(prefix, n)).toBe('iqn.2026-01.io.slipway:netboot:lab-pc-01');
    expect(initiatorIqn(prefix, n)).toBe('iqn.2026-01.io.slipway:netboot:initiator.lab-pc-01');
  });
  it.each(['', '-pc', 'pc-', 'PC1', 'pc.1', 'pc_1', 'pc 1', 'pc;1', 'pc$(id)', '../etc', 'pc\n1', 'pc\u00001', 'рс1', 'ｐｃ1', 'a'.repeat(64), 'pc:1'])(
    'refuses machine name %j',
    (v) => expect(() => parseMachineName(v)).toThrow(),
  );
  it('accepts RFC 3720 iqn names', () => {
    for (const v of ['iqn.2026-01.io.slipway', 'iqn.1992-01.com.example:storage.disk2.sys1.xyz', 'iqn.2005-03.org.open-iscsi:d0b8c5f3']) expect(parseIqn(v)).toBe(v);
  });
  it.each([
    'iqn.2026-13.io.slipway:x', 'iqn.2026-00.io.slipway:x', 'iqn.26-01.io.slipway:x', 'IQN.2026-01.io.slipway:x', 'iqn.2026-01.IO.slipway:x',
    'iqn.2026-01.-io.slipway:x', 'iqn.2026-01.io.slipway:-x', 'iqn.2026-01.io.slipway:x;y', 'iqn.2026-01.io.slipway:x y', 'iqn.2026-01.io.slipway:x\n',
    'iqn.2026-01.io.slipway:$(id)', 'eui.02004567A425678D', '-iqn.2026-01.io.slipway', `iqn.2026-01.io.slipway:${'a'.repeat(220)}`, 'iqn.2026-01.io..slipway',
  ])('refuses IQN %j', (v) => expect(() => parseIqn(v)).toThrow());
  it('keeps room for the machine name in the prefix', () => {
    expect(() => parseIqnPrefix(`iqn.2026-01.io.slipway:${'a'.repeat(140)}`)).toThrow(/prefix/);
  });
});

describe('addresses and tokens', () => {
  it('accepts unicast host addresses', () => {
    expect(parseIp('10.20.0.5')).toBe('10.20.0.5');
    expect(parseIp('FE80::1')).toBe('fe80::1');
  });
  it.each(['0.0.0.0', '255.255.255.255', '224.0.0.1', '010.1.1.1', '10.1.1', '10.1.1.1/24', 'fe80::1%eth0', 'ff02::1', 'ALL', '-10.0.0.1', 'localhost'])(
    'refuses address %j',
    (v) => expect(() => parseIp(v)).toThrow(),
  );
  it('parses networks with zero host bits', () => {
    expect(cidrParts(parseIpv4Cidr('10.20.0.0/24'))).toEqual({ network: '10.20.0.0', netmask: '255.255.255.0', bits: 24 });
    expect(cidrParts(parseIpv4Cidr('172.16.0.0/12')).netmask).toBe('255.240.0.0');
  });
  it.each(['10.20.0.1/24', '10.20.0.0/33', '10.20.0.0/4', '10.20.0.0', '10.20.0.0/24,x', '0.0.0.0/0'])('refuses network %j', (v) => expect(() => parseIpv4Cidr(v)).toThrow());
  it('tokens are 43 base64url characters', () => {
    expect(parseBootToken('A'.repeat(43))).toBe('A'.repeat(43));
    for (const v of ['A'.repeat(42), 'A'.repeat(44), `${'A'.repeat(42)}/`, `${'A'.repeat(42)}\n`]) expect(() => parseBootToken(v)).toThrow();
  });
});
