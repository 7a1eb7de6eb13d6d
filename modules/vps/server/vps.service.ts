import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { type Duplex, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type Actor, type AuditLog, authorize, ConflictError, DomainRuleError, type EventBus,
  ForbiddenError, type HostnameClaims, type JobService, type JobView, type LifecyclePolicies,
  type LifecyclePolicyView, listScope, LOCAL_HOST_ID, newId, normalizeHostname, NotFoundError, ownedOnlyFor,
  PayloadTooLargeError, resource, SshKeyService, SYSTEM_ACTOR, UnsupportedMediaTypeError, ValidationError,
} from '../../../server/src/sdk.js';
import { assertHostname, buildSeedFiles } from './cloud-init.js';
import { LibvirtError, type DomainState } from './libvirt.virsh.js';
import { freeRoom, place, type HostCapacity, type PlacementRatios } from './placement.js';
import type { VpsConfig } from './vps.config.js';
import { storagePaths, domainNameOf, type Inventory, type VpsHosts } from './vps.hosts.js';
import { JOB_CREATE, JOB_DELETE, JOB_IMAGE, JOB_REINSTALL, JOB_RENAME, JOB_RESIZE, JOB_SHUTDOWN } from './vps.jobs.js';
import { monthOf, type MetricRange, type VpsMetricsStore } from './vps.metrics.js';
import { vpsPermissions as P } from './vps.permissions.js';
import type { ImageRecord, VpsRecord, VpsRepo, VpsRow } from './vps.repo.js';
import type { CreateVps, ImageQuery, ImageView, PlanInput, PlanView, QuotaInput, QuotaView, ReinstallVps, ResizeVps, SnapshotView, VpsAction, VpsMetricsView, VpsView } from './vps.schema.js';


export interface VpsServiceDeps {
  repo: VpsRepo;
  jobs: JobService;
  audit: AuditLog;
  events: EventBus;
  hosts: VpsHosts;
  inventory: Inventory;
  config: VpsConfig;
  claims: HostnameClaims;
  lifecycle: LifecyclePolicies;
  sshKeys: SshKeyService;
  metrics: VpsMetricsStore;
}

const BUSY = new Set(['creating', 'deleting']);
const toVpsState = (s: DomainState | undefined): VpsView['state'] | undefined => {
  switch (s) {
    case undefined: return undefined;
    case 'running': case 'idle': case 'blocked': return 'running';
    case 'paused': return 'paused';
    case 'in shutdown': return 'in shutdown';
    case 'shut off': case 'dying': return 'shut off';
    case 'crashed': return 'crashed';
    case 'pmsuspended': return 'pmsuspended';
    default: return 'unknown';
  }
};
const SNAPSHOT_NAME = (n: number) => `snap-${Date.now().toString(36)}-${n}`;

/** The rules of VPSes: who may do what, validation, quotas, placement, audit; long work as jobs. */
export class VpsService {
  private lock: Promise<unknown> = Promise.resolve();
  constructor(readonly d: VpsServiceDeps) {}

  private ratios(): PlacementRatios {
    return { cpu: this.d.config.cpuRatio, memory: this.d.config.memoryRatio, disk: this.d.config.diskRatio };
  }

  /** Creates (quota + placement + insert) run one at a time, so parallel requests cannot all pass. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => {});
    return run;
  }

  private async load(actor: Actor, permission: string, id: string): Promise<VpsRecord> {
    authorize(actor, permission);
    return authorize(actor, permission, resource('VPS', id, await this.d.repo.find(id), (r) => r.ownerId));
  }

  view(actor: Actor, r: VpsRow, expiry: LifecyclePolicyView | null, staff = !ownedOnlyFor(actor, P.read)): VpsView {
    const live = BUSY.has(r.state) || r.state === 'failed' ? undefined : toVpsState(this.d.inventory.state(r.hostId, r.domainName));
    return {
      id: r.id, ownerId: r.ownerId, hostname: r.hostname, dnsName: r.dnsName, domainName: r.domainName, planId: r.planId, imageId: r.imageId,
      vcpus: r.vcpus, memoryMb: r.memoryMb, diskGb: r.diskGb, network: r.network, address: r.address, mac: r.mac,
      state: live ?? ((toVpsState(r.state as DomainState) === 'unknown' ? r.state : toVpsState(r.state as DomainState)) as VpsView['state']) ?? 'unknown',
      lastError: r.lastError,
      expiry: expiry ? { expiresAt: expiry.expiresAt, notifyDays: expiry.notifyDays, graceDays: expiry.graceDays, onExpiry: expiry.onExpiry, phase: expiry.phase, notifiedAt: expiry.notifiedAt, expiredAt: expiry.expiredAt, deleteAt: expiry.deleteAt, lastError: expiry.lastError } : null,
      hostId: staff ? r.hostId : null,
      createdAt: r.createdAt, updatedAt: r.updatedAt,
    };
  }

  private publish(r: VpsRow, what: string, data: Record<string, unknown> = {}): void {
    this.d.events.publish({ type: `vps.${what}`, resource: { type: 'vps', id: r.id }, ownerId: r.ownerId, permission: P.read, data });
  }

  /** Called by the inventory when a domain's state changes (libvirt events). */
  async onDomainState(hostId: string, domain: string, state: DomainState | null): Promise<void> {
    if (!domain.startsWith('slw-')) return;
    const r = await this.d.repo.find(domain.slice(4));
    if (!r || r.hostId !== hostId) return;
    this.publish(r, 'state', { state: toVpsState(state ?? undefined) ?? null });
  }

