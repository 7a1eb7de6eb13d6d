import { z } from 'zod';
import { type HostnameClaims, type JobContext, type JobService, normalizeHostname } from '../../../server/src/sdk.js';
import type { ContainersGuard } from './containers.guard.js';
import { effectiveLimits } from './containers.policy.js';
import type { ServiceRecord, ServiceSpec, ServicesRepo } from './containers.repo.js';
import { startOrder } from './containers.schema.js';
import { LABEL_CONTAINER, LABEL_MANAGED, LABEL_NAMESPACE, LABEL_SERVICE, dockerReason, type DockerClient } from './docker.client.js';
import { LABEL_HTTP_PORT, type HostPorts } from './host-ports.js';
import { containerName, networkName, ownContainer, type WakeController } from './wake.controller.js';

export const JOB_CREATE = 'containers.create';
export const JOB_UPDATE = 'containers.update';
export const JOB_DELETE = 'containers.delete';

/** The service as a holder of hostname claims (and the jobs' resource). */
export const containerResource = (serviceId: string) => `container:${serviceId}`;

/** `name`: the service's name for the job's title (jobs queued before it was recorded have none). */
const ServiceRef = z.object({ serviceId: z.string(), name: z.string().max(100).optional() });
const UpdateInput = z.object({ serviceId: z.string(), name: z.string().max(100).optional(), spec: z.custom<ServiceSpec>((v) => typeof v === 'object' && v !== null) });

interface Deps {
  repo: ServicesRepo;
  docker: DockerClient;
  controller: WakeController;
  namespace: string;
  guard: ContainersGuard;
  hostnames: HostnameClaims;
  hostPorts: HostPorts;
}

const claimKey = (h: string): string => {
  try {
    return normalizeHostname(h);
  } catch {
    return h;
  }
};

