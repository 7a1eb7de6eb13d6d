import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isMap, parseAllDocuments, stringify } from 'yaml';
import { type ProcessRunner, ValidationError } from '../../../server/src/sdk.js';

/**
 * NoCloud seed for cloud-init (https://cloudinit.readthedocs.io/en/latest/reference/datasources/nocloud.html):
 * an ISO 9660 volume labelled `cidata` holding `user-data`, `meta-data` and `network-config`
 * (network config v2). The tenant's user-data is full `#cloud-config` YAML, parsed and validated
 * before use and re-serialised by us (never passed through as text), with the VPS's hostname and
 * the user's saved SSH keys merged in. Written with `genisoimage -volid cidata -joliet -rock`
 * (the command `cloud-localds` runs) through the host's process runner.
 */

export const USER_DATA_MAX_BYTES = 64 * 1024;
const MAX_KEYS = 32;

/** One RFC 1123 label, lowercase (the guest's hostname). */
export const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** An FQDN of RFC 1123 labels, at most 253 characters. */
export function isFqdn(s: string): boolean {
  return typeof s === 'string' && s.length <= 253 && s.split('.').every((l) => HOSTNAME.test(l));
}

export function assertHostname(h: unknown): string {
  if (typeof h !== 'string' || !HOSTNAME.test(h) || /^\d+$/.test(h)) {
    throw new ValidationError('Hostname must be 1-63 lowercase letters, digits or hyphens, not starting or ending with a hyphen, and not all digits', { field: 'hostname' });
  }
  return h;
}

const KEY_TYPES = ['ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com'];

/** `type base64 [comment]` on one line, a known key type, base64 that names the same type. */
export function assertSshPublicKey(k: unknown): string {
  if (typeof k !== 'string' || k.length > 16 * 1024 || /[\u0000-\u001f\u007f]/.test(k)) throw new ValidationError('SSH key must be one line of text', { field: 'sshKeys' });
  const m = /^(\S+) ([A-Za-z0-9+/]+={0,3})(?: ([\x20-\x7e]{0,200}))?$/.exec(k.trim());
  if (!m || !KEY_TYPES.includes(m[1]!)) throw new ValidationError('SSH key must look like "ssh-ed25519 AAAA… comment"', { field: 'sshKeys' });
  const blob = Buffer.from(m[2]!, 'base64');
  const len = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  if (len <= 0 || blob.subarray(4, 4 + len).toString('latin1') !== m[1]) throw new ValidationError('SSH key data does not match its type', { field: 'sshKeys' });
  return k.trim();
}

export interface UserDataResult {
  /** The parsed document (a plain object) */
  config: Record<string, unknown>;
}

/**
 * Validates tenant user-data: `#cloud-config` first line, one YAML document whose root is a
 * mapping, at most USER_DATA_MAX_BYTES, no YAML errors or warnings (unknown tags), bounded alias
 * expansion. Scripts (`#!`), `#include`, MIME multipart and gzip are refused: they cannot be
 * validated or merged.
 */
export function parseUserData(text: string | null | undefined): Record<string, unknown> {
  if (text === null || text === undefined || text === '') return {};
  if (typeof text !== 'string') throw new ValidationError('User-data must be text', { field: 'userData' });
  if (Buffer.byteLength(text, 'utf8') > USER_DATA_MAX_BYTES) throw new ValidationError(`User-data is larger than ${USER_DATA_MAX_BYTES / 1024} KiB`, { field: 'userData' });
  if (text.includes('\u0000')) throw new ValidationError('User-data must not contain NUL bytes', { field: 'userData' });
  const first = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0]!.trimEnd();
  if (first !== '#cloud-config') throw new ValidationError('User-data must start with the line "#cloud-config" (scripts, #include and MIME archives are not accepted)', { field: 'userData' });
  const docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true, strict: true });
  if (!Array.isArray(docs)) throw new ValidationError('User-data is not valid YAML', { field: 'userData' });
  if (docs.length !== 1) throw new ValidationError('User-data must be exactly one YAML document', { field: 'userData' });
  const doc = docs[0]!;
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length) {
    throw new ValidationError(`User-data is not valid YAML: ${problems[0]!.message.split('\n')[0]}`, { field: 'userData', line: problems[0]!.linePos?.[0]?.line ?? null });
  }
  if (!isMap(doc.contents)) throw new ValidationError('User-data must be a YAML mapping (key: value pairs) under #cloud-config', { field: 'userData' });
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ValidationError(`User-data is not valid YAML: ${(e as Error).message.split('\n')[0]}`, { field: 'userData' });
  }
  if (isCyclic(value)) throw new ValidationError('User-data must not contain recursive YAML aliases', { field: 'userData' });
  return value as Record<string, unknown>;
}

