import type { AuditLog } from '../../../server/src/platform/audit/audit.service.js';
import { ConflictError, DomainRuleError, NotFoundError, ValidationError } from '../../../server/src/platform/errors.js';
import type { JobService, JobView } from '../../../server/src/platform/jobs/types.js';
import { ownerScope, requirePermission, type Actor } from '../../../server/src/platform/rbac/permissions.js';
import { LOCAL_HOST_ID, type HostRegistry } from '../../../server/src/platform/hosts/host-registry.js';
import { DockerCli } from './docker.cli.js';
import { containersPermissions as P } from './containers.permissions.js';
import type { ServiceRecord, ServiceSpec, ServicesRepo } from './containers.repo.js';
import { SECRET_MASK, type CreateService, type ServiceView, type UpdateService, type WakeRecord, CreateService as CreateServiceSchema } from './containers.schema.js';
import { JOB_CREATE, JOB_DELETE, JOB_UPDATE } from './containers.jobs.js';
import { dockerReason, type ContainerSummary, type DockerClient, type StatsSample } from './docker.client.js';
import { WakeError, type WakeController } from './wake.controller.js';

/** What the Docker views need of a host's engine (the socket client locally, the CLI remotely). */
type HostDocker = {
  listContainers(): Promise<ContainerSummary[]>;
  listImages(): Promise<{ id: string; tags: string[]; sizeBytes: number; createdAt: number }[]>;
  inspect(id: string): Promise<{ id: string; name: string } | null>;
  inspectRaw(id: string): Promise<unknown>;
  start(id: string): Promise<void>;
  stop(id: string, timeoutSeconds?: number): Promise<void>;
  restart(id: string): Promise<void>;
  logs(id: string, opts: { follow: boolean; tail?: number }, onLine: (l: { stream: 'stdout' | 'stderr'; line: string }) => void): Promise<{ stop(): void; done: Promise<void> }>;
  stats(id: string, onSample: (s: StatsSample) => void): Promise<{ stop(): void }>;
};

const SECRET_NAME = /pass(word)?|secret|token|key|credential|private/i;

/** The rules of container services: ownership, permissions, validation, audit; long work as jobs. */
export class ContainersService {
  constructor(
    private readonly d: { repo: ServicesRepo; jobs: JobService; audit: AuditLog; controller: WakeController; docker: DockerClient; hosts: HostRegistry },
  ) {}

  private async load(actor: Actor, id: string): Promise<ServiceRecord> {
    const r = await this.d.repo.find(id);
    const owner = ownerScope(actor);
    if (!r || (owner !== undefined && r.ownerId !== owner)) throw new NotFoundError('Service', id);
    return r;
  }