/** Create, update and delete of services: named steps, each with an undo where one exists. */
export function defineContainerJobs(jobs: JobService, d: Deps): void {
  const record = async (id: string): Promise<ServiceRecord> => {
    const r = await d.repo.find(id);
    if (!r) throw new Error(`service ${id} no longer exists`);
    return r;
  };
  const labels = (r: ServiceRecord) => ({ [LABEL_MANAGED]: 'true', [LABEL_NAMESPACE]: d.namespace, [LABEL_SERVICE]: r.id });

  const checkImages = async (ctx: JobContext<unknown>, spec: ServiceSpec) => {
    for (const c of spec.containers) {
      if (await d.docker.imageExists(c.image)) continue;
      ctx.log(`pulling ${c.image}`);
      try {
        await d.docker.pull(c.image);
      } catch (e) {
        throw new Error(`image ${c.image} is not on the host and could not be pulled: ${dockerReason(e)}`);
      }
    }
  };
  const createContainers = async (ctx: JobContext<unknown>, r: ServiceRecord, spec: ServiceSpec) => {
    // Everything is checked before anything is created: a refused mount leaves no half-made group.
    const plans = [];
    for (const c of startOrder(spec.containers)) plans.push({ c, mounts: await d.guard.mounts(r, c) });
    for (const { c, mounts } of plans) {
      const name = containerName(r.id, c.name);
      // A leftover of an interrupted attempt is removed; a foreign container of that name throws (never touched).
      const leftover = await ownContainer(d.docker, r.id, c.name);
      if (leftover) await d.docker.remove(leftover.id);
      for (const m of mounts) if (m.type === 'volume') await d.docker.ensureVolume(m.source, d.guard.volumeLabels(r));
      const limits = effectiveLimits(c, d.guard.config);
      const isEntry = c.name === spec.http.container;
      // A fixed loopback port: Caddy's route then stays the same through every wake and sleep.
      const hostPort = isEntry ? await d.hostPorts.allocate() : null;
      await d.docker.createContainer({
        name,
        spec: c,
        network: networkName(r.id),
        ...(isEntry ? { httpPort: spec.http.port, ...(hostPort ? { httpHostPort: hostPort } : {}) } : {}),
        restartPolicy: spec.restartPolicy,
        labels: { ...labels(r), [LABEL_CONTAINER]: c.name, ...(hostPort ? { [LABEL_HTTP_PORT]: String(hostPort) } : {}) },
        mounts,
        limits,
        capAdd: d.guard.config.capAdd,
      });
      ctx.log(`created ${name} (${c.image}; ${limits.memoryMb} MB, ${limits.cpus} CPU, ${limits.pids} processes)`);
    }
  };
  const removeContainers = async (ctx: JobContext<unknown>, r: ServiceRecord, spec: ServiceSpec) => {
    for (const c of startOrder(spec.containers).reverse()) {
      // Only what carries our label for this service is ever removed.
      let s;
      try {
        s = await ownContainer(d.docker, r.id, c.name);
      } catch (e) {
        ctx.log(`not removed: ${(e as Error).message}`);
        continue;
      }
      if (s) {
        await d.docker.remove(s.id);
        ctx.log(`removed ${s.name}`);
      }
    }
  };
  const serviceLabel = (id: string) => `${LABEL_SERVICE}=${id}`;
  /** Lets go of the names in `names` that the service's stored definition does not use (compared as claimed: `www.` and case folded). */
  const releaseUnused = async (serviceId: string, names: readonly string[]) => {
    const r = await d.repo.find(serviceId);
    const used = new Set((r?.spec.hostnames ?? []).map(claimKey));
    for (const h of names) if (!used.has(claimKey(h))) await d.hostnames.release(h, containerResource(serviceId));
  };

  jobs.define({
    type: JOB_CREATE,
    input: ServiceRef,
    title: (i) => (i.name ? `Create container service ${i.name}` : 'Create container service'),
    steps: [
      {
        name: 'check images',
        idempotent: true,
        run: async (ctx) => checkImages(ctx as JobContext<unknown>, (await record(ctx.input.serviceId)).spec),
        // Runs when a later step failed: the service stays listed as failed, with the reason, to fix or delete.
        undo: async (ctx) => {
          await d.repo.update(ctx.input.serviceId, { state: 'failed', lastError: 'creation failed: see the job log' });
        },
      },
      {
        name: 'create network',
        idempotent: true,
        run: async (ctx) => {
          const r = await record(ctx.input.serviceId);
          await d.docker.ensureNetwork(networkName(r.id), labels(r));
        },
        undo: async (ctx) => d.docker.removeNetworksLabelled(serviceLabel(ctx.input.serviceId)),
      },
      {
        name: 'create containers',
        idempotent: true,
        run: async (ctx) => {
          const r = await record(ctx.input.serviceId);
          await createContainers(ctx as JobContext<unknown>, r, r.spec);
        },
        undo: async (ctx) => {
          const r = await record(ctx.input.serviceId);
          await removeContainers(ctx as JobContext<unknown>, r, r.spec);
        },
      },
      {
        name: 'route through Caddy',
        idempotent: true,
        run: async (ctx) => {
          await d.controller.register(ctx.input.serviceId);
          ctx.log('route written; the service sleeps until its first request');
        },
        undo: async (ctx) => d.controller.unregister(ctx.input.serviceId),
      },
      {
        name: 'start if always on',
        idempotent: true,
        run: async (ctx) => {
          const r = await record(ctx.input.serviceId);
          if (r.spec.sleep.mode !== 'always-on') return;
          const w = await d.controller.wake(r.id, 'always-on');
          ctx.log(`running on 127.0.0.1:${w.port}`);
        },
      },
    ],
  });

  jobs.define({
    type: JOB_UPDATE,
    input: UpdateInput,
    title: (i) => (i.name ? `Change container service ${i.name}` : 'Change container service'),
    steps: [
      {
        name: 'check images',
        idempotent: true,
        run: async (ctx) => {
          try {
            await checkImages(ctx as JobContext<unknown>, ctx.input.spec);
          } catch (e) {
            await releaseUnused(ctx.input.serviceId, ctx.input.spec.hostnames);
            throw e;
          }
        },
        // The change was abandoned: names claimed for it that the stored definition does not use go.
        undo: async (ctx) => releaseUnused(ctx.input.serviceId, ctx.input.spec.hostnames),
      },
      {
        name: 'put to sleep',
        idempotent: true,
        run: async (ctx) => {
          const r = await record(ctx.input.serviceId);
          ctx.state.wasRunning = d.controller.state(r.id) === 'running';
          await d.controller.sleep(r.id, 'update');
        },
      },
      {
        name: 'replace containers',
        idempotent: true,
        run: async (ctx) => {
          const r = await record(ctx.input.serviceId);
          await d.controller.markBusyState(r.id, 'creating');
          await removeContainers(ctx as JobContext<unknown>, r, r.spec);
          await d.docker.ensureNetwork(networkName(r.id), labels(r));
          await createContainers(ctx as JobContext<unknown>, r, ctx.input.spec);
        },
        undo: async (ctx) => {
          const r = await record(ctx.input.serviceId);
          await removeContainers(ctx as JobContext<unknown>, r, ctx.input.spec);
          await createContainers(ctx as JobContext<unknown>, r, r.spec);
          await d.controller.register(r.id);
        },
      },
      {
        name: 'save and route',
        idempotent: true,
        run: async (ctx) => {
          const before = await record(ctx.input.serviceId);
          await d.repo.update(ctx.input.serviceId, { spec: ctx.input.spec });
          await d.controller.register(ctx.input.serviceId);
          await releaseUnused(ctx.input.serviceId, before.spec.hostnames);
        },
      },
      {
        name: 'start again',
        idempotent: true,
        run: async (ctx) => {
          const r = await record(ctx.input.serviceId);
          if (r.spec.sleep.mode === 'always-on' || ctx.state.wasRunning) await d.controller.wake(r.id, 'update');
        },
      },
    ],
  });

  jobs.define({
    type: JOB_DELETE,
    input: ServiceRef,
    title: (i) => (i.name ? `Delete container service ${i.name}` : 'Delete container service'),
    steps: [
      {
        name: 'remove route',
        idempotent: true,
        run: async (ctx) => {
          await d.controller.markBusyState(ctx.input.serviceId, 'deleting');
          await d.repo.update(ctx.input.serviceId, { state: 'deleting' });
          await d.controller.unregister(ctx.input.serviceId);
        },
      },
      {
        name: 'remove containers',
        idempotent: true,
        run: async (ctx) => {
          const r = await record(ctx.input.serviceId);
          await removeContainers(ctx as JobContext<unknown>, r, r.spec);
        },
      },
      {
        name: 'remove network',
        idempotent: true,
        // Every network of the service (also one named the old way, slw-<service name>), found by label.
        run: async (ctx) => d.docker.removeNetworksLabelled(serviceLabel(ctx.input.serviceId)),
      },
      {
        name: 'remove volumes',
        idempotent: true,
        // Named volumes belong to this service alone (slw-<service id>-<name>): nobody can mount them again.
        run: async (ctx) => {
          const removed = await d.docker.removeVolumesLabelled(serviceLabel(ctx.input.serviceId));
          if (removed.length) ctx.log(`removed volumes ${removed.join(', ')}`);
        },
      },
      {
        name: 'delete record',
        idempotent: true,
        run: async (ctx) => {
          const r = await d.repo.find(ctx.input.serviceId);
          d.controller.forget(ctx.input.serviceId);
          await d.repo.delete(ctx.input.serviceId);
          // Its hostnames are free again (for anyone) once nothing routes them.
          for (const h of r?.spec.hostnames ?? []) await d.hostnames.release(h, containerResource(ctx.input.serviceId));
        },
      },
    ],
  });
}
