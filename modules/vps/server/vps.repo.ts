import type { Kysely } from 'kysely';
import { newId } from '../../../server/src/sdk.js';
import type { PlanInput, PlanView, QuotaInput } from './vps.schema.js';

/** Rows of the VPS module's tables (vps.migrations.ts); no rules here, see vps.service.ts. */

export interface VpsSpec {
  sshKeys: string[];
  userData: string | null;
  start: boolean;
  /** cloud-init's instance-id (a reinstall gets a new one so cloud-init runs again); the VPS id when absent. */
  instanceId?: string;
}

export interface VpsRecord {
  id: string; ownerId: string; hostId: string; planId: string | null; imageId: string; hostname: string; dnsName: string | null; domainName: string;
  vcpus: number; memoryMb: number; diskGb: number; network: 'public' | 'private'; networkName: string | null; mac: string; address: string | null;
  state: string; lastError: string | null; spec: VpsSpec; createdAt: number; updatedAt: number;
}

export interface ImageRecord {
  id: string; name: string; status: 'uploading' | 'converting' | 'ready' | 'failed'; reason: string | null; os: string | null; version: string | null;
  minDiskGb: number; cloudInit: boolean; public: boolean; sourceFormat: string | null; sha256: string | null; sizeBytes: number | null; virtualSize: number | null;
  file: string | null; kernel: string | null; initrd: string | null; cmdline: string | null; createdAt: number; updatedAt: number;
}

const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** A record without its spec (lists never parse user-data). */
export type VpsRow = Omit<VpsRecord, 'spec'>;
const LIST_COLUMNS = ['id', 'owner_id', 'host_id', 'plan_id', 'image_id', 'hostname', 'dns_name', 'domain_name', 'vcpus', 'memory_mb', 'disk_gb', 'network', 'network_name', 'mac', 'address', 'state', 'last_error', 'created_at', 'updated_at'] as const;

function vps(r: any): VpsRecord {
  return {
    id: r.id, ownerId: r.owner_id, hostId: r.host_id, planId: r.plan_id, imageId: r.image_id, hostname: r.hostname, dnsName: r.dns_name, domainName: r.domain_name,
    vcpus: Number(r.vcpus), memoryMb: Number(r.memory_mb), diskGb: Number(r.disk_gb), network: r.network, networkName: r.network_name, mac: r.mac, address: r.address,
    state: r.state, lastError: r.last_error, spec: (r.spec === undefined ? undefined : JSON.parse(r.spec)) as VpsSpec, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
  };
}
function image(r: any): ImageRecord {
  return {
    id: r.id, name: r.name, status: r.status, reason: r.reason, os: r.os, version: r.version, minDiskGb: Number(r.min_disk_gb), cloudInit: !!Number(r.cloud_init), public: !!Number(r.public),
    sourceFormat: r.source_format, sha256: r.sha256, sizeBytes: n(r.size_bytes), virtualSize: n(r.virtual_size), file: r.file, kernel: r.kernel, initrd: r.initrd, cmdline: r.cmdline,
    createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
  };
}
function plan(r: any): PlanView {
  return {
    id: r.id, name: r.name, vcpus: Number(r.vcpus), memoryMb: Number(r.memory_mb), diskGb: Number(r.disk_gb), bandwidthGb: Number(r.bandwidth_gb),
    maxSnapshots: Number(r.max_snapshots), priceLabel: r.price_label, public: !!Number(r.public), createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
  };
}

export class VpsRepo {
  constructor(readonly db: Kysely<any>) {}

  // ---- plans
  async plans(onlyPublic: boolean): Promise<PlanView[]> {
    let q = this.db.selectFrom('vps_plans').selectAll().orderBy('vcpus').orderBy('memory_mb').orderBy('name');
    if (onlyPublic) q = q.where('public', '=', 1);
    return (await q.execute()).map(plan);
  }
  async plan(id: string): Promise<PlanView | undefined> {
    const r = await this.db.selectFrom('vps_plans').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? plan(r) : undefined;
  }
  async planByName(name: string): Promise<PlanView | undefined> {
    const r = await this.db.selectFrom('vps_plans').selectAll().where('name', '=', name).executeTakeFirst();
    return r ? plan(r) : undefined;
  }
  async insertPlan(p: PlanInput): Promise<PlanView> {
    const at = Date.now();
    const row = { id: newId(), name: p.name, vcpus: p.vcpus, memory_mb: p.memoryMb, disk_gb: p.diskGb, bandwidth_gb: p.bandwidthGb, max_snapshots: p.maxSnapshots, price_label: p.priceLabel ?? null, public: p.public ? 1 : 0, created_at: at, updated_at: at };
    await this.db.insertInto('vps_plans').values(row).execute();
    return plan(row);
  }