/** An alias that refers to its own ancestor (`a: &a [*a]`) makes a cycle nothing can serialise. */
function isCyclic(v: unknown, stack = new Set<unknown>()): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (stack.has(v)) return true;
  stack.add(v);
  const children = v instanceof Map ? [...v.values()] : v instanceof Set ? [...v] : Object.values(v as Record<string, unknown>);
  const found = children.some((c) => isCyclic(c, stack));
  stack.delete(v);
  return found;
}

export interface SeedInput {
  instanceId: string;
  hostname: string;
  /** The user's saved keys (already theirs; validated again here). */
  sshKeys: string[];
  userData?: string | null;
  /** Network config v2 for the first NIC, matched by MAC. */
  network: { mac: string; mode: 'dhcp' } | { mac: string; mode: 'static'; address: string; prefix: number; gateway?: string; dns?: string[] };
}

export interface SeedFiles {
  'user-data': string;
  'meta-data': string;
  'network-config': string;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const INSTANCE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Builds the three seed files: the tenant's config with our hostname and keys merged in. */
export function buildSeedFiles(input: SeedInput): SeedFiles {
  const hostname = assertHostname(input.hostname);
  if (!INSTANCE.test(input.instanceId)) throw new ValidationError('Invalid instance id');
  if (input.sshKeys.length > MAX_KEYS) throw new ValidationError(`At most ${MAX_KEYS} SSH keys`, { field: 'sshKeys' });
  const keys = input.sshKeys.map(assertSshPublicKey);
  const cfg = parseUserData(input.userData);

  for (const k of ['hostname', 'fqdn'] as const) {
    const v = cfg[k];
    if (v !== undefined && (typeof v !== 'string' || (k === 'hostname' ? v !== hostname : !isFqdn(v) || v.split('.')[0] !== hostname))) {
      throw new ValidationError(`User-data sets ${k} to something other than the VPS hostname '${hostname}'; remove it or rename the VPS`, { field: 'userData' });
    }
  }
  const theirKeys = cfg['ssh_authorized_keys'];
  if (theirKeys !== undefined && (!Array.isArray(theirKeys) || theirKeys.some((k) => typeof k !== 'string'))) {
    throw new ValidationError('ssh_authorized_keys in user-data must be a list of strings', { field: 'userData' });
  }
  const mergedKeys = [...new Set([...keys, ...((theirKeys as string[] | undefined) ?? []).map(assertSshPublicKey)])];
  const merged: Record<string, unknown> = { ...cfg, hostname, preserve_hostname: false };
  if (mergedKeys.length) merged['ssh_authorized_keys'] = mergedKeys;

  const n = input.network;
  if (!MAC.test(n.mac)) throw new ValidationError('Invalid MAC address');
  const eth: Record<string, unknown> = { match: { macaddress: n.mac }, 'set-name': 'eth0' };
  if (n.mode === 'dhcp') eth['dhcp4'] = true;
  else {
    if (!IPV4.test(n.address) || !Number.isInteger(n.prefix) || n.prefix < 8 || n.prefix > 32) throw new ValidationError('Invalid static address');
    if (n.gateway !== undefined && !IPV4.test(n.gateway)) throw new ValidationError('Invalid gateway');
    for (const d of n.dns ?? []) if (!IPV4.test(d)) throw new ValidationError('Invalid DNS server');
    eth['dhcp4'] = false;
    eth['addresses'] = [`${n.address}/${n.prefix}`];
    if (n.gateway) eth['routes'] = [{ to: 'default', via: n.gateway }];
    if (n.dns?.length) eth['nameservers'] = { addresses: n.dns };
  }

  const y = (v: unknown) => stringify(v, { lineWidth: 0, aliasDuplicateObjects: false });
  return {
    'user-data': `#cloud-config\n${y(merged)}`,
    'meta-data': y({ 'instance-id': input.instanceId, 'local-hostname': hostname }),
    'network-config': y({ version: 2, ethernets: { eth0: eth } }),
  };
}

/**
 * Writes the seed ISO to `isoPath` with genisoimage (the same volume cloud-localds makes). Files
 * are staged in a private temporary directory on the panel's machine: the runner must be local.
 */
export async function writeSeedIso(run: ProcessRunner, isoPath: string, files: SeedFiles): Promise<void> {
  if (run.host !== 'local') throw new Error('writeSeedIso stages files locally; build the ISO on the panel host and copy it');
  if (!/^\/[A-Za-z0-9._/-]+\.iso$/.test(isoPath) || isoPath.split('/').some((s) => s === '..' || s.startsWith('-'))) throw new ValidationError('Invalid seed ISO path');
  const dir = mkdtempSync(path.join(tmpdir(), 'slipway-seed-'));
  try {
    for (const [name, body] of Object.entries(files)) writeFileSync(path.join(dir, name), body, { mode: 0o600 });
    await run.exec('genisoimage', ['-quiet', '-output', isoPath, '-volid', 'cidata', '-joliet', '-rock', '-input-charset', 'utf-8', '--', ...Object.keys(files)], { cwd: dir, timeoutMs: 60_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
