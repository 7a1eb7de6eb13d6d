import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { LocalProcessRunner } from '../../../server/src/testing/index.js';
import { USER_DATA_MAX_BYTES, assertHostname, assertSshPublicKey, buildSeedFiles, parseUserData, writeSeedIso } from './cloud-init.js';

export const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIo3nGHoLxjSFeJ2CU1cQTFmSuvvmBJXCsaXrP38OeTi alice@laptop';
const KEY2 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE0Za0mFc3Bo6aCmnFHfP3cMdHbXdEhuaHrk9B8uwvQr bob';
const dir = mkdtempSync(path.join(tmpdir(), 'slipway-ci-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = { instanceId: 'vps-1', hostname: 'web1', sshKeys: [KEY], network: { mac: '52:54:00:aa:bb:cc', mode: 'dhcp' as const } };

describe('user-data validation', () => {
  it('accepts a #cloud-config mapping', () => {
    expect(parseUserData('#cloud-config\npackages: [nginx]\nruncmd:\n  - echo hi\n')).toEqual({ packages: ['nginx'], runcmd: ['echo hi'] });
    expect(parseUserData('')).toEqual({});
  });
  it.each([
    ['a shell script', '#!/bin/sh\nrm -rf /\n', /#cloud-config/],
    ['#include', '#include\nhttp://evil.example/x\n', /#cloud-config/],
    ['MIME multipart', 'Content-Type: multipart/mixed; boundary="x"\n', /#cloud-config/],
    ['header not first', '\n#cloud-config\na: 1\n', /#cloud-config/],
    ['a list root', '#cloud-config\n- a\n- b\n', /mapping/],
    ['a scalar root', '#cloud-config\nhello\n', /mapping/],
    ['two documents', '#cloud-config\na: 1\n---\nb: 2\n', /one YAML document/],
    ['invalid YAML', '#cloud-config\na: [1, 2\n', /not valid YAML/],
    ['duplicate keys', '#cloud-config\na: 1\na: 2\n', /not valid YAML/],
    ['an unknown tag', '#cloud-config\na: !!js/function "function(){}"\n', /not valid YAML/],
    ['NUL', '#cloud-config\na: "x\u0000"\n', /NUL/],
    ['oversize', `#cloud-config\na: "${'x'.repeat(USER_DATA_MAX_BYTES)}"\n`, /larger than/],
    ['a billion laughs', `#cloud-config\na: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n`, /not valid YAML|alias/i],
  ])('refuses %s', (_what, text, msg) => {
    expect(() => parseUserData(text)).toThrow(msg);
  });
});

describe('hostnames and keys', () => {
  it.each(['web1', 'a', 'my-vps-01', 'x'.repeat(63)])('accepts %j', (h) => expect(assertHostname(h)).toBe(h));
  it.each(['', '-web', 'web-', 'Web1', 'web_1', 'web.example.com', 'x'.repeat(64), '123', 'wеb', 'web;id', 'web\n', '$(id)', 'a b'])('refuses %j', (h) => {
    expect(() => assertHostname(h)).toThrow(/Hostname/);
  });
  it('accepts real keys and refuses fakes', () => {
    expect(assertSshPublicKey(KEY)).toBe(KEY);
    expect(() => assertSshPublicKey('ssh-ed25519 AAAA')).toThrow();
    expect(() => assertSshPublicKey(KEY.replace('ssh-ed25519', 'ssh-rsa'))).toThrow(/does not match/);
    expect(() => assertSshPublicKey(`${KEY}\nssh-ed25519 AAAA evil`)).toThrow(/one line/);
    expect(() => assertSshPublicKey(`command="rm -rf /" ${KEY}`)).toThrow();
  });
});

describe('seed files', () => {
  it('merges keys and hostname into the tenant config, deduplicated, and writes meta-data and network-config', () => {
    const f = buildSeedFiles({ ...base, sshKeys: [KEY, KEY2], userData: `#cloud-config\nssh_authorized_keys:\n  - ${KEY}\nfinal_message: "it's up"\npackages: [htop]\n` });
    expect(f['user-data'].startsWith('#cloud-config\n')).toBe(true);
    const ud = parse(f['user-data']) as Record<string, unknown>;
    expect(ud).toMatchObject({ hostname: 'web1', preserve_hostname: false, packages: ['htop'], final_message: "it's up" });
    expect(ud['ssh_authorized_keys']).toEqual([KEY, KEY2]);
    expect(parse(f['meta-data'])).toEqual({ 'instance-id': 'vps-1', 'local-hostname': 'web1' });
    expect(parse(f['network-config'])).toEqual({ version: 2, ethernets: { eth0: { match: { macaddress: '52:54:00:aa:bb:cc' }, 'set-name': 'eth0', dhcp4: true } } });
  });
  it('static network config', () => {
    const f = buildSeedFiles({ ...base, network: { mac: '52:54:00:aa:bb:cc', mode: 'static', address: '10.0.0.5', prefix: 24, gateway: '10.0.0.1', dns: ['10.0.0.1'] } });
    expect((parse(f['network-config']) as { ethernets: { eth0: unknown } }).ethernets.eth0).toMatchObject({ addresses: ['10.0.0.5/24'], routes: [{ to: 'default', via: '10.0.0.1' }] });
  });
  it.each([
    ['a different hostname', '#cloud-config\nhostname: other\n'],
    ['an fqdn for another host', '#cloud-config\nfqdn: other.example.com\n'],
    ['keys that are not a list', '#cloud-config\nssh_authorized_keys: "ssh-rsa AAAA"\n'],
    ['a hostile key', '#cloud-config\nssh_authorized_keys:\n  - "ssh-ed25519 AAAA\\nroot::0:0::/:/bin/sh"\n'],
  ])('refuses user-data with %s', (_w, userData) => {
    expect(() => buildSeedFiles({ ...base, userData })).toThrow();
  });
  it('a hostile value in user-data stays a value: it cannot add keys to meta-data or a second document', () => {
    const f = buildSeedFiles({ ...base, userData: '#cloud-config\nfinal_message: "x\\n---\\nlocal-hostname: evil\\ninstance-id: evil"\n' });
    expect(parse(f['meta-data'])).toEqual({ 'instance-id': 'vps-1', 'local-hostname': 'web1' });
    expect(parseUserData(f['user-data'])['final_message']).toBe('x\n---\nlocal-hostname: evil\ninstance-id: evil');
  });

  it('writes an ISO labelled cidata with the three files (genisoimage)', async () => {
    const iso = path.join(dir, 'seed.iso');
    await writeSeedIso(new LocalProcessRunner(), iso, buildSeedFiles(base));
    const info = execFileSync('isoinfo', ['-d', '-i', iso], { encoding: 'utf8' });
    expect(info).toMatch(/Volume id: cidata/);
    const files = execFileSync('isoinfo', ['-f', '-R', '-i', iso], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
    expect(files).toEqual(['/meta-data', '/network-config', '/user-data']);
    const ud = execFileSync('isoinfo', ['-R', '-x', '/user-data', '-i', iso], { encoding: 'utf8' });
    expect(ud).toContain(KEY);
  });
  it.each(['rel.iso', '/tmp/../etc/x.iso', '/tmp/-o.iso', '/tmp/x.img', '/tmp/a b.iso'])('refuses ISO path %j', async (p) => {
    await expect(writeSeedIso(new LocalProcessRunner(), p, buildSeedFiles(base))).rejects.toThrow(/Invalid seed ISO path/);
  });
});
