import { newId } from '../../../server/src/sdk.js';
import type { ContainersDb, ServicesTable } from './containers.migrations.js';
import type { CreateService, ServiceState, WakeRecord } from './containers.schema.js';

/** What is stored of a service's definition (everything but identity). */
export type ServiceSpec = Omit<CreateService, 'name' | 'hostId'> & { http: { container: string; port: number } };

export interface ServiceRecord {
  id: string;
  name: string;
  hostId: string;
  ownerId: string | null;
  spec: ServiceSpec;
  state: ServiceState;
  lastError: string | null;
  wakeCount: number;
  sleepCount: number;
  lastActivityAt: number | null;
  lastWakeAt: number | null;
  createdAt: number;
  updatedAt: number;
}

function toRecord(r: ServicesTable): ServiceRecord {
  return {
    id: r.id,
    name: r.name,
    hostId: r.host_id,
    ownerId: r.owner_id,
    spec: JSON.parse(r.spec) as ServiceSpec,
    state: r.state as ServiceState,
    lastError: r.last_error,
    wakeCount: Number(r.wake_count),
    sleepCount: Number(r.sleep_count),
    lastActivityAt: r.last_activity_at === null ? null : Number(r.last_activity_at),
    lastWakeAt: r.last_wake_at === null ? null : Number(r.last_wake_at),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export class ServicesRepo {
  constructor(private readonly db: ContainersDb) {}

  async list(ownerId?: string): Promise<ServiceRecord[]> {
    let q = this.db.selectFrom('containers_services').selectAll();
    if (ownerId !== undefined) q = q.where('owner_id', '=', ownerId);
    return (await q.orderBy('name').execute()).map(toRecord);
  }

  async find(id: string): Promise<ServiceRecord | undefined> {
    const r = await this.db.selectFrom('containers_services').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toRecord(r) : undefined;
  }

  async findByName(name: string): Promise<ServiceRecord | undefined> {
    const r = await this.db.selectFrom('containers_services').selectAll().where('name', '=', name).executeTakeFirst();
    return r ? toRecord(r) : undefined;
  }

  async insert(s: { name: string; hostId: string; ownerId: string | null; spec: ServiceSpec; state: ServiceState }): Promise<ServiceRecord> {
    const at = Date.now();
    const row: ServicesTable = {
      id: newId(), name: s.name, host_id: s.hostId, owner_id: s.ownerId, spec: JSON.stringify(s.spec), state: s.state, last_error: null,
      wake_count: 0, sleep_count: 0, last_activity_at: null, last_wake_at: null, created_at: at, updated_at: at,
    };
    await this.db.insertInto('containers_services').values(row).execute();
    return toRecord(row);
  }

  async update(id: string, patch: Partial<{ spec: ServiceSpec; state: ServiceState; lastError: string | null; lastActivityAt: number; lastWakeAt: number }>): Promise<void> {
    const values: Partial<ServicesTable> = { updated_at: Date.now() };
    if (patch.spec) values.spec = JSON.stringify(patch.spec);
    if (patch.state) values.state = patch.state;
    if (patch.lastError !== undefined) values.last_error = patch.lastError;
    if (patch.lastActivityAt !== undefined) values.last_activity_at = patch.lastActivityAt;
    if (patch.lastWakeAt !== undefined) values.last_wake_at = patch.lastWakeAt;
    await this.db.updateTable('containers_services').set(values).where('id', '=', id).execute();
  }

  async countWake(id: string): Promise<void> {
    await this.db.updateTable('containers_services').set((eb) => ({ wake_count: eb('wake_count', '+', 1) })).where('id', '=', id).execute();
  }

  async countSleep(id: string): Promise<void> {
    await this.db.updateTable('containers_services').set((eb) => ({ sleep_count: eb('sleep_count', '+', 1) })).where('id', '=', id).execute();
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('containers_services').where('id', '=', id).execute();
  }

  async recordWake(serviceId: string, w: WakeRecord, id = newId()): Promise<string> {
    await this.db.insertInto('containers_wakes').values({
      id, service_id: serviceId, at: w.at, trigger: w.trigger, outcome: w.outcome,
      start_to_ready_ms: w.startToReadyMs, first_byte_ms: w.firstByteMs, error: w.error,
    }).execute();
    return id;
  }

  async setFirstByte(wakeId: string, firstByteMs: number): Promise<void> {
    await this.db.updateTable('containers_wakes').set({ first_byte_ms: Math.round(firstByteMs) }).where('id', '=', wakeId).where('first_byte_ms', 'is', null).execute();
  }

  async wakes(serviceId: string, limit: number): Promise<WakeRecord[]> {
    const rows = await this.db.selectFrom('containers_wakes').selectAll().where('service_id', '=', serviceId).orderBy('at', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      at: Number(r.at), trigger: r.trigger, outcome: r.outcome as 'ready' | 'failed',
      startToReadyMs: r.start_to_ready_ms === null ? null : Number(r.start_to_ready_ms),
      firstByteMs: r.first_byte_ms === null ? null : Number(r.first_byte_ms), error: r.error,
    }));
  }
}