  // ---- reads ---------------------------------------------------------------------------------

  async list(actor: Actor, o: { limit: number; offset: number }): Promise<{ items: VpsView[]; total: number }> {
    authorize(actor, P.read);
    const { rows: page, total } = await this.d.repo.page(listScope(actor, P.read), o);
    const expiry = await this.d.lifecycle.getMany(page.map((r) => r.id));
    const staff = !ownedOnlyFor(actor, P.read);
    return { items: page.map((r) => this.view(actor, r, expiry.get(r.id) ?? null, staff)), total };
  }

  async get(actor: Actor, id: string): Promise<VpsView> {
    const r = await this.load(actor, P.read, id);
    return this.view(actor, r, await this.d.lifecycle.get(r.id));
  }

  // ---- create --------------------------------------------------------------------------------

  private async ownerFor(actor: Actor, requested: string | undefined): Promise<string> {
    if (requested === undefined || requested === actor.userId) {
      if (!actor.userId) throw new ValidationError('ownerId is required when the caller is not a user', { field: 'ownerId' });
      return actor.userId;
    }
    if (ownedOnlyFor(actor, P.operate)) throw new ForbiddenError('You can only create VPSes for yourself', 'forbidden', { field: 'ownerId' });
    const u = await this.d.repo.db.selectFrom('users').select(['id']).where('id', '=', requested).executeTakeFirst();
    if (!u) throw new ValidationError(`No user ${requested}`, { field: 'ownerId' });
    return requested;
  }

  /** Capacity of every VPS host (SLIPWAY_VPS_HOSTS); a host that does not answer takes nothing new. */
  private async capacities(): Promise<HostCapacity[]> {
    return Promise.all(this.d.hosts.hostIds().map(async (id) => {
      try {
        return await this.d.hosts.capacity(id, id);
      } catch (e) {
        return { hostId: id, name: id, cpus: 0, memoryMb: 0, diskGb: 0, allocated: { vcpus: 0, memoryMb: 0, diskGb: 0 }, accepting: false, error: (e as Error).message } as HostCapacity;
      }
    }));
  }

  async quota(userId: string): Promise<QuotaView> {
    const q = await this.d.repo.quota(userId);
    const c = this.d.config;
    return { userId, custom: !!q, ...(q ?? { maxCount: c.quotaCount, maxVcpus: c.quotaVcpus, maxMemoryMb: c.quotaMemoryMb, maxDiskGb: c.quotaDiskGb }), used: await this.d.repo.usage(userId) };
  }

  private async checkQuota(actor: Actor, ownerId: string, req: { vcpus: number; memoryMb: number; diskGb: number }, count = 1): Promise<void> {
    const role = ownerId === actor.userId ? actor.role : ((await this.d.repo.db.selectFrom('users').select('role').where('id', '=', ownerId).executeTakeFirst())?.role as string | undefined);
    // Quotas bind customers (the user role) and anyone with a quota of their own.
    const q = await this.quota(ownerId);
    if (role !== 'user' && !q.custom) return;
    const checks: [string, number, number, string][] = [
      ['count', q.used.count + count, q.maxCount, 'VPSes'],
      ['vcpus', q.used.vcpus + req.vcpus, q.maxVcpus, 'vCPUs'],
      ['memoryMb', q.used.memoryMb + req.memoryMb, q.maxMemoryMb, 'MB of memory'],
      ['diskGb', q.used.diskGb + req.diskGb, q.maxDiskGb, 'GB of disk'],
    ];
    for (const [k, want, max, label] of checks) {
      if (want > max && (k === 'count' ? count > 0 : req[k as 'vcpus'] > 0)) throw new DomainRuleError(`Quota exceeded: this would use ${want} ${label}, the quota is ${max}`, 'quota_exceeded', { resource: k, requested: want, limit: max });
    }
  }

  private async ownerKeys(actor: Actor, ownerId: string, ids: string[]): Promise<string[]> {
    if (!ids.length) return [];
    // The platform's SSH keys of the owner (the actor was authorised to create for them).
    const keys = await this.d.sshKeys.list({ ...actor, userId: ownerId });
    const byId = new Map(keys.map((k) => [k.id, k.publicKey]));
    const missing = ids.filter((id) => !byId.has(id));
    if (missing.length) throw new ValidationError(`SSH key ${missing[0]} is not one of the owner's saved keys`, { field: 'sshKeyIds', missing });
    return [...new Set(ids)].map((id) => byId.get(id)!);
  }

