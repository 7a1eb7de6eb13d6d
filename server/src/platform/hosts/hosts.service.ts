import type { Kysely } from 'kysely';
import { newId } from '../../db/ids.js';
import type { CoreTables } from '../../db/schema.js';
import { connectionTest, HostKeyMismatchError, probeHostKey, type ConnectionTestResult } from '../../infra/ssh.js';
import type { AuditLog } from '../audit/audit.service.js';
import { ConflictError, DomainRuleError, NotFoundError, UnavailableError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import { LOCAL_HOST_ID, type HostRecord, type HostRegistry } from './host-registry.js';
import { corePermissions } from '../rbac/core-permissions.js';
import { requirePermission, type Actor } from '../rbac/permissions.js';
import { detectCapabilities, type Capabilities } from './capabilities.js';

export interface NewHost { name: string; address: string; port: number; username: string; hostKeyFingerprint: string }
export type HostPatch = Partial<NewHost>;

export interface HostsServiceDeps {
  db: Kysely<CoreTables>;
  hosts: HostRegistry;
  audit: AuditLog;
  events: EventBus;
  dataDir: string;
}

/**
 * Adds, changes and removes the hosts the panel manages. A remote host is only stored after a
 * login with its operator-confirmed host key succeeded; a different key is refused loudly.
 */
export class HostsService {
  constructor(private readonly d: HostsServiceDeps) {}

  list(actor: Actor): Promise<HostRecord[]> {
    requirePermission(actor, corePermissions['hosts.read']);
    return this.d.hosts.list();
  }

  get(actor: Actor, id: string): Promise<HostRecord> {
    requirePermission(actor, corePermissions['hosts.read']);
    return this.d.hosts.get(id);
  }

  /** Step one of adding a host: the key it presents, for the operator to compare and confirm. */
  async probe(actor: Actor, address: string, port: number): Promise<{ fingerprint: string; keyType: string }> {
    requirePermission(actor, corePermissions['hosts.manage']);
    return probeHostKey(address, port, { timeoutMs: 10_000 });
  }

  async create(actor: Actor, input: NewHost): Promise<HostRecord> {
    requirePermission(actor, corePermissions['hosts.manage']);
    if (input.name === LOCAL_HOST_ID) throw new ConflictError('The name "local" belongs to the panel\'s own machine');
    const clash = await this.d.db.selectFrom('hosts').select('id').where('name', '=', input.name).executeTakeFirst();
    if (clash) throw new ConflictError(`A host named ${input.name} already exists`);
    const test = await this.login(input);
    if (!test.ok) {
      await this.d.audit.record({ actor, action: 'hosts.create', target: { type: 'host', id: input.name }, outcome: 'failure', details: { address: input.address, port: input.port, error: test.error } });
      throw this.loginError(input, test);
    }
    const id = newId();
    const at = Date.now();
    await this.d.db
      .insertInto('hosts')
      .values({ id, name: input.name, kind: 'ssh', address: input.address, port: input.port, username: input.username, host_key_fingerprint: input.hostKeyFingerprint, capabilities: '{}', status: 'online', last_checked_at: at, created_at: at, updated_at: at })
      .execute();
    const caps = await this.detectAndStore(id).catch(() => undefined);
    await this.d.audit.record({ actor, action: 'hosts.create', target: { type: 'host', id }, details: { name: input.name, address: input.address, port: input.port, username: input.username, hostKeyFingerprint: input.hostKeyFingerprint, system: test.system, capabilities: caps } });
    this.d.events.publish({ type: 'host.created', resource: { type: 'host', id } });
    await this.d.hosts.notifyChanged(id);
    return this.d.hosts.get(id);
  }

  async update(actor: Actor, id: string, patch: HostPatch): Promise<HostRecord> {
    requirePermission(actor, corePermissions['hosts.manage']);
    const current = await this.remote(id);
    if (patch.name && patch.name !== current.name) {
      if (patch.name === LOCAL_HOST_ID) throw new ConflictError('The name "local" belongs to the panel\'s own machine');
      const clash = await this.d.db.selectFrom('hosts').select('id').where('name', '=', patch.name).where('id', '!=', id).executeTakeFirst();
      if (clash) throw new ConflictError(`A host named ${patch.name} already exists`);
    }
    const next: NewHost = {
      name: patch.name ?? current.name,
      address: patch.address ?? current.address!,
      port: patch.port ?? current.port ?? 22,
      username: patch.username ?? current.username ?? 'root',
      hostKeyFingerprint: patch.hostKeyFingerprint ?? current.hostKeyFingerprint!,
    };
    const connectionChanged = next.address !== current.address || next.port !== current.port || next.username !== current.username || next.hostKeyFingerprint !== current.hostKeyFingerprint;
    if (connectionChanged) {
      const test = await this.login(next);
      if (!test.ok) {
        await this.d.audit.record({ actor, action: 'hosts.update', target: { type: 'host', id }, outcome: 'failure', details: { changes: patch, error: test.error } });
        throw this.loginError(next, test);
      }
    }
    await this.d.db
      .updateTable('hosts')
      .set({ name: next.name, address: next.address, port: next.port, username: next.username, host_key_fingerprint: next.hostKeyFingerprint, updated_at: Date.now(), ...(connectionChanged ? { status: 'online', last_checked_at: Date.now() } : {}) })
      .where('id', '=', id)
      .execute();
    await this.d.audit.record({ actor, action: 'hosts.update', target: { type: 'host', id }, details: { changes: patch, rePinned: patch.hostKeyFingerprint !== undefined && patch.hostKeyFingerprint !== current.hostKeyFingerprint } });
    this.d.events.publish({ type: 'host.updated', resource: { type: 'host', id } });
    if (connectionChanged) await this.d.hosts.notifyChanged(id);
    return this.d.hosts.get(id);
  }

  async remove(actor: Actor, id: string): Promise<void> {
    requirePermission(actor, corePermissions['hosts.manage']);
    const host = await this.remote(id);
    await this.d.db.deleteFrom('hosts').where('id', '=', id).execute();
    await this.d.audit.record({ actor, action: 'hosts.delete', target: { type: 'host', id }, details: { name: host.name, address: host.address } });
    this.d.events.publish({ type: 'host.deleted', resource: { type: 'host', id } });
    await this.d.hosts.notifyChanged(id);
  }

  /** Logs in with the pinned key and records the outcome as the host's status. */
  async test(actor: Actor, id: string): Promise<ConnectionTestResult & { status: string }> {
    requirePermission(actor, corePermissions['hosts.manage']);
    const host = await this.d.hosts.get(id);
    let result: ConnectionTestResult;
    if (host.kind === 'local') {
      const started = Date.now();
      const r = await (await this.d.hosts.runner(LOCAL_HOST_ID)).exec('uname', ['-srm'], { timeoutMs: 5000 });
      result = { ok: true, hostKeyFingerprint: null, hostKeyMatches: null, latencyMs: Date.now() - started, system: r.stdout.trim() };
    } else {
      result = await this.login({ name: host.name, address: host.address!, port: host.port ?? 22, username: host.username ?? 'root', hostKeyFingerprint: host.hostKeyFingerprint! });
    }
    const status = result.ok ? 'online' : result.hostKeyMatches === false ? 'host-key-mismatch' : 'unreachable';
    await this.setStatus(id, status);
    await this.d.audit.record({ actor, action: 'hosts.test', target: { type: 'host', id }, outcome: result.ok ? 'success' : 'failure', details: { status, latencyMs: result.latencyMs, error: result.error } });
    return { ...result, status };
  }

  async detect(actor: Actor, id: string): Promise<HostRecord> {
    requirePermission(actor, corePermissions['hosts.manage']);
    await this.d.hosts.get(id);
    const caps = await this.detectAndStore(id);
    await this.d.audit.record({ actor, action: 'hosts.detect', target: { type: 'host', id }, details: { capabilities: caps } });
    this.d.events.publish({ type: 'host.updated', resource: { type: 'host', id } });
    return this.d.hosts.get(id);
  }

  /** Detects capabilities and stores them (the local host gets its row on first detection). */
  async detectAndStore(id: string): Promise<Capabilities> {
    const caps = await detectCapabilities(await this.d.hosts.runner(id));
    const at = Date.now();
    if (id === LOCAL_HOST_ID) {
      const exists = await this.d.db.selectFrom('hosts').select('id').where('id', '=', id).executeTakeFirst();
      if (!exists) {
        await this.d.db.insertInto('hosts').values({ id, name: LOCAL_HOST_ID, kind: 'local', address: null, port: null, username: null, host_key_fingerprint: null, capabilities: JSON.stringify(caps), status: 'online', last_checked_at: at, created_at: at, updated_at: at }).execute();
        return caps;
      }
    }
    await this.d.db.updateTable('hosts').set({ capabilities: JSON.stringify(caps), last_checked_at: at, updated_at: at }).where('id', '=', id).execute();
    return caps;
  }

  private async setStatus(id: string, status: string): Promise<void> {
    if (id === LOCAL_HOST_ID) return;
    await this.d.db.updateTable('hosts').set({ status, last_checked_at: Date.now() }).where('id', '=', id).execute();
  }

  private async remote(id: string): Promise<HostRecord> {
    if (id === LOCAL_HOST_ID) throw new DomainRuleError('The local host is always present and cannot be changed or removed', 'local_host');
    const host = await this.d.hosts.get(id);
    if (host.kind !== 'ssh') throw new NotFoundError('Host', id);
    return host;
  }

  private login(h: NewHost): Promise<ConnectionTestResult> {
    return connectionTest({ name: h.name, address: h.address, port: h.port, username: h.username, hostKeyFingerprint: h.hostKeyFingerprint }, { dataDir: this.d.dataDir, timeoutMs: 10_000 });
  }

  private loginError(h: NewHost, test: ConnectionTestResult): Error {
    if (test.hostKeyMatches === false && test.hostKeyFingerprint) return new HostKeyMismatchError(h.name, h.hostKeyFingerprint, test.hostKeyFingerprint);
    if (test.error?.code === 'unreachable') return new UnavailableError(test.error.message);
    return new DomainRuleError(`Could not log in to ${h.username}@${h.address}:${h.port}: ${test.error?.message ?? 'unknown error'}`, 'host_login_failed', { error: test.error });
  }
}
