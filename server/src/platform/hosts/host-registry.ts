import type { Kysely } from 'kysely';
import type { CoreTables } from '../../db/schema.js';
import { LocalProcessRunner, type ProcessRunner } from '../../infra/process-runner.js';
import { NotFoundError } from '../errors.js';

export const LOCAL_HOST_ID = 'local';

export interface HostRecord {
  id: string;
  name: string;
  kind: 'local' | 'ssh';
  address: string | null;
  port: number | null;
  username: string | null;
  hostKeyFingerprint: string | null;
  capabilities: Record<string, boolean>;
  status: string;
  lastCheckedAt: number | null;
}

/** Builds a process runner for a remote host (the SSH runner plugs in here). */
export type RemoteRunnerFactory = (host: HostRecord) => Promise<ProcessRunner>;

/**
 * The hosts the panel manages. The local machine is always there; remote hosts are reached over
 * SSH. Modules ask it for a process runner by host id and never care which kind it is.
 */
export class HostRegistry {
  private readonly local = new LocalProcessRunner();
  private remoteFactory?: RemoteRunnerFactory;
  private readonly changeListeners = new Set<(hostId: string) => Promise<void> | void>();

  constructor(private readonly db: Kysely<CoreTables>) {}

  setRemoteRunnerFactory(f: RemoteRunnerFactory): void {
    this.remoteFactory = f;
  }

  /** Called after a host is added, changed or removed (samplers and caches follow the host list). */
  onChanged(fn: (hostId: string) => Promise<void> | void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  /** Tells every listener that a host changed; a listener that fails does not stop the others. */
  async notifyChanged(hostId: string): Promise<void> {
    await Promise.allSettled([...this.changeListeners].map(async (fn) => fn(hostId)));
  }

  async list(): Promise<HostRecord[]> {
    const rows = await this.db.selectFrom('hosts').selectAll().orderBy('name').execute();
    return [localRecord(rows.find((r) => r.id === LOCAL_HOST_ID)), ...rows.filter((r) => r.id !== LOCAL_HOST_ID).map(toRecord)];
  }

  async get(id: string): Promise<HostRecord> {
    const row = await this.db.selectFrom('hosts').selectAll().where('id', '=', id).executeTakeFirst();
    if (id === LOCAL_HOST_ID) return localRecord(row);
    if (!row) throw new NotFoundError('Host', id);
    return toRecord(row);
  }

  async runner(hostId: string = LOCAL_HOST_ID): Promise<ProcessRunner> {
    if (hostId === LOCAL_HOST_ID) return this.local;
    const host = await this.get(hostId);
    if (!this.remoteFactory) throw new Error('remote hosts are not available: no SSH runner registered');
    return this.remoteFactory(host);
  }
}

function toRecord(r: CoreTables['hosts']): HostRecord {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    address: r.address,
    port: r.port,
    username: r.username,
    hostKeyFingerprint: r.host_key_fingerprint,
    capabilities: JSON.parse(r.capabilities) as Record<string, boolean>,
    status: r.status,
    lastCheckedAt: r.last_checked_at,
  };
}

function localRecord(row?: CoreTables['hosts']): HostRecord {
  const base = row ? toRecord(row) : undefined;
  return {
    id: LOCAL_HOST_ID, name: 'local', kind: 'local', address: null, port: null, username: null, hostKeyFingerprint: null,
    capabilities: base?.capabilities ?? {}, status: 'online', lastCheckedAt: base?.lastCheckedAt ?? null,
  };
}