  async create(actor: Actor, input: CreateVps): Promise<{ job: JobView; vps: VpsView }> {
    authorize(actor, P.create);
    const ownerId = await this.ownerFor(actor, input.ownerId);
    const hostname = assertHostname(input.hostname);
    const customer = ownedOnlyFor(actor, P.read);
    const plan = await this.d.repo.plan(input.planId);
    if (!plan || (customer && !plan.public)) throw new ValidationError(`No plan ${input.planId}`, { field: 'planId' });
    const image = await this.d.repo.image(input.imageId);
    if (!image || (customer && !image.public)) throw new ValidationError(`No image ${input.imageId}`, { field: 'imageId' });
    if (image.status !== 'ready') throw new DomainRuleError(`Image ${image.name} is ${image.status}`, 'image_not_ready');
    if (plan.diskGb < image.minDiskGb) throw new DomainRuleError(`Image ${image.name} needs at least ${image.minDiskGb} GB of disk; the plan has ${plan.diskGb}`, 'disk_too_small');
    if (image.virtualSize && plan.diskGb * 1024 ** 3 < image.virtualSize) throw new DomainRuleError(`Image ${image.name} is larger than the plan's disk`, 'disk_too_small');
    if (input.expiresAt !== undefined && input.expiresAt <= Date.now()) throw new ValidationError('expiresAt must be in the future', { field: 'expiresAt' });
    const sshKeys = await this.ownerKeys(actor, ownerId, input.sshKeyIds);
    const id = newId();
    const mac = `52:54:00:${randomBytes(3).toString('hex').match(/../g)!.join(':')}`;
    // Everything the seed will contain is validated now (user-data YAML, keys, hostname): 400 before anything exists.
    buildSeedFiles({ instanceId: id, hostname, sshKeys, userData: input.userData ?? null, network: { mac, mode: 'dhcp' } });
    let dnsName: string | null = null;
    const claimant: Actor = ownerId === actor.userId ? actor : { kind: 'system', userId: ownerId, username: `owner of ${hostname}`, role: 'user' };
    if (input.dnsName !== undefined) {
      // Normalised by the platform's claims (case, trailing dot, IDN → punycode); one label is not a DNS name.
      if (!normalizeHostname(input.dnsName).includes('.')) throw new ValidationError('dnsName must be a fully qualified host name', { field: 'dnsName' });
      dnsName = await this.d.claims.check(claimant, input.dnsName);
    }
    const req = { vcpus: plan.vcpus, memoryMb: plan.memoryMb, diskGb: plan.diskGb };
    return this.serial(async () => {
      if (await this.d.repo.findByHostname(ownerId, hostname)) throw new ConflictError(`A VPS named ${hostname} already exists`, { field: 'hostname' });
      await this.checkQuota(actor, ownerId, req);
      const caps = await this.capacities();
      const placed = place(caps, req, this.ratios());
      if (!placed.ok) throw new DomainRuleError(placed.message, 'no_capacity', placed.details);
      if (dnsName) await this.d.claims.claim(claimant, dnsName, `vps:${id}`);
      const r = await this.d.repo.insert({
        id, ownerId, hostId: placed.hostId, planId: plan.id, imageId: image.id, hostname, dnsName, domainName: domainNameOf(id),
        vcpus: plan.vcpus, memoryMb: plan.memoryMb, diskGb: plan.diskGb, network: input.network === 'private' ? 'private' : 'public', networkName: null, mac, address: null,
        state: 'creating', lastError: null, spec: { sshKeys, userData: input.userData ?? null, start: input.start },
      });
      if (input.expiresAt !== undefined) await this.d.lifecycle.set(actor, r.id, { expiresAt: input.expiresAt, ownerId });
      const job = await this.d.jobs.enqueue(JOB_CREATE, { vpsId: r.id }, { actor, resource: `vps:${r.id}` });
      await this.d.audit.record({ actor, action: 'vps.create', target: { type: 'vps', id: r.id }, details: { hostname, owner: ownerId, plan: plan.name, image: image.name, network: r.network, keys: sshKeys.length, userData: !!input.userData, dnsName, job: job.id } });
      this.publish(r, 'created');
      return { job, vps: this.view(actor, r, await this.d.lifecycle.get(r.id)) };
    });
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  private async ready(actor: Actor, permission: string, id: string): Promise<VpsRecord> {
    const r = await this.load(actor, permission, id);
    if (BUSY.has(r.state)) throw new ConflictError(`The VPS is ${r.state}`);
    if (r.state === 'failed') throw new ConflictError('The VPS failed to be created; delete it');
    return r;
  }

  async action(actor: Actor, id: string, action: VpsAction): Promise<{ vps: VpsView; job?: JobView }> {
    const r = await this.ready(actor, P.operate, id);
    const t = await this.d.hosts.get(r.hostId);
    const v = t.virsh;
    if (action === 'shutdown') {
      const job = await this.d.jobs.enqueue(JOB_SHUTDOWN, { vpsId: r.id }, { actor, resource: `vps:${r.id}` });
      await this.d.audit.record({ actor, action: 'vps.shutdown', target: { type: 'vps', id: r.id }, details: { job: job.id } });
      return { vps: await this.get(actor, id), job };
    }
    try {
      switch (action) {
        case 'start': await v.start(r.domainName, r.id); break;
        case 'poweroff': await v.destroy(r.domainName, r.id); break;
        case 'reboot': await v.reboot(r.domainName, r.id); break;
        case 'reset': await v.reset(r.domainName, r.id); break;
        case 'suspend': await v.suspend(r.domainName, r.id); break;
        case 'resume': await v.resume(r.domainName, r.id); break;
      }
    } catch (e) {
      if (e instanceof LibvirtError && ['already_running', 'not_running'].includes(e.kind)) throw new ConflictError(`Cannot ${action}: ${e.userReason}`, { action });
      if (e instanceof LibvirtError && e.kind === 'failed' && /not running|not paused|is not active/i.test(e.userReason)) throw new ConflictError(`Cannot ${action}: ${e.userReason}`, { action });
      throw e;
    }
    const s = await v.domstate(r.domainName);
    this.d.inventory.set(r.hostId, r.domainName, s.state);
    await this.d.repo.update(r.id, { state: toVpsState(s.state) ?? 'unknown' });
    await this.d.audit.record({ actor, action: `vps.${action}`, target: { type: 'vps', id: r.id }, details: { state: s.state } });
    return { vps: await this.get(actor, id) };
  }

  async remove(actor: Actor, id: string, confirm: string): Promise<{ job: JobView }> {
    const r = await this.load(actor, P.delete, id);
    if (confirm !== r.hostname) throw new DomainRuleError(`Type the VPS's hostname (${r.hostname}) to confirm`, 'confirmation_mismatch', { field: 'confirm' });
    if (BUSY.has(r.state)) throw new ConflictError(`The VPS is ${r.state}`);
    return { job: await this.enqueueDelete(actor, r) };
  }

  private async enqueueDelete(actor: Actor, r: VpsRecord): Promise<JobView> {
    await this.d.repo.update(r.id, { state: 'deleting' });
    const job = await this.d.jobs.enqueue(JOB_DELETE, { vpsId: r.id }, { actor, resource: `vps:${r.id}` });
    await this.d.audit.record({ actor, action: 'vps.delete', target: { type: 'vps', id: r.id }, details: { hostname: r.hostname, job: job.id } });
    this.publish(r, 'deleting');
    return job;
  }

  // ---- resize, rename, reinstall (jobs) ----------------------------------------------------------

  /**
   * New sizes from a plan (the user role: public plans only) or custom values (staff). CPU and
   * memory change while shut off (the job stops and restarts a running VPS); the disk only grows.
   * The increase is checked against the owner's quota and the host's room, and written at once
   * (inside the same lock as creates); the job's undo restores the old sizes.
   */
  async resize(actor: Actor, id: string, input: ResizeVps): Promise<{ job: JobView; vps: VpsView }> {
    const r = await this.ready(actor, P.operate, id);
    const customer = ownedOnlyFor(actor, P.read);
    let target: { vcpus: number; memoryMb: number; diskGb: number; planId: string | null };
    if (input.planId !== undefined) {
      const plan = await this.d.repo.plan(input.planId);
      if (!plan || (customer && !plan.public)) throw new ValidationError(`No plan ${input.planId}`, { field: 'planId' });
      target = { vcpus: plan.vcpus, memoryMb: plan.memoryMb, diskGb: plan.diskGb, planId: plan.id };
    } else {
      if (customer) throw new ForbiddenError('Pick a plan: custom sizes are set by staff', 'forbidden', { field: 'planId' });
      target = { vcpus: input.vcpus ?? r.vcpus, memoryMb: input.memoryMb ?? r.memoryMb, diskGb: input.diskGb ?? r.diskGb, planId: r.planId };
    }
    if (target.diskGb < r.diskGb) throw new DomainRuleError(`The disk can only grow (it has ${r.diskGb} GB)`, 'disk_shrink', { field: 'diskGb', current: r.diskGb });
    if (target.vcpus === r.vcpus && target.memoryMb === r.memoryMb && target.diskGb === r.diskGb && target.planId === r.planId) throw new DomainRuleError('The VPS already has this size', 'no_change');
    const before = { vcpus: r.vcpus, memoryMb: r.memoryMb, diskGb: r.diskGb, planId: r.planId };
    const more = { vcpus: Math.max(0, target.vcpus - r.vcpus), memoryMb: Math.max(0, target.memoryMb - r.memoryMb), diskGb: target.diskGb - r.diskGb };
    return this.serial(async () => {
      await this.checkQuota(actor, r.ownerId, more, 0);
      if (more.vcpus || more.memoryMb || more.diskGb) {
        // The VPS stays on its host: the increase must fit there.
        const free = freeRoom(await this.d.hosts.capacity(r.hostId, r.hostId), this.ratios());
        const short = (['vcpus', 'memoryMb', 'diskGb'] as const).find((k) => more[k] > free[k]);
        if (short) throw new DomainRuleError(`The VPS's host has no room: the resize needs ${more[short]} more ${short}, ${Math.max(0, free[short])} are free`, 'no_capacity', { resource: short, requested: more[short], largestFree: Math.max(0, free[short]) });
      }
      await this.d.repo.setSizes(r.id, target);
      const job = await this.d.jobs.enqueue(JOB_RESIZE, { vpsId: r.id, before }, { actor, resource: `vps:${r.id}` });
      await this.d.audit.record({ actor, action: 'vps.resize', target: { type: 'vps', id: r.id }, details: { before, after: target, job: job.id } });
      this.publish(r, 'resizing', { job: job.id });
      return { job, vps: await this.get(actor, id) };
    });
  }

  /** The panel's name of the VPS, the domain's title and its DHCP reservation (the guest's own hostname stays until a reinstall). */
  async rename(actor: Actor, id: string, hostname: string): Promise<{ job: JobView; vps: VpsView }> {
    const r = await this.ready(actor, P.operate, id);
    const to = assertHostname(hostname);
    if (to === r.hostname) throw new DomainRuleError(`The VPS is already named ${to}`, 'no_change');
    return this.serial(async () => {
      if (await this.d.repo.findByHostname(r.ownerId, to)) throw new ConflictError(`A VPS named ${to} already exists`, { field: 'hostname' });
      const job = await this.d.jobs.enqueue(JOB_RENAME, { vpsId: r.id, from: r.hostname, to }, { actor, resource: `vps:${r.id}` });
      await this.d.audit.record({ actor, action: 'vps.rename', target: { type: 'vps', id: r.id }, details: { from: r.hostname, to, job: job.id } });
      return { job, vps: await this.get(actor, id) };
    });
  }

  /**
   * Erases the disk: a fresh overlay on the chosen image (the user role: public, ready images) and a
   * new NoCloud seed with a new instance-id, so cloud-init runs again with the keys and user-data
   * (the previous ones unless given). The hostname must be typed to confirm. Snapshots go with the
   * old disk. Everything is validated before the job exists; the job puts the old disk back on failure.
   */
  async reinstall(actor: Actor, id: string, input: ReinstallVps): Promise<{ job: JobView; vps: VpsView }> {
    const r = await this.ready(actor, P.operate, id);
    if (input.confirm !== r.hostname) throw new DomainRuleError(`Type the VPS's hostname (${r.hostname}) to confirm: its disk is erased`, 'confirmation_mismatch', { field: 'confirm' });
    const image = await this.d.repo.image(input.imageId);
    if (!image || (ownedOnlyFor(actor, P.read) && !image.public)) throw new ValidationError(`No image ${input.imageId}`, { field: 'imageId' });
    if (image.status !== 'ready') throw new DomainRuleError(`Image ${image.name} is ${image.status}`, 'image_not_ready');
    if (r.diskGb < image.minDiskGb || (image.virtualSize && r.diskGb * 1024 ** 3 < image.virtualSize)) throw new DomainRuleError(`Image ${image.name} needs more disk than the VPS has (${r.diskGb} GB)`, 'disk_too_small');
    const sshKeys = input.sshKeyIds !== undefined ? await this.ownerKeys(actor, r.ownerId, input.sshKeyIds) : r.spec.sshKeys;
    const userData = input.userData !== undefined ? input.userData : r.spec.userData;
    const instanceId = `${r.id}-${Date.now().toString(36)}`;
    buildSeedFiles({ instanceId, hostname: r.hostname, sshKeys, userData, network: { mac: r.mac, mode: 'dhcp' } });
    const job = await this.d.jobs.enqueue(JOB_REINSTALL, { vpsId: r.id, imageId: image.id, sshKeys, userData, instanceId }, { actor, resource: `vps:${r.id}` });
    await this.d.audit.record({ actor, action: 'vps.reinstall', target: { type: 'vps', id: r.id }, details: { image: image.name, keys: sshKeys.length, userData: !!userData, job: job.id } });
    this.publish(r, 'reinstalling', { job: job.id });
    return { job, vps: await this.get(actor, id) };
  }

  // ---- usage graphs ----------------------------------------------------------------------------

  async metrics(actor: Actor, id: string, range: MetricRange): Promise<VpsMetricsView> {
    const r = await this.load(actor, P.read, id);
    const { stepMs, points } = await this.d.metrics.history(r.id, range);
    const month = monthOf(Date.now());
    const bw = await this.d.metrics.bandwidth(r.id, month);
    const plan = r.planId ? await this.d.repo.plan(r.planId) : undefined;
    const limitBytes = plan && plan.bandwidthGb > 0 ? plan.bandwidthGb * 1024 ** 3 : null;
    const usedBytes = bw.rxBytes + bw.txBytes;
    return { range, stepMs, sampleIntervalMs: this.d.config.metricsIntervalMs, points, bandwidth: { month, ...bw, usedBytes, limitBytes, overLimit: limitBytes !== null && usedBytes >= limitBytes } };
  }

  /** One sample of every running VPS on the host (the module's `metrics` schedule). */
  async sampleMetrics(hostId: string, now = Date.now()): Promise<number> {
    const rows = (await this.d.repo.list()).filter((r) => r.hostId === hostId && !BUSY.has(r.state) && r.state !== 'failed');
    const running = rows.filter((r) => this.d.inventory.state(hostId, r.domainName) !== 'shut off');
    if (!running.length) return 0;
    const t = await this.d.hosts.get(hostId);
    const { points, bandwidth } = await this.d.metrics.sample(t.virsh, running.map((r) => ({ id: r.id, domainName: r.domainName, vcpus: r.vcpus })), now);
    const month = monthOf(now);
    for (const [vpsId, grown] of bandwidth) {
      const r = rows.find((x) => x.id === vpsId)!;
      const plan = r.planId ? await this.d.repo.plan(r.planId) : undefined;
      if (!plan?.bandwidthGb) continue;
      const limit = plan.bandwidthGb * 1024 ** 3;
      const bw = await this.d.metrics.bandwidth(vpsId, month);
      const used = bw.rxBytes + bw.txBytes;
      if (used >= limit && used - grown < limit) {
        this.publish(r, 'bandwidth.exceeded', { month, usedBytes: used, limitBytes: limit });
        await this.d.audit.record({ actor: SYSTEM_ACTOR, action: 'vps.bandwidth.exceeded', target: { type: 'vps', id: r.id }, details: { month, usedBytes: used, limitBytes: limit } });
      }
    }
    return points;
  }

  // ---- snapshots -----------------------------------------------------------------------------

  async snapshots(actor: Actor, id: string): Promise<SnapshotView[]> {
    const r = await this.load(actor, P.read, id);
    return this.d.repo.snapshots(r.id);
  }

  async snapshotCreate(actor: Actor, id: string, comment: string): Promise<SnapshotView> {
    const r = await this.ready(actor, P.operate, id);
    const plan = r.planId ? await this.d.repo.plan(r.planId) : undefined;
    const limit = plan?.maxSnapshots ?? 0;
    const existing = await this.d.repo.snapshots(r.id);
    if (existing.length >= limit) throw new DomainRuleError(`The plan allows ${limit} snapshot(s); delete one first`, 'snapshot_limit', { limit });
    const name = SNAPSHOT_NAME(existing.length + 1);
    const t = await this.d.hosts.get(r.hostId);
    await t.virsh.snapshotCreate(r.domainName, r.id, name, comment);
    const snap = { id: newId(), vpsId: r.id, name, comment };
    await this.d.repo.insertSnapshot(snap);
    await this.d.audit.record({ actor, action: 'vps.snapshot.create', target: { type: 'vps', id: r.id }, details: { snapshot: name, comment } });
    return (await this.d.repo.snapshots(r.id)).find((s) => s.id === snap.id)!;
  }

  private async snapshot(r: VpsRecord, snapshotId: string) {
    const s = (await this.d.repo.snapshots(r.id)).find((x) => x.id === snapshotId);
    if (!s) throw new NotFoundError('Snapshot', snapshotId);
    return s;
  }

  async snapshotRevert(actor: Actor, id: string, snapshotId: string): Promise<VpsView> {
    const r = await this.ready(actor, P.operate, id);
    const s = await this.snapshot(r, snapshotId);
    const t = await this.d.hosts.get(r.hostId);
    await t.virsh.snapshotRevert(r.domainName, r.id, s.name);
    this.d.inventory.set(r.hostId, r.domainName, (await t.virsh.domstate(r.domainName)).state);
    await this.d.audit.record({ actor, action: 'vps.snapshot.revert', target: { type: 'vps', id: r.id }, details: { snapshot: s.name } });
    return this.get(actor, id);
  }

  async snapshotDelete(actor: Actor, id: string, snapshotId: string): Promise<void> {
    const r = await this.ready(actor, P.operate, id);
    const s = await this.snapshot(r, snapshotId);
    const t = await this.d.hosts.get(r.hostId);
    try {
      await t.virsh.snapshotDelete(r.domainName, r.id, s.name);
    } catch (e) {
      if (!(e instanceof LibvirtError && e.kind === 'not_found')) throw e;
    }
    await this.d.repo.deleteSnapshot(s.id);
    await this.d.audit.record({ actor, action: 'vps.snapshot.delete', target: { type: 'vps', id: r.id }, details: { snapshot: s.name } });
  }

  // ---- expiry (the platform's lifecycle policy) ---------------------------------------------

  async setExpiry(actor: Actor, id: string, p: { expiresAt: number; notifyDays?: number; graceDays?: number; onExpiry?: 'shutdown' | 'suspend' }): Promise<VpsView> {
    authorize(actor, P['expiry.manage']);
    const r = await this.load(actor, P.read, id);
    await this.d.lifecycle.set(actor, r.id, { ...p, ownerId: r.ownerId });
    return this.get(actor, id);
  }
  async renew(actor: Actor, id: string, expiresAt: number): Promise<VpsView> {
    authorize(actor, P['expiry.manage']);
    const r = await this.load(actor, P.read, id);
    await this.d.lifecycle.renew(actor, r.id, expiresAt);
    return this.get(actor, id);
  }
  async clearExpiry(actor: Actor, id: string): Promise<VpsView> {
    authorize(actor, P['expiry.manage']);
    const r = await this.load(actor, P.read, id);
    await this.d.lifecycle.clear(actor, r.id);
    return this.get(actor, id);
  }

  /** The handlers VPS registers with the lifecycle policy (run as the system actor). */
  lifecycleHandlers(system: Actor) {
    return {
      expire: async (vpsId: string, how: 'shutdown' | 'suspend') => {
        const r = await this.d.repo.find(vpsId);
        if (!r || BUSY.has(r.state)) return;
        const t = await this.d.hosts.get(r.hostId);
        const s = (await t.virsh.domstate(r.domainName)).state;
        if (how === 'suspend' && s === 'running') await t.virsh.suspend(r.domainName, r.id);
        if (how === 'shutdown' && s !== 'shut off') await t.virsh.shutdownAndWait(r.domainName, r.id, this.d.config.shutdownTimeoutMs);
        const after = (await t.virsh.domstate(r.domainName)).state;
        this.d.inventory.set(r.hostId, r.domainName, after);
        await this.d.repo.update(r.id, { state: toVpsState(after) ?? 'unknown' });
      },
      remove: async (vpsId: string) => {
        const r = await this.d.repo.find(vpsId);
        if (!r || r.state === 'deleting') return;
        const job = await this.enqueueDelete(system, r);
        await this.d.jobs.waitFor(job.id, 10 * 60_000);
      },
      restore: async (vpsId: string, was: 'shutdown' | 'suspend') => {
        const r = await this.d.repo.find(vpsId);
        if (!r) return;
        const t = await this.d.hosts.get(r.hostId);
        const s = (await t.virsh.domstate(r.domainName)).state;
        if (was === 'suspend' && s === 'paused') await t.virsh.resume(r.domainName, r.id);
        if (was === 'shutdown' && s === 'shut off') await t.virsh.start(r.domainName, r.id);
        this.d.inventory.set(r.hostId, r.domainName, (await t.virsh.domstate(r.domainName)).state);
      },
    };
  }

  // ---- plans and quotas ----------------------------------------------------------------------

  async plans(actor: Actor): Promise<PlanView[]> {
    authorize(actor, P.read);
    return this.d.repo.plans(ownedOnlyFor(actor, P.read));
  }
  async createPlan(actor: Actor, input: PlanInput): Promise<PlanView> {
    authorize(actor, P['plans.manage']);
    if (await this.d.repo.planByName(input.name)) throw new ConflictError(`A plan named ${input.name} already exists`);
    const p = await this.d.repo.insertPlan(input);
    await this.d.audit.record({ actor, action: 'vps.plan.create', target: { type: 'vps_plan', id: p.id }, details: { ...input } });
    return p;
  }
  async getQuota(actor: Actor, userId: string): Promise<QuotaView> {
    authorize(actor, P['quotas.manage']);
    return this.quota(userId);
  }
  async setQuota(actor: Actor, userId: string, q: QuotaInput): Promise<QuotaView> {
    authorize(actor, P['quotas.manage']);
    if (!(await this.d.repo.db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst())) throw new NotFoundError('User', userId);
    await this.d.repo.setQuota(userId, q);
    await this.d.audit.record({ actor, action: 'vps.quota.set', target: { type: 'user', id: userId }, details: { ...q } });
    return this.quota(userId);
  }

  // ---- images --------------------------------------------------------------------------------

  imageView(i: ImageRecord): ImageView {
    return {
      id: i.id, name: i.name, status: i.status, reason: i.reason, os: i.os, version: i.version, minDiskGb: i.minDiskGb, cloudInit: i.cloudInit, public: i.public,
      sourceFormat: i.sourceFormat, sha256: i.sha256, sizeBytes: i.sizeBytes, virtualSize: i.virtualSize, directKernel: !!i.kernel, createdAt: i.createdAt, updatedAt: i.updatedAt,
    };
  }
  async images(actor: Actor): Promise<ImageView[]> {
    authorize(actor, P.read);
    return (await this.d.repo.images(ownedOnlyFor(actor, P.read))).map((i) => this.imageView(i));
  }
  async image(actor: Actor, id: string): Promise<ImageView> {
    authorize(actor, P.read);
    const i = await this.d.repo.image(id);
    if (!i || (ownedOnlyFor(actor, P.read) && (!i.public || i.status !== 'ready'))) throw new NotFoundError('Image', id);
    return this.imageView(i);
  }

  /**
   * Streams an upload to disk (never buffered whole) under the size limit, computing its SHA-256;
   * a mismatch with the given checksum, or an image qemu-img refuses (backing file, external data,
   * extents, encryption), answers 4xx with nothing kept. Accepted uploads are converted to qcow2
   * by a job; the image's status becomes `ready` or `failed` with a reason.
   */
  async uploadImage(actor: Actor, q: ImageQuery, body: Readable, h: { contentType?: string; contentLength?: string; checksum?: string }): Promise<{ image: ImageView; job: JobView }> {
    authorize(actor, P['images.manage']);
    if (!/^application\/octet-stream\b/i.test(h.contentType ?? '')) throw new UnsupportedMediaTypeError('Send the image as the raw request body with Content-Type: application/octet-stream');
    const max = this.d.config.maxUploadBytes;
    if (h.contentLength && Number(h.contentLength) > max) throw new PayloadTooLargeError(`The image is larger than the limit of ${max} bytes`, { limit: max });
    const checksum = h.checksum?.trim().toLowerCase();
    if (checksum !== undefined && !/^[0-9a-f]{64}$/.test(checksum)) throw new ValidationError('X-Checksum-Sha256 must be 64 hex digits', { field: 'X-Checksum-Sha256' });
    if (await this.d.repo.imageByName(q.name)) throw new ConflictError(`An image named ${q.name} already exists`);
    const sp = storagePaths(this.d.config.storageRoot);
    for (const f of [q.kernel, q.initrd]) if (f && !existsSync(path.join(sp.kernels, f))) throw new ValidationError(`No file ${f} in the kernels directory`, { field: 'kernel' });
    mkdirSync(sp.uploads, { recursive: true, mode: 0o700 });
    const id = newId();
    const upload = path.join(sp.uploads, `${id}.upload`);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (size > max) return cb(new PayloadTooLargeError(`The image is larger than the limit of ${max} bytes`, { limit: max }));
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(body, meter, createWriteStream(upload, { mode: 0o600, flags: 'wx' }));
      const sha256 = hash.digest('hex');
      if (size === 0) throw new ValidationError('The upload is empty');
      if (checksum && checksum !== sha256) throw new DomainRuleError(`SHA-256 mismatch: the upload is ${sha256}, X-Checksum-Sha256 says ${checksum}`, 'checksum_mismatch', { actual: sha256, expected: checksum });
      const t = await this.d.hosts.get(LOCAL_HOST_ID);
      const info = await t.qemuImg.inspectUntrusted(upload);
      if (info.virtualSize > q.minDiskGb * 1024 ** 3 * 64) throw new DomainRuleError('The image is implausibly large for its minimum disk', 'image_refused');
      const img = await this.d.repo.insertImage({
        id, name: q.name, status: 'converting', reason: null, os: q.os ?? null, version: q.version ?? null, minDiskGb: q.minDiskGb, cloudInit: q.cloudInit === 'true', public: q.public === 'true',
        sourceFormat: info.format, sha256, sizeBytes: size, virtualSize: info.virtualSize, file: null, kernel: q.kernel ?? null, initrd: q.initrd ?? null, cmdline: q.cmdline ?? null,
      });
      const job = await this.d.jobs.enqueue(JOB_IMAGE, { imageId: id, upload }, { actor, resource: `vps-image:${id}` });
      await this.d.audit.record({ actor, action: 'vps.image.upload', target: { type: 'vps_image', id }, details: { name: q.name, sha256, size, format: info.format, job: job.id } });
      return { image: this.imageView(img), job };
    } catch (e) {
      rmSync(upload, { force: true });
      body.resume();
      throw e;
    }
  }

