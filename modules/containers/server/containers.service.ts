import {
  type Actor, type AuditLog, authorize, ConflictError, DomainRuleError, ForbiddenError, type HostnameClaims,
  type HostRegistry, type JobService, type JobView, listScope, LOCAL_HOST_ID, NotFoundError, type Permission,
  resource, ValidationError,
} from '../../../server/src/sdk.js';
import { DockerCli } from './docker.cli.js';
import type { ContainersGuard } from './containers.guard.js';
import { containersPermissions as P } from './containers.permissions.js';
import { checkHostPath, isHostPath, isSecretEnv, limitIssues, maskArgs, secretValues, serviceUsage, unmaskArgs } from './containers.policy.js';
import type { ServiceRecord, ServiceSpec, ServicesRepo } from './containers.repo.js';
import { SECRET_MASK, type ContainerSpec, type CreateService, type ServiceView, type UpdateService, type WakeRecord, CreateService as CreateServiceSchema } from './containers.schema.js';
import { containerResource, JOB_CREATE, JOB_DELETE, JOB_UPDATE } from './containers.jobs.js';
import { LABEL_CONTAINER, LABEL_SERVICE, dockerReason, type ContainerState, type ContainerSummary, type DockerClient, type StatsSample } from './docker.client.js';
import { ForeignContainerError, StartRefusedError, WakeError, containerName, ownContainer, type WakeController } from './wake.controller.js';
import type { StatsHistory, StatsPoint } from './stats.history.js';

/** What the Docker views need of a host's engine (the socket client locally, the CLI remotely). */
type HostDocker = {
  listContainers(): Promise<ContainerSummary[]>;
  listImages(): Promise<{ id: string; tags: string[]; sizeBytes: number; createdAt: number }[]>;
  inspect(id: string): Promise<{ id: string; name: string } | null>;
  inspectRaw(id: string): Promise<unknown>;
  start(id: string): Promise<void>;
  stop(id: string, timeoutSeconds?: number): Promise<void>;
  restart(id: string): Promise<void>;
  logs(id: string, opts: { follow: boolean; tail?: number | 'all'; since?: string }, onLine: (l: { stream: 'stdout' | 'stderr'; line: string }) => void): Promise<{ stop(): void; done: Promise<void> }>;
  stats(id: string, onSample: (s: StatsSample) => void): Promise<{ stop(): void }>;
};

type Issue = { path: string; message: string };
const HOUR = 3_600_000;

/** The rules of container services: ownership, permissions, validation, tenant isolation, quotas, audit; long work as jobs. */
export class ContainersService {
  /** Quota checks of one owner run one at a time (check + store), so parallel requests cannot all pass. */
  private readonly ownerLocks = new Map<string, Promise<unknown>>();
  /** Specs of update jobs not yet applied: quotas count the larger of stored and pending. */
  private readonly pending = new Map<string, ServiceSpec>();
  /** Image pulls each owner caused in the last hour (in memory: a panel restart forgets them). */
  private readonly pulls = new Map<string, number[]>();

  constructor(
    private readonly d: { repo: ServicesRepo; jobs: JobService; audit: AuditLog; controller: WakeController; docker: DockerClient; hosts: HostRegistry; guard: ContainersGuard; hostnames: HostnameClaims; stats?: StatsHistory },
  ) {}

  /** The last hour of a service's CPU, memory and network (the user role sees its own; a foreign one is 404). */
  async statsHistory(actor: Actor, id: string, since?: number): Promise<{ intervalMs: number; running: boolean; points: StatsPoint[] }> {
    const r = await this.load(actor, P.read, id);
    const state = this.d.controller.state(r.id) ?? r.state;
    return { intervalMs: this.d.stats?.intervalMs ?? 0, running: state === 'running', points: this.d.stats?.points(r.id, since) ?? [] };
  }

  /** One sweep of the stats history: each running service's HTTP container (its own, never a foreign one). */
  async sampleStats(): Promise<number> {
    const stats = this.d.stats;
    if (!stats) return 0;
    const all = await this.d.repo.list();
    const byId = new Map(all.map((r) => [r.id, r]));
    return stats.sweep(all.map((r) => ({ id: r.id, running: (this.d.controller.state(r.id) ?? r.state) === 'running' })), async (id) => {
      const r = byId.get(id)!;
      const c = await ownContainer(this.d.docker, r.id, r.spec.http.container).catch(() => null);
      return c?.running ? this.d.docker.statsOnce(c.id) : null;
    });
  }

