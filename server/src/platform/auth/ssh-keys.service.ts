import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { newId } from '../../db/ids.js';
import type { CoreTables, SshKeysTable } from '../../db/schema.js';
import type { AuditLog } from '../audit/audit.service.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import { corePermissions } from '../rbac/core-permissions.js';
import { can, canAssignRole, type Actor } from '../rbac/permissions.js';
import type { Role } from '../rbac/roles.js';
import { assertCredentialManagement } from './api-tokens.service.js';

export const SSH_KEY_TYPES = [
  'ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com',
] as const;
const MIN_RSA_BITS = 2048;

export interface ParsedPublicKey { type: string; blob: Buffer; comment: string; fingerprint: string; bits: number | null }

/** Reads the SSH wire format: uint32 length, then that many bytes. */
function readString(buf: Buffer, offset: number): { value: Buffer; next: number } {
  if (offset + 4 > buf.length) throw new Error('truncated');
  const len = buf.readUInt32BE(offset);
  if (offset + 4 + len > buf.length) throw new Error('truncated');
  return { value: buf.subarray(offset + 4, offset + 4 + len), next: offset + 4 + len };
}

/** Validates an OpenSSH public key line and computes its SHA256 fingerprint (as `ssh-keygen -l` prints it). */
export function parsePublicKey(text: string): ParsedPublicKey {
  const bad = (why: string) => new ValidationError(`Not a valid SSH public key: ${why}`, { issues: [{ path: 'body.publicKey', message: why }] });
  const line = text.trim();
  if (line.includes('\n')) throw bad('paste exactly one key (one line)');
  const m = /^(\S+) ([A-Za-z0-9+/]+={0,2})(?:\s+(.*))?$/.exec(line);
  if (!m) throw bad('expected "<type> <base64> [comment]", as in ~/.ssh/id_ed25519.pub');
  const [, type, b64, comment = ''] = m;
  if (!(SSH_KEY_TYPES as readonly string[]).includes(type!)) throw bad(`unsupported key type ${type!.slice(0, 40)}; use one of ${SSH_KEY_TYPES.join(', ')}`);
  const blob = Buffer.from(b64!, 'base64');
  if (blob.toString('base64') !== b64) throw bad('the base64 part is damaged');
  let bits: number | null = null;
  try {
    const inner = readString(blob, 0);
    if (inner.value.toString('latin1') !== type) throw bad('the key data does not match its type');
    if (type === 'ssh-rsa') {
      const e = readString(blob, inner.next);
      const n = readString(blob, e.next);
      let bytes = n.value;
      while (bytes.length && bytes[0] === 0) bytes = bytes.subarray(1);
      bits = bytes.length * 8 - Math.clz32(bytes[0] ?? 0) + 24;
      if (bits < MIN_RSA_BITS) throw bad(`RSA keys need at least ${MIN_RSA_BITS} bits (this one has ${bits})`);
    } else if (type === 'ssh-ed25519') {
      const k = readString(blob, inner.next);
      if (k.value.length !== 32) throw bad('an ed25519 key has 32 bytes');
      bits = 256;
    } else {
      readString(blob, inner.next);
    }
  } catch (e) {
    if (e instanceof ValidationError) throw e;
    throw bad('the key data is truncated');
  }
  const fingerprint = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
  return { type: type!, blob, comment: comment.trim().slice(0, 200), fingerprint, bits };
}

export interface SshKeyView { id: string; name: string; type: string; fingerprint: string; publicKey: string; createdAt: number }

function present(r: SshKeysTable): SshKeyView {
  return { id: r.id, name: r.name, type: r.public_key.split(' ')[0]!, fingerprint: r.fingerprint, publicKey: r.public_key, createdAt: Number(r.created_at) };
}

/** Users' SSH public keys (for modules that give shell or git access). */
export class SshKeyService {
  constructor(private readonly db: Kysely<CoreTables>, private readonly audit: AuditLog) {}

  async list(actor: Actor): Promise<SshKeyView[]> {
    const rows = await this.db.selectFrom('ssh_keys').selectAll().where('user_id', '=', actor.userId ?? '').orderBy('created_at').execute();
    return rows.map(present);
  }

  /** An SSH key acts with its owner's full role: a low-role API token may not add or remove one. */
  private async assertTokenMayManage(actor: Actor): Promise<void> {
    if (actor.kind !== 'token') return;
    const owner = await this.db.selectFrom('users').select('role').where('id', '=', actor.userId ?? '').executeTakeFirst();
    assertCredentialManagement(actor, (owner?.role ?? 'admin') as Role);
  }

  async add(actor: Actor, input: { name: string; publicKey: string }): Promise<SshKeyView> {
    if (!actor.userId) throw new ForbiddenError('Only users have SSH keys');
    await this.assertTokenMayManage(actor);
    const key = parsePublicKey(input.publicKey);
    const clash = await this.db.selectFrom('ssh_keys').select(['user_id']).where('fingerprint', '=', key.fingerprint).executeTakeFirst();
    if (clash) throw new ConflictError(clash.user_id === actor.userId ? 'You have already added this key' : 'This key belongs to another user');
    const normalised = `${key.type} ${key.blob.toString('base64')}${key.comment ? ` ${key.comment}` : ''}`;
    const row: SshKeysTable = { id: newId(), user_id: actor.userId, name: input.name, public_key: normalised, fingerprint: key.fingerprint, created_at: Date.now() };
    await this.db.insertInto('ssh_keys').values(row).execute();
    await this.audit.record({ actor, action: 'ssh_key.add', target: { type: 'ssh_key', id: row.id }, details: { name: row.name, fingerprint: key.fingerprint } });
    return present(row);
  }

  async remove(actor: Actor, id: string): Promise<void> {
    const row = await this.db.selectFrom('ssh_keys as k').innerJoin('users as u', 'u.id', 'k.user_id')
      .select(['k.id', 'k.user_id', 'k.name', 'k.fingerprint', 'u.role as ownerRole']).where('k.id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError('SSH key', id);
    if (row.user_id !== actor.userId) {
      if (!can(actor, corePermissions['users.manage'])) throw new NotFoundError('SSH key', id);
      // The role ceiling applies to the key's owner: billing cannot remove an admin's keys.
      if (!canAssignRole(actor.role, row.ownerRole as Role)) {
        throw new ForbiddenError(`Your role (${actor.role}) cannot manage the SSH keys of a user with the role ${row.ownerRole}`, 'role_ceiling');
      }
    }
    await this.assertTokenMayManage(actor);
    await this.db.deleteFrom('ssh_keys').where('id', '=', id).execute();
    await this.audit.record({ actor, action: 'ssh_key.remove', target: { type: 'ssh_key', id }, details: { name: row.name, fingerprint: row.fingerprint, ...(row.user_id !== actor.userId ? { owner: row.user_id } : {}) } });
  }
}