  async deleteImage(actor: Actor, id: string): Promise<void> {
    authorize(actor, P['images.manage']);
    const i = await this.d.repo.image(id);
    if (!i) throw new NotFoundError('Image', id);
    if (await this.d.repo.imageInUse(id)) throw new ConflictError(`Image ${i.name} is used by VPSes (their disks are overlays on it)`);
    if (i.file) rmSync(i.file, { force: true });
    await this.d.repo.deleteImage(id);
    await this.d.audit.record({ actor, action: 'vps.image.delete', target: { type: 'vps_image', id }, details: { name: i.name } });
  }

  // ---- hosts ---------------------------------------------------------------------------------

  async unmanaged(actor: Actor): Promise<{ hostId: string; name: string; state: string; managed: false }[]> {
    authorize(actor, P['hosts.read']);
    const out: { hostId: string; name: string; state: string; managed: false }[] = [];
    for (const hostId of this.d.hosts.hostIds()) {
      const ours = await this.d.repo.domainNames(hostId);
      const t = await this.d.hosts.get(hostId);
      for (const d of await t.virsh.listAll()) {
        if (ours.has(d.name)) continue;
        const desc = await t.virsh.describe(d.name).catch(() => null);
        if (desc && desc.slipway) continue; // ours, of another panel or a deleted record: still not listed as foreign
        out.push({ hostId, name: d.name, state: d.state, managed: false });
      }
    }
    return out;
  }