  /** The service, authorized for `permission` (a foreign or missing one is 404 for an owned-only role). */
  private async load(actor: Actor, permission: Permission, id: string): Promise<ServiceRecord> {
    return authorize(actor, permission, resource('Service', id, await this.d.repo.find(id), (r) => r.ownerId));
  }

  view(r: ServiceRecord, lastColdStart: WakeRecord | null = null): ServiceView {
    const state = this.d.controller.state(r.id) ?? r.state;
    return {
      id: r.id,
      name: r.name,
      hostId: r.hostId,
      ownerId: r.ownerId,
      hostnames: r.spec.hostnames,
      containers: r.spec.containers.map((c) => maskContainer(c)),
      http: r.spec.http,
      restartPolicy: r.spec.restartPolicy,
      sleep: r.spec.sleep,
      startTimeoutSeconds: r.spec.startTimeoutSeconds,
      stopTimeoutSeconds: r.spec.stopTimeoutSeconds ?? 10,
      state,
      lastError: r.lastError,
      wakeCount: r.wakeCount,
      sleepCount: r.sleepCount,
      lastActivityAt: this.d.controller.lastActivity(r.id) ?? r.lastActivityAt,
      lastWakeAt: r.lastWakeAt,
      lastColdStart: lastColdStart && lastColdStart.outcome === 'ready' ? { firstByteMs: lastColdStart.firstByteMs, startToReadyMs: lastColdStart.startToReadyMs ?? 0 } : null,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
    };
  }

  async list(actor: Actor): Promise<ServiceView[]> {
    authorize(actor, P.read);
    return (await this.d.repo.list(listScope(actor, P.read))).map((r) => this.view(r));
  }

  async get(actor: Actor, id: string): Promise<ServiceView> {
    const seen = await this.load(actor, P.read, id);
    // Read again once a wake or sleep under way has settled (same service: already authorized).
    await this.d.controller.settled(id);
    const r = (await this.d.repo.find(id)) ?? seen;
    const [last] = await this.d.repo.wakes(id, 1);
    return this.view(r, last ?? null);
  }

  async wakes(actor: Actor, id: string, limit: number): Promise<WakeRecord[]> {
    await this.load(actor, P.read, id);
    await this.d.controller.settled(id);
    return this.d.repo.wakes(id, limit);
  }

  /**
   * Hostnames are owned across modules (the platform's claims, shared with sites and apps): a name
   * another owner holds answers 409 `hostname_taken` without saying whose, the panel's own 409
   * `hostname_reserved`; only then is it checked that no other service of the owner routes it.
   */
  private async checkHostnames(actor: Actor, ownerId: string | null, hostnames: string[], exceptId?: string): Promise<void> {
    const resource = exceptId ? containerResource(exceptId) : null;
    for (const h of hostnames) {
      // A name the service holds already stays its own (also one recorded before claims existed).
      if (resource && (await this.d.hostnames.get(h))?.resources.includes(resource)) continue;
      await this.d.hostnames.check(actor, h, { ownerId });
    }
    const taken = new Map<string, string>();
    for (const s of await this.d.repo.list()) if (s.id !== exceptId) for (const h of s.spec.hostnames) taken.set(h, s.name);
    const clash = hostnames.filter((h) => taken.has(h));
    if (clash.length) throw new ConflictError(`Hostname ${clash[0]} is already used by service ${taken.get(clash[0]!)}`, { hostnames: clash });
  }

  /**
   * Records the service's hostnames as its owner's (idempotent for names it holds already); a name
   * claimed meanwhile by someone else fails with 409 and the names claimed here are let go again.
   * Names a change no longer uses are released by the update job once it applied (or abandoned) it.
   */
  private async claimHostnames(actor: Actor, ownerId: string | null, serviceId: string, hostnames: readonly string[]): Promise<void> {
    const resource = containerResource(serviceId);
    const added: string[] = [];
    try {
      for (const h of hostnames) {
        if ((await this.d.hostnames.get(h))?.resources.includes(resource)) continue;
        await this.d.hostnames.claim(actor, h, resource, { ownerId });
        added.push(h);
      }
    } catch (e) {
      for (const h of added) await this.d.hostnames.release(h, resource);
      throw e;
    }
  }