  view(r: ServiceRecord, lastColdStart: WakeRecord | null = null): ServiceView {
    const state = this.d.controller.state(r.id) ?? r.state;
    return {
      id: r.id,
      name: r.name,
      hostId: r.hostId,
      ownerId: r.ownerId,
      hostnames: r.spec.hostnames,
      containers: r.spec.containers.map((c) => ({ ...c, env: c.env.map((e) => (e.secret || SECRET_NAME.test(e.name) ? { ...e, secret: true, value: SECRET_MASK } : e)) })),
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
    requirePermission(actor, P.read);
    return (await this.d.repo.list(ownerScope(actor))).map((r) => this.view(r));
  }

  async get(actor: Actor, id: string): Promise<ServiceView> {
    requirePermission(actor, P.read);
    await this.d.controller.settled(id);
    const r = await this.load(actor, id);
    const [last] = await this.d.repo.wakes(id, 1);
    return this.view(r, last ?? null);
  }

  async wakes(actor: Actor, id: string, limit: number): Promise<WakeRecord[]> {
    requirePermission(actor, P.read);
    await this.load(actor, id);
    await this.d.controller.settled(id);
    return this.d.repo.wakes(id, limit);
  }

  private async checkHostnames(hostnames: string[], exceptId?: string): Promise<void> {
    const taken = new Map<string, string>();
    for (const s of await this.d.repo.list()) if (s.id !== exceptId) for (const h of s.spec.hostnames) taken.set(h, s.name);
    const clash = hostnames.filter((h) => taken.has(h));
    if (clash.length) throw new ConflictError(`Hostname ${clash[0]} is already used by service ${taken.get(clash[0]!)}`, { hostnames: clash });
  }

  async create(actor: Actor, input: CreateService): Promise<{ service: ServiceView; job: JobView }> {
    requirePermission(actor, P.create);
    if (input.hostId !== LOCAL_HOST_ID) throw new DomainRuleError('Services run on the local Docker engine for now', 'host_unsupported');
    if (await this.d.repo.findByName(input.name)) throw new ConflictError(`A service named ${input.name} already exists`);
    await this.checkHostnames(input.hostnames);
    const { name, hostId, ...rest } = input;
    const spec: ServiceSpec = { ...rest, http: { container: input.http.container ?? input.containers[0]!.name, port: input.http.port } };
    const record = await this.d.repo.insert({ name, hostId, ownerId: actor.kind === 'system' ? null : actor.userId, spec, state: 'creating' });
    const job = await this.d.jobs.enqueue(JOB_CREATE, { serviceId: record.id }, { actor, resource: `container:${record.id}` });
    await this.d.audit.record({ actor, action: 'containers.create', target: { type: 'container', id: record.id }, details: { name, hostnames: spec.hostnames, images: spec.containers.map((c) => c.image), job: job.id } });
    return { service: this.view(record), job };
  }

  async update(actor: Actor, id: string, patch: UpdateService): Promise<{ service: ServiceView; job: JobView }> {
    requirePermission(actor, P.update);
    const r = await this.load(actor, id);
    if (r.state === 'creating' || r.state === 'deleting') throw new ConflictError(`The service is ${r.state}`);
    if (patch.hostnames) await this.checkHostnames(patch.hostnames, id);
    const containers = patch.containers?.map((c) => {
      // A masked secret sent back unchanged keeps its stored value.
      const before = r.spec.containers.find((o) => o.name === c.name);
      return { ...c, env: c.env.map((e) => (e.value === SECRET_MASK ? { ...e, value: before?.env.find((o) => o.name === e.name)?.value ?? '' } : e)) };
    });
    const merged = { name: r.name, hostId: r.hostId, ...r.spec, ...patch, ...(containers ? { containers } : {}), http: { ...r.spec.http, ...(patch.http ?? {}) } };
    const checked = CreateServiceSchema.safeParse(merged);
    if (!checked.success) throw new ValidationError('The changed service is not valid', { issues: checked.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
    const { name: _n, hostId: _h, ...rest } = checked.data;
    const spec: ServiceSpec = { ...rest, http: { container: checked.data.http.container ?? checked.data.containers[0]!.name, port: checked.data.http.port } };
    const job = await this.d.jobs.enqueue(JOB_UPDATE, { serviceId: id, spec }, { actor, resource: `container:${id}` });
    await this.d.audit.record({ actor, action: 'containers.update', target: { type: 'container', id }, details: { name: r.name, changed: Object.keys(patch), job: job.id } });
    return { service: this.view(r), job };
  }

  async remove(actor: Actor, id: string, confirm: string): Promise<JobView> {
    requirePermission(actor, P.delete);
    const r = await this.load(actor, id);
    if (confirm !== r.name) throw new DomainRuleError(`Type the service's name (${r.name}) to confirm`, 'confirmation_required');
    if (r.state === 'deleting') throw new ConflictError('The service is already being deleted');
    const job = await this.d.jobs.enqueue(JOB_DELETE, { serviceId: id }, { actor, resource: `container:${id}` });
    await this.d.audit.record({ actor, action: 'containers.delete', target: { type: 'container', id }, details: { name: r.name, job: job.id } });
    return job;
  }

  async wake(actor: Actor, id: string): Promise<ServiceView> {
    requirePermission(actor, P.update);
    const r = await this.load(actor, id);
    try {
      await this.d.controller.wake(id, 'manual');
      await this.d.audit.record({ actor, action: 'containers.wake', target: { type: 'container', id }, details: { name: r.name } });
    } catch (e) {
      await this.d.audit.record({ actor, action: 'containers.wake', target: { type: 'container', id }, outcome: 'failure', details: { name: r.name, error: (e as Error).message } });
      if (e instanceof WakeError) throw new DomainRuleError(e.message, e.status === 504 ? 'wake_timeout' : 'wake_failed');
      throw e;
    }
    return this.get(actor, id);
  }

  async sleep(actor: Actor, id: string): Promise<ServiceView> {
    requirePermission(actor, P.update);
    const r = await this.load(actor, id);
    await this.d.controller.sleep(id, 'manual');
    await this.d.audit.record({ actor, action: 'containers.sleep', target: { type: 'container', id }, details: { name: r.name } });
    return this.get(actor, id);
  }

  /** Log lines of one of the service's containers. */
  async serviceContainerId(actor: Actor, id: string, container?: string): Promise<string> {
    requirePermission(actor, P.read);
    const r = await this.load(actor, id);
    const name = container ?? r.spec.http.container;
    if (!r.spec.containers.some((c) => c.name === name)) throw new NotFoundError('Container', name);
    return `slw-${r.name}-${name}`;
  }

  // ---- Docker management (any container on the host; Slipway's own are marked) ----

  /** The local engine through its socket; a remote host through the docker CLI over its SSH runner. */
  private async dockerFor(hostId: string): Promise<HostDocker> {
    if (hostId === LOCAL_HOST_ID) return this.d.docker;
    return new DockerCli(await this.d.hosts.runner(hostId));
  }

  async dockerContainers(actor: Actor, hostId: string): Promise<ContainerSummary[]> {
    requirePermission(actor, P['docker.read']);
    return (await this.dockerFor(hostId)).listContainers();
  }

  async dockerImages(actor: Actor, hostId: string) {
    requirePermission(actor, P['docker.read']);
    return (await this.dockerFor(hostId)).listImages();
  }

  async dockerInspect(actor: Actor, hostId: string, containerId: string): Promise<Record<string, unknown>> {
    requirePermission(actor, P['docker.read']);
    const docker = await this.dockerFor(hostId);
    try {
      const raw = (await docker.inspectRaw(containerId)) as unknown as { Config?: { Env?: string[] } };
      // Environment values may hold secrets: names only.
      if (raw.Config?.Env) raw.Config.Env = raw.Config.Env.map((e) => `${e.split('=')[0]}=${SECRET_MASK}`);
      return raw as Record<string, unknown>;
    } catch (e) {
      throw new NotFoundError('Container', containerId);
    }
  }

  async dockerAction(actor: Actor, hostId: string, containerId: string, action: 'start' | 'stop' | 'restart', confirm?: string): Promise<void> {
    requirePermission(actor, P['docker.manage']);
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

  async dockerLogs(actor: Actor, hostId: string, containerId: string, onLine: (l: { stream: string; line: string }) => void, opts: { follow: boolean; tail: number }) {
    requirePermission(actor, P['docker.read']);
    const docker = await this.dockerFor(hostId);
    if (!(await docker.inspect(containerId))) throw new NotFoundError('Container', containerId);
    return docker.logs(containerId, opts, onLine);
  }

  async dockerStats(actor: Actor, hostId: string, containerId: string, onSample: (s: StatsSample) => void) {
    requirePermission(actor, P['docker.read']);
    const docker = await this.dockerFor(hostId);
    if (!(await docker.inspect(containerId))) throw new NotFoundError('Container', containerId);
    return docker.stats(containerId, onSample);
  }

  /** Logs/stats of a service's own container (the user role may see its own). */
  async serviceLogs(actor: Actor, id: string, container: string | undefined, onLine: (l: { stream: string; line: string }) => void, opts: { follow: boolean; tail: number }) {
    const name = await this.serviceContainerId(actor, id, container);
    if (!(await this.d.docker.inspect(name))) throw new NotFoundError('Container', name);
    return this.d.docker.logs(name, opts, onLine);
  }

  async serviceStats(actor: Actor, id: string, container: string | undefined, onSample: (s: StatsSample) => void) {
    const name = await this.serviceContainerId(actor, id, container);
    const s = await this.d.docker.inspect(name);
    if (!s?.running) throw new DomainRuleError('The container is not running (the service sleeps)', 'not_running');
    return this.d.docker.stats(name, onSample);
  }
}