  async capacity(actor: Actor) {
    authorize(actor, P['hosts.read']);
    const ratios = this.ratios();
    return (await this.capacities()).map((c) => ({
      hostId: c.hostId, name: c.name, cpus: c.cpus, memoryMb: c.memoryMb, diskGb: c.diskGb, allocated: c.allocated,
      free: { vcpus: Math.floor(c.cpus * ratios.cpu) - c.allocated.vcpus, memoryMb: Math.floor(c.memoryMb * ratios.memory) - c.allocated.memoryMb, diskGb: Math.floor(c.diskGb * ratios.disk) - c.allocated.diskGb },
      accel: null,
    }));
  }

  // ---- consoles ------------------------------------------------------------------------------

  /**
   * Authorises a console and finds where it is: the serial pty or the VNC port, on loopback. On a
   * remote host the panel reaches the same loopback VNC port through an SSH forward and the serial
   * console through `virsh console` on an SSH pty (`open`); the node's address never leaves the panel.
   */
  async consoleTarget(actor: Actor, id: string, kind: 'serial' | 'vnc'): Promise<{ vps: VpsRecord; pty?: string; port?: number; open?: () => Promise<Duplex> }> {
    const r = await this.ready(actor, P.operate, id);
    const t = await this.d.hosts.get(r.hostId);
    const { uuid, description } = await t.virsh.assertOwned(r.domainName, r.id);
    const remote = r.hostId !== LOCAL_HOST_ID;
    if (remote && (!t.run.openTcp || !t.run.openInteractive)) throw new DomainRuleError(`Host ${r.hostId}'s runner cannot carry a console`, 'console_unavailable');
    if (kind === 'serial') {
      if (!description.serialPty || !/^\/dev\/pts\/\d{1,6}$/.test(description.serialPty)) throw new ConflictError('The VPS is not running (no serial console)');
      if (remote) return { vps: r, open: () => t.run.openInteractive!('virsh', ['-q', '-c', this.d.config.libvirtUri, 'console', '--force', `--domain=${uuid}`]) };
      return { vps: r, pty: description.serialPty };
    }
    const vnc = description.vnc;
    if (!vnc?.port || vnc.listen !== '127.0.0.1') throw new ConflictError('The VPS has no VNC console on loopback (is it running?)');
    if (!Number.isInteger(vnc.port) || vnc.port < 5900 || vnc.port > 65535) throw new ConflictError('The VPS has no usable VNC port');
    if (remote) return { vps: r, open: () => t.run.openTcp!(vnc.port!) };
    return { vps: r, port: vnc.port };
  }

  async auditConsole(actor: Actor, r: VpsRecord, kind: 'serial' | 'vnc', phase: 'open' | 'close', details: Record<string, unknown> = {}): Promise<void> {
    await this.d.audit.record({ actor, action: `vps.console.${phase}`, target: { type: 'vps', id: r.id }, details: { kind, ...details } });
  }
}