  /** Services stored before hostnames were claimed hold their names from the start (never throws on a conflict). */
  async recordHostnameClaims(): Promise<void> {
    for (const r of await this.d.repo.list()) {
      for (const h of r.spec.hostnames) await this.d.hostnames.record(h, r.ownerId, containerResource(r.id));
    }
  }

  async create(actor: Actor, input: CreateService): Promise<{ service: ServiceView; job: JobView }> {
    authorize(actor, P.create);
    if (input.hostId !== LOCAL_HOST_ID) throw new DomainRuleError('Services run on the local Docker engine for now', 'host_unsupported');
    const ownerId = actor.kind === 'system' ? null : actor.userId;
    this.checkTenantRules(actor, input.containers);
    return this.withOwnerLock(ownerId, async () => {
      if (await this.d.repo.findByName(input.name)) throw new ConflictError(`A service named ${input.name} already exists`);
      await this.checkHostnames(actor, ownerId, input.hostnames);
      const { name, hostId, ...rest } = input;
      const spec: ServiceSpec = { ...rest, http: { container: input.http.container ?? input.containers[0]!.name, port: input.http.port } };
      const pulls = await this.checkQuotas(actor, ownerId, undefined, spec);
      const record = await this.d.repo.insert({ name, hostId, ownerId, spec, state: 'creating' });
      await this.claimHostnames(actor, ownerId, record.id, spec.hostnames).catch(async (e: unknown) => {
        await this.d.repo.delete(record.id);
        throw e;
      });
      const job = await this.d.jobs.launch(actor, {
        type: JOB_CREATE, input: { serviceId: record.id, name }, resource: containerResource(record.id),
        audit: { action: 'containers.create', target: { type: 'container', id: record.id, name }, details: { name, hostnames: spec.hostnames, images: spec.containers.map((c) => c.image) } },
      });
      this.recordPulls(ownerId, pulls);
      return { service: this.view(record), job };
    });
  }