  // ---- quotas
  async quota(userId: string): Promise<QuotaInput | undefined> {
    const r = await this.db.selectFrom('vps_quotas').selectAll().where('user_id', '=', userId).executeTakeFirst();
    return r ? { maxCount: Number(r.max_count), maxVcpus: Number(r.max_vcpus), maxMemoryMb: Number(r.max_memory_mb), maxDiskGb: Number(r.max_disk_gb) } : undefined;
  }
  async setQuota(userId: string, q: QuotaInput): Promise<void> {
    const row = { max_count: q.maxCount, max_vcpus: q.maxVcpus, max_memory_mb: q.maxMemoryMb, max_disk_gb: q.maxDiskGb, updated_at: Date.now() };
    const r = await this.db.updateTable('vps_quotas').set(row).where('user_id', '=', userId).executeTakeFirst();
    if (!Number(r.numUpdatedRows)) await this.db.insertInto('vps_quotas').values({ user_id: userId, ...row }).execute();
  }
  async usage(ownerId: string): Promise<{ count: number; vcpus: number; memoryMb: number; diskGb: number }> {
    const r = await this.db.selectFrom('vps_instances').where('owner_id', '=', ownerId)
      .select((eb) => [eb.fn.countAll().as('count'), eb.fn.sum('vcpus').as('vcpus'), eb.fn.sum('memory_mb').as('memory'), eb.fn.sum('disk_gb').as('disk')]).executeTakeFirstOrThrow();
    return { count: Number(r.count ?? 0), vcpus: Number(r.vcpus ?? 0), memoryMb: Number(r.memory ?? 0), diskGb: Number(r.disk ?? 0) };
  }
  async allocatedOn(hostId: string): Promise<{ vcpus: number; memoryMb: number; diskGb: number }> {
    const r = await this.db.selectFrom('vps_instances').where('host_id', '=', hostId)
      .select((eb) => [eb.fn.sum('vcpus').as('vcpus'), eb.fn.sum('memory_mb').as('memory'), eb.fn.sum('disk_gb').as('disk')]).executeTakeFirstOrThrow();
    return { vcpus: Number(r.vcpus ?? 0), memoryMb: Number(r.memory ?? 0), diskGb: Number(r.disk ?? 0) };
  }

  // ---- images
  async images(onlyPublicReady: boolean): Promise<ImageRecord[]> {
    let q = this.db.selectFrom('vps_images').selectAll().orderBy('name');
    if (onlyPublicReady) q = q.where('public', '=', 1).where('status', '=', 'ready');
    return (await q.execute()).map(image);
  }
  async image(id: string): Promise<ImageRecord | undefined> {
    const r = await this.db.selectFrom('vps_images').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? image(r) : undefined;
  }
  async imageByName(name: string): Promise<ImageRecord | undefined> {
    const r = await this.db.selectFrom('vps_images').selectAll().where('name', '=', name).executeTakeFirst();
    return r ? image(r) : undefined;
  }
  async insertImage(i: Omit<ImageRecord, 'createdAt' | 'updatedAt'>): Promise<ImageRecord> {
    const at = Date.now();
    await this.db.insertInto('vps_images').values({
      id: i.id, name: i.name, status: i.status, reason: i.reason, os: i.os, version: i.version, min_disk_gb: i.minDiskGb, cloud_init: i.cloudInit ? 1 : 0, public: i.public ? 1 : 0,
      source_format: i.sourceFormat, sha256: i.sha256, size_bytes: i.sizeBytes, virtual_size: i.virtualSize, file: i.file, kernel: i.kernel, initrd: i.initrd, cmdline: i.cmdline, created_at: at, updated_at: at,
    }).execute();
    return (await this.image(i.id))!;
  }
  async updateImage(id: string, p: Partial<Pick<ImageRecord, 'status' | 'reason' | 'sourceFormat' | 'sha256' | 'sizeBytes' | 'virtualSize' | 'file'>>): Promise<void> {
    const map: Record<string, string> = { status: 'status', reason: 'reason', sourceFormat: 'source_format', sha256: 'sha256', sizeBytes: 'size_bytes', virtualSize: 'virtual_size', file: 'file' };
    const set: Record<string, unknown> = { updated_at: Date.now() };
    for (const [k, v] of Object.entries(p)) set[map[k]!] = v;
    await this.db.updateTable('vps_images').set(set).where('id', '=', id).execute();
  }
  async deleteImage(id: string): Promise<void> {
    await this.db.deleteFrom('vps_images').where('id', '=', id).execute();
  }
  async imageInUse(id: string): Promise<boolean> {
    return !!(await this.db.selectFrom('vps_instances').select('id').where('image_id', '=', id).executeTakeFirst());
  }

