import { mkdirSync } from 'node:fs';
import type { Kysely } from 'kysely';
import {
  type CoreTables, defineEngine, defineModule, ExecError, LifecyclePolicies, listScope,
  LOCAL_HOST_ID, probeBinary, type ProcessRunner, SshKeyService, SYSTEM_ACTOR,
} from '../../../server/src/sdk.js';
import { AccelCache, type ProbeGuest } from './accel.js';
import { VpsConfig } from './vps.config.js';
import { Inventory, storagePaths, VpsHosts } from './vps.hosts.js';
import { defineVpsJobs } from './vps.jobs.js';
import { vpsMigrations } from './vps.migrations.js';
import { VpsMetricsStore } from './vps.metrics.js';
import { vpsPermissions } from './vps.permissions.js';
import { VpsRepo } from './vps.repo.js';
import { registerVpsRoutes } from './vps.routes.js';
import { VpsService } from './vps.service.js';

/** libvirtd answering on the configured URI (through virsh). */
export const libvirtEngine = defineEngine<VpsConfig>({
  id: 'libvirt',
  title: 'libvirt (virsh)',
  probe: async ({ config, runner, timeoutMs }) => {
    try {
      const r = await runner.exec('virsh', ['-q', '-c', config.libvirtUri, 'version', '--daemon'], { timeoutMs });
      const v = /Running hypervisor:\s*(.*)/.exec(r.stdout)?.[1]?.trim();
      return { ok: true, ...(v ? { version: v } : {}) };
    } catch (e) {
      const missing = e instanceof ExecError && e.isMissingProgram;
      return {
        ok: false,
        reason: missing ? 'virsh is not installed' : `libvirt does not answer on ${config.libvirtUri} (${e instanceof ExecError ? e.stderr.split('\n').filter(Boolean).at(-1) ?? e.message : (e as Error).message})`,
        fix: 'install `libvirt-daemon-system libvirt-clients qemu-system-x86`, start `virtlogd` and `libvirtd`, or set SLIPWAY_VPS_LIBVIRT_URI',
      };
    }
  },
});
export const qemuImgEngine = defineEngine<VpsConfig>({
  id: 'qemu-img',
  title: 'qemu-img',
  probe: ({ runner, timeoutMs }) => probeBinary(runner, 'qemu-img', { what: 'qemu-img is not installed', fix: 'install `qemu-utils`', timeoutMs }),
});
export const genisoimageEngine = defineEngine<VpsConfig>({
  id: 'genisoimage',
  title: 'genisoimage',
  probe: ({ runner, timeoutMs }) => probeBinary(runner, 'genisoimage', { args: ['-version'], what: 'genisoimage is not installed (cloud-init seed ISOs)', fix: 'install `genisoimage`', timeoutMs }),
});

export interface VpsRuntime {
  service: VpsService;
  inventory: Inventory;
  hosts: VpsHosts;
  lifecycle: LifecyclePolicies;
  config: VpsConfig;
  metrics: VpsMetricsStore;
}

export interface VpsModuleOptions {
  onRuntime?: (rt: VpsRuntime) => void;
  /** Tests: the runner of a host (e.g. one interactive virsh for test:///default). */
  runner?: (hostId: string) => Promise<ProcessRunner>;
  /** Tests: the lifecycle policy's clock. */
  clock?: () => number;
  /** Tests: make the named create step fail after doing its work. */
  failAt?: () => string | null;
  /** A kernel + initrd that prove KVM boots (accel.ts); without one, TCG. */
  accelProbe?: ProbeGuest;
}

