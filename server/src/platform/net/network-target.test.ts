import { describe, expect, it } from 'vitest';
import type { Actor } from '../rbac/permissions.js';
import { checkNetworkTarget, nonPublicReason, parseAllowEntry, type Resolver } from './network-target.js';

const user: Actor = { kind: 'user', userId: 'u1', username: 'u1', role: 'user' };
const operator: Actor = { ...user, role: 'operator' };
const admin: Actor = { ...user, role: 'admin' };

// An /etc/hosts-style table in front of the real resolver (names a tenant controls in DNS).
const table: Record<string, string[]> = {
  'localhost.localdomain': ['127.0.0.1', '::1'],
  'rebind.attacker.example': ['93.184.215.14', '10.0.0.7'],
  'metadata.attacker.example': ['169.254.169.254'],
  'v6meta.attacker.example': ['fd00:ec2::254'],
  'public.example': ['93.184.215.14'],
  'mapped.attacker.example': ['::ffff:192.168.1.1'],
};
const resolve: Resolver = async (h) => {
  if (table[h]) return table[h]!;
  const { systemResolver } = await import('./network-target.js');
  return systemResolver(h);
};
const policy = { resolve, panelListen: '127.0.0.1:8420', selfAddresses: ['203.0.113.10'] };

const refused = async (who: Actor, host: string, port = 80, p = policy) => {
  const e = await checkNetworkTarget(who, host, port, p).catch((x: unknown) => x);
  return e instanceof Error && (e as { code?: string }).code === 'network_target_refused' ? (e as Error).message : null;
};

describe('network targets named by a non-admin', () => {
  const hostile = [
    ['127.0.0.1', 2019], ['localhost', 2019], ['0.0.0.0', 80], ['::1', 80], ['[::1]', 80], ['169.254.169.254', 80], ['10.0.0.1', 80], ['10.255.255.255', 80],
    ['172.16.0.1', 80], ['172.31.255.254', 80], ['192.168.1.1', 80], ['100.64.0.1', 80], ['2130706433', 2019], ['0x7f000001', 2019], ['0177.0.0.1', 80], ['127.1', 80],
    ['::ffff:127.0.0.1', 80], ['::ffff:7f00:1', 80], ['fd00:ec2::254', 80], ['fc00::1', 80], ['fe80::1', 80], ['ff02::1', 80], ['224.0.0.1', 80], ['255.255.255.255', 80],
    ['64:ff9b::7f00:1', 80], ['2002:7f00:1::1', 80], ['localhost.localdomain', 2019], ['rebind.attacker.example', 80], ['metadata.attacker.example', 80],
    ['v6meta.attacker.example', 80], ['mapped.attacker.example', 80], ['203.0.113.10', 22], ['198.18.0.1', 80],
  ] as const;

  it.each(hostile)('refuses %s:%s for user and operator', async (host, port) => {
    expect(await refused(user, host, port), `${host}:${port}`).not.toBeNull();
    expect(await refused(operator, host, port)).not.toBeNull();
  });

  it('allows a public backend and returns its addresses to pin', async () => {
    expect(await checkNetworkTarget(user, 'public.example', 8080, policy)).toEqual({ host: 'public.example', port: 8080, addresses: ['93.184.215.14'] });
    expect(await checkNetworkTarget(user, '93.184.215.14', 443, policy)).toMatchObject({ addresses: ['93.184.215.14'] });
  });

  it('refuses a name that does not resolve and a bad port', async () => {
    expect(await refused(user, 'nx.invalid')).toMatch(/does not resolve/);
    expect(await refused(user, 'public.example', 0)).toMatch(/port/);
  });

  it('lets the admin allow-list open chosen private backends, never metadata or the panel', async () => {
    const p = { ...policy, allow: ['10.0.0.0/24', '192.168.1.5:8080', '[fd00::5]:80'] };
    expect(await refused(user, '10.0.0.9', 80, p)).toBeNull();
    expect(await refused(user, '10.0.1.9', 80, p)).not.toBeNull();
    expect(await refused(user, '192.168.1.5', 8080, p)).toBeNull();
    expect(await refused(user, '192.168.1.5', 8081, p)).not.toBeNull();
    expect(await refused(user, 'fd00::5', 80, p)).toBeNull();
    const wide = { ...policy, allow: ['0.0.0.0/0', '127.0.0.0/8', '169.254.0.0/16'] };
    expect(await refused(user, '169.254.169.254', 80, wide)).toMatch(/metadata/);
    expect(await refused(user, '127.0.0.1', 8420, wide)).toMatch(/panel itself/);
    expect(await refused(user, '127.0.0.1', 2019, wide)).toBeNull(); // the admin said so
  });

  it('refuses the panel\'s own port on any of its addresses when it listens on all of them', async () => {
    const p = { ...policy, panelListen: '0.0.0.0:8420', allow: ['203.0.113.0/24'] };
    expect(await refused(user, '203.0.113.10', 8420, p)).toMatch(/panel itself/);
  });

  it('does not restrict an admin (who configures the machine)', async () => {
    expect(await checkNetworkTarget(admin, '127.0.0.1', 2019, policy)).toMatchObject({ addresses: ['127.0.0.1'] });
  });

  it('classifies addresses (property: every address in a refused block is refused)', () => {
    const blocks: [string, number][] = [['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['127.0.0.0', 8], ['169.254.0.0', 16], ['100.64.0.0', 10]];
    for (const [base, bits] of blocks) {
      const start = base.split('.').reduce((n, o) => n * 256 + Number(o), 0);
      for (let i = 0; i < 200; i++) {
        const n = start + Math.floor(Math.random() * 2 ** (32 - bits));
        const ip = [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
        expect(nonPublicReason(ip), ip).not.toBeNull();
        expect(nonPublicReason(`::ffff:${ip}`), `mapped ${ip}`).not.toBeNull();
      }
    }
    expect(nonPublicReason('8.8.8.8')).toBeNull();
    expect(nonPublicReason('2606:4700::1111')).toBeNull();
    expect(parseAllowEntry('nonsense')).toBeNull();
    expect(parseAllowEntry('10.0.0.0/33')).toBeNull();
  });
});