  // ---- instances
  async list(ownerId?: string, o: { limit?: number; offset?: number } = {}): Promise<VpsRow[]> {
    let q = this.db.selectFrom('vps_instances').select([...LIST_COLUMNS]).orderBy('created_at').orderBy('id');
    if (ownerId !== undefined) q = q.where('owner_id', '=', ownerId);
    if (o.limit) q = q.limit(o.limit).offset(o.offset ?? 0);
    return (await q.execute()).map(vps);
  }
  /** One page and the total, both in SQL (issue 16): only the page's rows are read and serialised. */
  async page(ownerId: string | undefined, o: { limit: number; offset: number }): Promise<{ rows: VpsRow[]; total: number }> {
    let count = this.db.selectFrom('vps_instances').select((eb) => eb.fn.countAll<number>().as('n'));
    if (ownerId !== undefined) count = count.where('owner_id', '=', ownerId);
    const [n, rows] = await Promise.all([count.executeTakeFirst(), this.list(ownerId, o)]);
    return { rows, total: Number(n?.n ?? 0) };
  }
  async find(id: string): Promise<VpsRecord | undefined> {
    const r = await this.db.selectFrom('vps_instances').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? vps(r) : undefined;
  }
  async findByHostname(ownerId: string, hostname: string): Promise<VpsRecord | undefined> {
    const r = await this.db.selectFrom('vps_instances').selectAll().where('owner_id', '=', ownerId).where('hostname', '=', hostname).executeTakeFirst();
    return r ? vps(r) : undefined;
  }
  async domainNames(hostId: string): Promise<Set<string>> {
    return new Set((await this.db.selectFrom('vps_instances').select('domain_name').where('host_id', '=', hostId).execute()).map((r) => r.domain_name as string));
  }
  async insert(v: Omit<VpsRecord, 'createdAt' | 'updatedAt'>): Promise<VpsRecord> {
    const at = Date.now();
    await this.db.insertInto('vps_instances').values({
      id: v.id, owner_id: v.ownerId, host_id: v.hostId, plan_id: v.planId, image_id: v.imageId, hostname: v.hostname, dns_name: v.dnsName, domain_name: v.domainName,
      vcpus: v.vcpus, memory_mb: v.memoryMb, disk_gb: v.diskGb, network: v.network, network_name: v.networkName, mac: v.mac, address: v.address, state: v.state,
      last_error: v.lastError, spec: JSON.stringify(v.spec), created_at: at, updated_at: at,
    }).execute();
    return (await this.find(v.id))!;
  }
  async update(id: string, p: Partial<Pick<VpsRecord, 'state' | 'lastError' | 'address' | 'networkName' | 'mac'>>): Promise<void> {
    const map: Record<string, string> = { state: 'state', lastError: 'last_error', address: 'address', networkName: 'network_name', mac: 'mac' };
    const set: Record<string, unknown> = { updated_at: Date.now() };
    for (const [k, v] of Object.entries(p)) set[map[k]!] = v;
    await this.db.updateTable('vps_instances').set(set).where('id', '=', id).execute();
  }
  async setSizes(id: string, z: { vcpus: number; memoryMb: number; diskGb: number; planId: string | null }): Promise<void> {
    await this.db.updateTable('vps_instances').set({ vcpus: z.vcpus, memory_mb: z.memoryMb, disk_gb: z.diskGb, plan_id: z.planId, updated_at: Date.now() }).where('id', '=', id).execute();
  }
  /** The (owner, hostname) index refuses a name the owner already uses. */
  async setHostname(id: string, hostname: string): Promise<void> {
    await this.db.updateTable('vps_instances').set({ hostname, updated_at: Date.now() }).where('id', '=', id).execute();
  }
  async setImage(id: string, imageId: string, spec: VpsSpec): Promise<void> {
    await this.db.updateTable('vps_instances').set({ image_id: imageId, spec: JSON.stringify(spec), updated_at: Date.now() }).where('id', '=', id).execute();
  }
  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('vps_instances').where('id', '=', id).execute();
  }

  // ---- snapshots
  async snapshots(vpsId: string): Promise<{ id: string; name: string; comment: string; createdAt: number }[]> {
    return (await this.db.selectFrom('vps_snapshots').selectAll().where('vps_id', '=', vpsId).orderBy('created_at').execute())
      .map((r) => ({ id: r.id, name: r.name, comment: r.comment, createdAt: Number(r.created_at) }));
  }
  async insertSnapshot(s: { id: string; vpsId: string; name: string; comment: string }): Promise<void> {
    await this.db.insertInto('vps_snapshots').values({ id: s.id, vps_id: s.vpsId, name: s.name, comment: s.comment, created_at: Date.now() }).execute();
  }
  async deleteSnapshot(id: string): Promise<void> {
    await this.db.deleteFrom('vps_snapshots').where('id', '=', id).execute();
  }

  // ---- networks and addresses
  async network(hostId: string, name: string): Promise<{ name: string; kind: string; ownerId: string | null; subnet: string } | undefined> {
    const r = await this.db.selectFrom('vps_networks').selectAll().where('host_id', '=', hostId).where('name', '=', name).executeTakeFirst();
    return r ? { name: r.name, kind: r.kind, ownerId: r.owner_id, subnet: r.subnet } : undefined;
  }
  async networkSubnets(hostId: string): Promise<Set<string>> {
    return new Set((await this.db.selectFrom('vps_networks').select('subnet').where('host_id', '=', hostId).execute()).map((r) => r.subnet as string));
  }
  async insertNetwork(hostId: string, n: { name: string; kind: 'public' | 'private'; ownerId: string | null; subnet: string }): Promise<void> {
    await this.db.insertInto('vps_networks').values({ host_id: hostId, name: n.name, kind: n.kind, owner_id: n.ownerId, subnet: n.subnet, created_at: Date.now() }).execute();
  }
  async usedAddresses(hostId: string, network: string): Promise<Set<string>> {
    return new Set((await this.db.selectFrom('vps_addresses').select('ip').where('host_id', '=', hostId).where('network', '=', network).execute()).map((r) => r.ip as string));
  }
  /** false when the address was taken meanwhile (the primary key decides: no two VMs get one address). */
  async claimAddress(a: { hostId: string; network: string; ip: string; vpsId: string; mac: string }): Promise<boolean> {
    try {
      await this.db.insertInto('vps_addresses').values({ host_id: a.hostId, network: a.network, ip: a.ip, vps_id: a.vpsId, mac: a.mac, created_at: Date.now() }).execute();
      return true;
    } catch {
      return !!(await this.db.selectFrom('vps_addresses').select('vps_id').where('host_id', '=', a.hostId).where('network', '=', a.network).where('ip', '=', a.ip).where('vps_id', '=', a.vpsId).executeTakeFirst());
    }
  }
  async addressOf(vpsId: string): Promise<{ hostId: string; network: string; ip: string; mac: string } | undefined> {
    const r = await this.db.selectFrom('vps_addresses').selectAll().where('vps_id', '=', vpsId).executeTakeFirst();
    return r ? { hostId: r.host_id, network: r.network, ip: r.ip, mac: r.mac } : undefined;
  }
  async releaseAddress(vpsId: string): Promise<void> {
    await this.db.deleteFrom('vps_addresses').where('vps_id', '=', vpsId).execute();
  }
}