export function createVpsModule(opts: VpsModuleOptions = {}) {
  return defineModule({
    id: 'vps',
    title: 'VPS',
    config: VpsConfig,
    permissions: vpsPermissions,
    navPermission: vpsPermissions.read,
    migrations: vpsMigrations,
    engines: [libvirtEngine, qemuImgEngine, genisoimageEngine],
    register(ctx) {
      const config = ctx.config;
      const { db } = ctx;
      // Kysely<DB> is invariant in DB: the platform's key service, typed on the core tables, takes the module's wider handle.
      const coreDb: Kysely<CoreTables> = db as Kysely<any>;
      const repo = new VpsRepo(db);
      const metrics = new VpsMetricsStore(db);
      const hosts = new VpsHosts(config, opts.runner ?? ((id) => ctx.hosts.runner(id)), repo);
      let service: VpsService | null = null;
      const inventory = new Inventory((hostId, domain, state) => void service?.onDomainState(hostId, domain, state).catch(() => {}), ctx.log);
      const claims = ctx.hostnames;
      const handlers = { expire: (id: string, a: 'shutdown' | 'suspend') => service!.lifecycleHandlers(SYSTEM_ACTOR).expire(id, a), remove: (id: string) => service!.lifecycleHandlers(SYSTEM_ACTOR).remove(id), restore: (id: string, a: 'shutdown' | 'suspend') => service!.lifecycleHandlers(SYSTEM_ACTOR).restore(id, a) };
      const lifecycle = new LifecyclePolicies({
        db, audit: ctx.audit, events: ctx.events, module: 'vps', resourceType: 'vps', handlers, permission: vpsPermissions.read,
        ...(opts.clock ? { clock: opts.clock } : {}),
        defaults: { notifyDays: config.expiryNotifyDays, graceDays: config.expiryGraceDays, onExpiry: config.expiryAction },
      });
      const accel = new AccelCache(opts.accelProbe);
      service = new VpsService({ repo, jobs: ctx.jobs, audit: ctx.audit, events: ctx.events, hosts, inventory, config, claims, lifecycle, sshKeys: new SshKeyService(coreDb, ctx.audit), metrics });
      const failAt = opts.failAt;
      defineVpsJobs(ctx.jobs, { repo, hosts, inventory, config, claims, lifecycle, accel, forgetMetrics: (id, all) => metrics.forget(id, { all }), get failAt() { return failAt?.() ?? null; } });
      registerVpsRoutes(ctx.http, service, { maxUploadBytes: config.maxUploadBytes, consoleIdleMs: config.consoleIdleTimeoutMs });
      opts.onRuntime?.({ service, inventory, hosts, lifecycle, config, metrics });

      ctx.overview.count({ id: 'vps', title: 'VPSes', permission: vpsPermissions.read, count: async (actor) => (await repo.list(listScope(actor, vpsPermissions.read))).length });
      ctx.schedule('expiry', config.expirySweepIntervalMs, async () => {
        await lifecycle.sweep();
      });
      ctx.schedule('metrics', config.metricsIntervalMs, async () => {
        for (const hostId of hosts.hostIds()) await service!.sampleMetrics(hostId).catch((e) => ctx.log.warn({ err: (e as Error).message, hostId }, 'vps: metrics sample failed'));
      });
      ctx.schedule('metrics-prune', config.metricsIntervalMs ? 3_600_000 : 0, async () => {
        await metrics.prune(config.metricsRetentionDays);
      });
      /** Events first, then the listing: nothing falls in between. */
      const follow = async (hostId: string) => {
        const t = await hosts.get(hostId);
        inventory.watch(hostId, t.virsh);
        await inventory.refresh(hostId, t.virsh);
      };
      hosts.onRemoteReady = (hostId) => void follow(hostId).catch((e) => ctx.log.warn({ err: (e as Error).message, hostId }, 'vps: remote host inventory failed'));
      ctx.schedule('inventory', config.inventoryRefreshMs, async () => {
        for (const hostId of hosts.hostIds()) {
          await follow(hostId).catch((e) => ctx.log.warn({ err: (e as Error).message, hostId }, 'vps: inventory refresh failed'));
        }
      });
      ctx.onReady(async () => {
        for (const dir of Object.values(storagePaths(config.storageRoot))) mkdirSync(dir, { recursive: true, mode: 0o711 });
        if (hosts.hostIds().includes(LOCAL_HOST_ID)) await follow(LOCAL_HOST_ID);
        // Remote hosts: not waited for (an unreachable node must not hold the panel's start); followed
        // from their first use (onRemoteReady), and the schedule retries.
        for (const hostId of hosts.hostIds().filter((h) => h !== LOCAL_HOST_ID)) void hosts.get(hostId).catch((e) => ctx.log.warn({ err: (e as Error).message, hostId }, 'vps: remote host not reachable'));
      });
      ctx.onClose(() => inventory.stop());
    },
  });
}

export const vpsModule = createVpsModule();