  async update(actor: Actor, id: string, patch: UpdateService): Promise<{ service: ServiceView; job: JobView }> {
    const r = await this.load(actor, P.update, id);
    if (r.state === 'creating' || r.state === 'deleting') throw new ConflictError(`The service is ${r.state}`);
    if (patch.hostnames) await this.checkHostnames(actor, r.ownerId, patch.hostnames, id);
    const containers = patch.containers ? this.keepMaskedValues(r, patch.containers) : undefined;
    const merged = { name: r.name, hostId: r.hostId, ...r.spec, ...patch, ...(containers ? { containers } : {}), http: { ...r.spec.http, ...(patch.http ?? {}) } };
    const checked = CreateServiceSchema.safeParse(merged);
    if (!checked.success) throw new ValidationError('The changed service is not valid', { issues: checked.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
    // The whole resulting definition is checked, not only what changed: a stored host bind needs an admin too.
    this.checkTenantRules(actor, checked.data.containers);
    const { name: _n, hostId: _h, ...rest } = checked.data;
    const spec: ServiceSpec = { ...rest, http: { container: checked.data.http.container ?? checked.data.containers[0]!.name, port: checked.data.http.port } };
    return this.withOwnerLock(r.ownerId, async () => {
      const pulls = await this.checkQuotas(actor, r.ownerId, id, spec);
      await this.claimHostnames(actor, r.ownerId, id, spec.hostnames);
      const job = await this.d.jobs.launch(actor, {
        type: JOB_UPDATE, input: { serviceId: id, name: r.name, spec }, resource: containerResource(id),
        audit: { action: 'containers.update', target: { type: 'container', id, name: r.name }, details: { name: r.name, changed: Object.keys(patch) } },
      });
      this.pending.set(id, spec);
      this.recordPulls(r.ownerId, pulls);
      return { service: this.view(r), job };
    });
  }

  /**
   * A value sent back as the mask keeps the stored value only on the same entry: same container,
   * same name, same secret flag as the reader was shown. Anything else would move a secret to where
   * readers see it (e.g. the mask with `secret: false`), so it is refused (422) and nothing changes.
   */
  private keepMaskedValues(r: ServiceRecord, next: ContainerSpec[]): ContainerSpec[] {
    const issues: Issue[] = [];
    const out = next.map((c, ci) => {
      const before = r.spec.containers.find((o) => o.name === c.name);
      const env = c.env.map((e, ei) => {
        if (e.value !== SECRET_MASK) return e;
        const prev = before?.env.find((o) => o.name === e.name);
        if (!prev || isSecretEnv(prev) !== e.secret) {
          issues.push({ path: `containers.${ci}.env.${ei}.value`, message: `the masked value of ${e.name} can only be kept on the same entry (same container, name and secret flag); type the value again` });
          return e;
        }
        return { ...e, value: prev.value };
      });
      if (!before) return { ...c, env };
      const secrets = secretValues(before.env);
      const command = c.command ? unmaskArgs(c.command, before.command, secrets) : undefined;
      const hc = c.healthCheck?.type === 'docker' && before.healthCheck?.type === 'docker' ? { ...c.healthCheck, test: unmaskArgs(c.healthCheck.test, before.healthCheck.test, secrets) } : c.healthCheck;
      return { ...c, env, ...(command ? { command } : {}), ...(hc ? { healthCheck: hc } : {}) };
    });
    if (issues.length) throw new DomainRuleError(issues.map((i) => i.message).join('; '), 'secret_mask_mismatch', { issues });
    return out;
  }

  /**
   * Volumes and limits (the schema only checks shapes; these are the rules): anyone but an admin
   * uses named volumes only (403); an admin's host path must resolve under an allowed root and
   * away from protected paths (422); limits stay within the configured maxima (422).
   */
  private checkTenantRules(actor: Actor, containers: readonly ContainerSpec[]): void {
    const forbidden: Issue[] = [];
    const invalid: Issue[] = [];
    containers.forEach((c, ci) => c.volumes.forEach((v, vi) => {
      if (!isHostPath(v.source)) return;
      const at = `containers.${ci}.volumes.${vi}.source`;
      if (actor.role !== 'admin') {
        forbidden.push({ path: at, message: `${v.source} is a host path: only admins may mount host paths; use a volume name such as "data"` });
        return;
      }
      const checked = checkHostPath(v.source, this.d.guard.hostPathRules());
      if (!checked.ok) invalid.push({ path: at, message: checked.reason });
    }));
    if (forbidden.length) throw new ForbiddenError(forbidden.map((i) => i.message).join('; '), 'host_path_forbidden', { issues: forbidden });
    // Host ports are shared by every tenant (and reach past Caddy): staff publish them, customers use hostnames.
    if (actor.role !== 'admin' && actor.role !== 'operator') {
      const ports = containers.flatMap((c, ci) => (c.ports.length ? [{ path: `containers.${ci}.ports`, message: 'publishing host ports is for operators and admins; visitors reach the service through its hostnames' }] : []));
      if (ports.length) throw new ForbiddenError(ports[0]!.message, 'host_port_forbidden', { issues: ports });
    }
    if (invalid.length) throw new DomainRuleError(invalid.map((i) => i.message).join('; '), 'host_path_not_allowed', { issues: invalid });
    // The fixed ports of the services' HTTP containers: a published port there could take a sleeping service's traffic.
    const range = this.d.guard.config.httpPortRange;
    const reserved = range ? containers.flatMap((c, ci) => c.ports.flatMap((p, pi) => (p.hostPort >= range.from && p.hostPort <= range.to ? [{ path: `containers.${ci}.ports.${pi}.hostPort`, message: `host ports ${range.from}-${range.to} are reserved for the services' HTTP containers` }] : []))) : [];
    if (reserved.length) throw new DomainRuleError(reserved[0]!.message, 'host_port_reserved', { issues: reserved });
    const limits = limitIssues(containers, this.d.guard.config);
    if (limits.length) throw new DomainRuleError(`Resource limits above the maximum: ${limits.map((i) => `${i.path} ${i.message}`).join('; ')}`, 'resource_limit', { issues: limits });
  }

  private async withOwnerLock<T>(ownerId: string | null, fn: () => Promise<T>): Promise<T> {
    const key = ownerId ?? '\u0000system';
    const prev = this.ownerLocks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => {});
    this.ownerLocks.set(key, tail);
    void tail.then(() => {
      if (this.ownerLocks.get(key) === tail) this.ownerLocks.delete(key);
    });
    return run;
  }

  /**
   * Per-owner quotas (services, memory, CPU, image pulls); admins and what admins own are exempt.
   * Returns the images this request makes the host pull (counted once the job is queued).
   */
  private async checkQuotas(actor: Actor, ownerId: string | null, serviceId: string | undefined, spec: ServiceSpec): Promise<string[]> {
    if (actor.role === 'admin' || (await this.d.guard.ownerIsAdmin(ownerId))) return [];
    const cfg = this.d.guard.config;
    const others = (await this.d.repo.list(ownerId!)).filter((s) => s.id !== serviceId);
    const fail = (what: string, message: string, limit: number, used: number, requested: number) => {
      throw new DomainRuleError(message, 'quota_exceeded', { quota: what, limit, used, requested });
    };
    if (!serviceId && others.length + 1 > cfg.quotaServices) fail('services', `Quota reached: at most ${cfg.quotaServices} services per user (you have ${others.length})`, cfg.quotaServices, others.length, 1);
    let memoryMb = 0;
    let cpus = 0;
    for (const s of others) {
      const stored = serviceUsage(s.spec.containers, cfg);
      const pending = this.pending.get(s.id);
      const p = pending ? serviceUsage(pending.containers, cfg) : stored;
      memoryMb += Math.max(stored.memoryMb, p.memoryMb);
      cpus += Math.max(stored.cpus, p.cpus);
    }
    const want = serviceUsage(spec.containers, cfg);
    if (memoryMb + want.memoryMb > cfg.quotaMemoryMb) fail('memoryMb', `Quota reached: at most ${cfg.quotaMemoryMb} MB of memory per user (${memoryMb} MB in use by other services, ${want.memoryMb} MB asked)`, cfg.quotaMemoryMb, memoryMb, want.memoryMb);
    if (Math.round((cpus + want.cpus) * 1000) > Math.round(cfg.quotaCpus * 1000)) fail('cpus', `Quota reached: at most ${cfg.quotaCpus} CPUs per user (${cpus} in use by other services, ${want.cpus} asked)`, cfg.quotaCpus, cpus, want.cpus);
    const missing: string[] = [];
    for (const image of new Set(spec.containers.map((c) => c.image))) if (!(await this.d.docker.imageExists(image).catch(() => false))) missing.push(image);
    if (missing.length) {
      const recent = this.recentPulls(ownerId);
      if (recent + missing.length > cfg.quotaImagePullsPerHour) fail('imagePulls', `Quota reached: at most ${cfg.quotaImagePullsPerHour} image pulls per user an hour (${recent} in the last hour; this needs ${missing.join(', ')})`, cfg.quotaImagePullsPerHour, recent, missing.length);
    }
    return missing;
  }

  private recentPulls(ownerId: string | null): number {
    const key = ownerId ?? '';
    const since = Date.now() - HOUR;
    const list = (this.pulls.get(key) ?? []).filter((t) => t > since);
    this.pulls.set(key, list);
    return list.length;
  }

  private recordPulls(ownerId: string | null, images: string[]): void {
    if (!images.length) return;
    const key = ownerId ?? '';
    const list = this.pulls.get(key) ?? [];
    for (const _ of images) list.push(Date.now());
    this.pulls.set(key, list);
  }

  async remove(actor: Actor, id: string, confirm: string): Promise<JobView> {
    const r = await this.load(actor, P.delete, id);
    if (confirm !== r.name) throw new DomainRuleError(`Type the service's name (${r.name}) to confirm`, 'confirmation_required');
    if (r.state === 'deleting') throw new ConflictError('The service is already being deleted');
    return this.d.jobs.launch(actor, {
      type: JOB_DELETE, input: { serviceId: id, name: r.name }, resource: containerResource(id),
      audit: { action: 'containers.delete', target: { type: 'container', id, name: r.name }, details: { name: r.name } },
    });
  }

  async wake(actor: Actor, id: string): Promise<ServiceView> {
    const r = await this.load(actor, P.power, id);
    try {
      await this.d.controller.wake(id, 'manual');
      await this.d.audit.record({ actor, action: 'containers.wake', target: { type: 'container', id }, details: { name: r.name } });
    } catch (e) {
      await this.d.audit.record({ actor, action: 'containers.wake', target: { type: 'container', id }, outcome: 'failure', details: { name: r.name, error: (e as Error).message } });
      if (e instanceof StartRefusedError) throw new DomainRuleError(e.message, 'start_refused');
      if (e instanceof ForeignContainerError) throw new DomainRuleError(e.message, 'foreign_container');
      if (e instanceof WakeError) throw new DomainRuleError(e.message, e.status === 504 ? 'wake_timeout' : 'wake_failed');
      throw e;
    }
    return this.get(actor, id);
  }

  async sleep(actor: Actor, id: string): Promise<ServiceView> {
    const r = await this.load(actor, P.power, id);
    await this.d.controller.sleep(id, 'manual');
    await this.d.audit.record({ actor, action: 'containers.sleep', target: { type: 'container', id }, details: { name: r.name } });
    return this.get(actor, id);
  }

  /** One of the service's containers: it must exist and carry the service's label. */
  async serviceContainer(actor: Actor, id: string, container?: string): Promise<ContainerState> {
    const r = await this.load(actor, P.read, id);
    const name = container ?? r.spec.http.container;
    if (!r.spec.containers.some((c) => c.name === name)) throw new NotFoundError('Container', name);
    let s: ContainerState | null;
    try {
      s = await ownContainer(this.d.docker, r.id, name);
    } catch (e) {
      throw new DomainRuleError((e as Error).message, 'foreign_container');
    }
    if (!s) throw new NotFoundError('Container', containerName(r.id, name));
    return s;
  }

  // ---- Docker management (any container on the host; Slipway's own are marked) ----

  /** The local engine through its socket; a remote host through the docker CLI over its SSH runner. */
  private async dockerFor(hostId: string): Promise<HostDocker> {
    if (hostId === LOCAL_HOST_ID) return this.d.docker;
    return new DockerCli(await this.d.hosts.runner(hostId));
  }

  async dockerContainers(actor: Actor, hostId: string): Promise<ContainerSummary[]> {
    authorize(actor, P['docker.read']);
    return (await this.dockerFor(hostId)).listContainers();
  }

  async dockerImages(actor: Actor, hostId: string) {
    authorize(actor, P['docker.read']);
    return (await this.dockerFor(hostId)).listImages();
  }

  async dockerInspect(actor: Actor, hostId: string, containerId: string): Promise<Record<string, unknown>> {
    authorize(actor, P['docker.read']);
    const docker = await this.dockerFor(hostId);
    let raw: InspectDoc;
    try {
      raw = (await docker.inspectRaw(containerId)) as InspectDoc;
    } catch {
      throw new NotFoundError('Container', containerId);
    }
    // Environment values may hold secrets: names only. argv is masked where it carries them.
    const env = (raw.Config?.Env ?? []).map((e) => ({ name: e.split('=')[0]!, value: e.slice(e.indexOf('=') + 1) }));
    const secrets = [...secretValues(env), ...(await this.storedSecrets(raw.Config?.Labels ?? {}))];
    if (raw.Config?.Env) raw.Config.Env = env.map((e) => `${e.name}=${SECRET_MASK}`);
    const mask = (a: unknown) => (Array.isArray(a) ? maskArgs(a.map(String), secrets) : a);
    if (raw.Config) {
      if (raw.Config.Cmd) raw.Config.Cmd = mask(raw.Config.Cmd) as string[];
      if (raw.Config.Entrypoint) raw.Config.Entrypoint = mask(raw.Config.Entrypoint) as string[];
      if (raw.Config.Healthcheck?.Test) raw.Config.Healthcheck.Test = mask(raw.Config.Healthcheck.Test) as string[];
    }
    if (raw.Args) raw.Args = mask(raw.Args) as string[];
    if (typeof raw.Path === 'string') raw.Path = maskArgs([raw.Path], secrets)[0]!;
    return raw as Record<string, unknown>;
  }

  /** Secret values of a Slipway container's stored definition (by its labels), to hide in argv. */
  private async storedSecrets(labels: Record<string, string>): Promise<string[]> {
    const sid = labels[LABEL_SERVICE];
    if (!sid) return [];
    const r = await this.d.repo.find(sid);
    const c = r?.spec.containers.find((x) => x.name === labels[LABEL_CONTAINER]);
    return c ? secretValues(c.env) : [];
  }

  async dockerAction(actor: Actor, hostId: string, containerId: string, action: 'start' | 'stop' | 'restart', confirm?: string): Promise<void> {
    authorize(actor, P['docker.manage']);
    const docker = await this.dockerFor(hostId);
    const s = await docker.inspect(containerId);
    if (!s) throw new NotFoundError('Container', containerId);
    if (action !== 'start' && confirm !== s.name) throw new DomainRuleError(`Type the container's name (${s.name}) to confirm`, 'confirmation_required');
    try {
      if (action === 'start') await docker.start(s.id);
      else if (action === 'stop') await docker.stop(s.id);
      else await docker.restart(s.id);
      await this.d.audit.record({ actor, action: `containers.docker.${action}`, target: { type: 'docker-container', id: s.id }, details: { name: s.name, hostId } });
    } catch (e) {
      await this.d.audit.record({ actor, action: `containers.docker.${action}`, target: { type: 'docker-container', id: s.id }, outcome: 'failure', details: { name: s.name, hostId, error: dockerReason(e) } });
      throw new DomainRuleError(`Docker refused to ${action} ${s.name}: ${dockerReason(e)}`, 'docker_error');
    }
  }

  async dockerLogs(actor: Actor, hostId: string, containerId: string, onLine: (l: { stream: string; line: string }) => void, opts: { follow: boolean; tail: number | 'all'; since?: string }) {
    authorize(actor, P['docker.read']);
    const docker = await this.dockerFor(hostId);
    if (!(await docker.inspect(containerId))) throw new NotFoundError('Container', containerId);
    return docker.logs(containerId, opts, onLine);
  }

  async dockerStats(actor: Actor, hostId: string, containerId: string, onSample: (s: StatsSample) => void) {
    authorize(actor, P['docker.read']);
    const docker = await this.dockerFor(hostId);
    if (!(await docker.inspect(containerId))) throw new NotFoundError('Container', containerId);
    return docker.stats(containerId, onSample);
  }

  /** Logs/stats of a service's own container (the user role may see its own). */
  async serviceLogs(actor: Actor, id: string, container: string | undefined, onLine: (l: { stream: string; line: string }) => void, opts: { follow: boolean; tail: number | 'all'; since?: string }) {
    const s = await this.serviceContainer(actor, id, container);
    return this.d.docker.logs(s.id, opts, onLine);
  }

  async serviceStats(actor: Actor, id: string, container: string | undefined, onSample: (s: StatsSample) => void) {
    const s = await this.serviceContainer(actor, id, container);
    if (!s.running) throw new DomainRuleError('The container is not running (the service sleeps)', 'not_running');
    return this.d.docker.stats(s.id, onSample);
  }
}

interface InspectDoc {
  Path?: string;
  Args?: string[];
  Config?: { Env?: string[]; Cmd?: string[] | null; Entrypoint?: string[] | null; Labels?: Record<string, string> | null; Healthcheck?: { Test?: string[] } };
}

/** A container as readers see it: secret-looking env values and the argv that carries secrets masked. */
function maskContainer(c: ContainerSpec): ContainerSpec {
  const secrets = secretValues(c.env);
  return {
    ...c,
    env: c.env.map((e) => (isSecretEnv(e) ? { ...e, secret: true, value: SECRET_MASK } : e)),
    ...(c.command ? { command: maskArgs(c.command, secrets) } : {}),
    ...(c.healthCheck?.type === 'docker' ? { healthCheck: { ...c.healthCheck, test: maskArgs(c.healthCheck.test, secrets) } } : {}),
  };
}
