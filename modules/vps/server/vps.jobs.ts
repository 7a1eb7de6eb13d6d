import { rmSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { type HostnameClaims, type JobContext, type JobService, type JobStep, type LifecyclePolicies } from '../../../server/src/sdk.js';
import { buildSeedFiles } from './cloud-init.js';
import { buildDomainXml, domainUuidFor, macForAddress } from './domain-xml.js';
import type { AccelCache } from './accel.js';
import { LibvirtError, type DomainState, type Virsh as VpsHostsVirsh } from './libvirt.virsh.js';
import { freeRoom, type PlacementRatios } from './placement.js';
import type { VpsConfig } from './vps.config.js';
import { storagePaths, type Inventory, type VpsHosts } from './vps.hosts.js';
import type { ImageRecord, VpsRecord, VpsRepo } from './vps.repo.js';

export const JOB_CREATE = 'vps.create';
export const JOB_DELETE = 'vps.delete';
export const JOB_SHUTDOWN = 'vps.shutdown';
export const JOB_IMAGE = 'vps.image.convert';
export const JOB_RESIZE = 'vps.resize';
export const JOB_RENAME = 'vps.rename';
export const JOB_REINSTALL = 'vps.reinstall';

const Sizes = z.object({ vcpus: z.number(), memoryMb: z.number(), diskGb: z.number(), planId: z.string().nullable() });
const ResizeRef = z.object({ vpsId: z.string(), before: Sizes });
const RenameRef = z.object({ vpsId: z.string(), from: z.string(), to: z.string() });
const ReinstallRef = z.object({ vpsId: z.string(), imageId: z.string(), sshKeys: z.array(z.string()), userData: z.string().nullable(), instanceId: z.string() });

const VpsRef = z.object({ vpsId: z.string() });
const ImageRef = z.object({ imageId: z.string(), upload: z.string() });
type Ref = z.infer<typeof VpsRef>;

export interface VpsJobDeps {
  repo: VpsRepo;
  hosts: VpsHosts;
  inventory: Inventory;
  config: VpsConfig;
  claims: HostnameClaims;
  lifecycle: LifecyclePolicies;
  accel: AccelCache;
  /** Counters restart when a disk is replaced; everything goes with the VPS. */
  forgetMetrics?: (vpsId: string, all: boolean) => Promise<void>;
  /** Tests only: the named create step throws after doing its work (its own cleanup must run). */
  failAt?: string | null;
}

export const diskPath = (root: string, vpsId: string) => path.join(storagePaths(root).disks, `${vpsId}.qcow2`);
export const seedPath = (root: string, vpsId: string) => path.join(storagePaths(root).seeds, `${vpsId}.iso`);
export const imagePath = (root: string, imageId: string) => path.join(storagePaths(root).images, `${imageId}.qcow2`);

const notFound = (e: unknown) => e instanceof LibvirtError && e.kind === 'not_found';
const notRunning = (e: unknown) => e instanceof LibvirtError && (e.kind === 'not_running' || /not running|is not active/i.test(e.userReason));

/**
 * A step whose run cleans up after itself when it fails (the runner undoes only completed steps),
 * and whose undo is idempotent: a failure at any step leaves nothing behind.
 */
function step<I>(name: string, run: (ctx: JobContext<I>) => Promise<void>, undo?: (ctx: JobContext<I>) => Promise<void>, failAt?: () => string | null | undefined): JobStep<I> {
  return {
    name,
    idempotent: true,
    run: async (ctx) => {
      try {
        await run(ctx);
        if (failAt?.() === name) throw new Error(`injected failure at "${name}"`);
      } catch (e) {
        if (undo) await undo(ctx).catch((u) => ctx.log(`cleanup of ${name} failed: ${(u as Error).message}`, 'error'));
        throw e;
      }
    },
    ...(undo ? { undo } : {}),
  };
}

export function defineVpsJobs(jobs: JobService, d: VpsJobDeps): void {
  const root = d.config.storageRoot;
  /** The domain XML of a VPS record (create, resize and reinstall build it the same way). */
  const domainXml = (r: Pick<VpsRecord, 'id' | 'ownerId' | 'domainName' | 'memoryMb' | 'vcpus' | 'networkName' | 'mac' | 'hostname'>, img: ImageRecord, type: 'kvm' | 'qemu', uuid?: string) => buildDomainXml({
    name: r.domainName,
    ...(uuid ? { uuid } : {}),
    type,
    memoryMb: r.memoryMb,
    vcpus: r.vcpus,
    boot: img.kernel ? { kind: 'kernel', kernel: path.join(storagePaths(root).kernels, img.kernel), ...(img.initrd ? { initrd: path.join(storagePaths(root).kernels, img.initrd) } : {}), cmdline: img.cmdline ?? 'console=ttyS0' } : { kind: 'disk' },
    disk: { path: diskPath(root, r.id), format: 'qcow2' },
    seedIso: seedPath(root, r.id),
    interfaces: [{ network: r.networkName!, mac: r.mac }],
    vnc: true,
    metadata: { vpsId: r.id, ownerId: r.ownerId },
    title: r.hostname,
  });
  const ratios: PlacementRatios = { cpu: d.config.cpuRatio, memory: d.config.memoryRatio, disk: d.config.diskRatio };
  const record = async (id: string): Promise<VpsRecord> => {
    const r = await d.repo.find(id);
    if (!r) throw new Error(`VPS ${id} no longer exists`);
    return r;
  };
  const image = async (id: string): Promise<ImageRecord> => {
    const i = await d.repo.image(id);
    if (!i || i.status !== 'ready' || !i.file) throw new Error(`image ${id} is not ready`);
    return i;
  };
  const failAt = () => d.failAt;
  /**
   * Reservations being made live, per VPS (started by 'reserve address', awaited by 'start'). Only
   * networks defined before pre-registration need one (ADR 0013); otherwise this settles at once.
   */
  const liveReservations = new Map<string, Promise<boolean>>();
  /** VPSes whose domain this process has just started (the create's last step trusts `virsh start`). */
  const startedHere = new Set<string>();

  /** Removes the domain if it is ours (stopping it first); a missing domain is fine. */
  const removeDomain = async (r: VpsRecord, ctx: JobContext<Ref>) => {
    const t = await d.hosts.get(r.hostId);
    if (!(await t.virsh.exists(r.domainName))) return;
    try {
      await t.virsh.destroy(r.domainName, r.id);
    } catch (e) {
      if (!notRunning(e)) throw e;
    }
    await t.virsh.undefine(r.domainName, r.id);
    d.inventory.set(r.hostId, r.domainName, null);
    ctx.log(`undefined ${r.domainName}`);
  };
  const removeAddress = async (r: VpsRecord, ctx: JobContext<Ref>) => {
    const a = await d.repo.addressOf(r.id);
    if (!a) return;
    try {
      // Pre-registered reservations (keyed by the address's own MAC) stay in the network.
      await d.hosts.dropReservation(r.hostId, a.network, { mac: a.mac, ip: a.ip, name: r.hostname });
    } catch (e) {
      if (!(e instanceof LibvirtError)) throw e;
      ctx.log(`DHCP reservation ${a.ip} not removed from ${a.network}: ${e.userReason}`, 'warn');
    }
    await d.repo.releaseAddress(r.id);
    ctx.log(`freed ${a.ip}`);
  };
  const removeFiles = async (r: VpsRecord) => {
    await (await d.hosts.get(r.hostId)).fs.rm(diskPath(root, r.id), seedPath(root, r.id));
  };
  /** The storage of the VPS's host (undo steps: the record may be gone, then nothing was placed remotely). */
  const fsOf = async (vpsId: string) => (await d.hosts.get((await d.repo.find(vpsId))?.hostId ?? 'local')).fs;
  const removeRecord = async (id: string) => {
    const r = await d.repo.find(id);
    if (!r) return;
    if (r.dnsName) await d.claims.release(r.dnsName, `vps:${r.id}`);
    await d.lifecycle.clear(null, r.id);
    await d.forgetMetrics?.(r.id, true);
    await d.repo.delete(r.id);
  };
  /** Resize and reinstall change a shut-off domain: stop it first (remembered, to start it again). */
  const stopStep = <I extends Ref>() => step<I>('stop the domain', async (ctx) => {
    const r = await record(ctx.input.vpsId);
    const t = await d.hosts.get(r.hostId);
    const s = (await t.virsh.domstate(r.domainName)).state;
    ctx.state.wasRunning = s !== 'shut off';
    if (s !== 'shut off') {
      const how = await t.virsh.shutdownAndWait(r.domainName, r.id, d.config.shutdownTimeoutMs);
      ctx.log(how === 'clean' ? 'the guest shut down' : 'forced off');
    }
    d.inventory.set(r.hostId, r.domainName, 'shut off');
  }, async (ctx) => {
    if (!ctx.state.wasRunning) return;
    const r = await d.repo.find(ctx.input.vpsId);
    if (!r) return;
    const t = await d.hosts.get(r.hostId);
    await t.virsh.start(r.domainName, r.id).catch((e) => { if (!(e instanceof LibvirtError && e.kind === 'already_running')) throw e; });
    d.inventory.set(r.hostId, r.domainName, 'running');
  });
  const startAgainStep = <I extends Ref>() => step<I>('start again', async (ctx) => {
    const r = await record(ctx.input.vpsId);
    const t = await d.hosts.get(r.hostId);
    if (ctx.state.wasRunning) {
      await t.virsh.start(r.domainName, r.id);
      await t.virsh.waitForState(r.domainName, 'running', d.config.startTimeoutMs);
    }
    const state = ctx.state.wasRunning ? 'running' : 'shut off';
    d.inventory.set(r.hostId, r.domainName, state);
    await d.repo.update(r.id, { state });
  });
  /** Redefines the domain from the record (same UUID and accelerator); undo puts back the XML it replaced. */
  const redefine = async (ctx: JobContext<Ref>, img: ImageRecord) => {
    const r = await record(ctx.input.vpsId);
    const t = await d.hosts.get(r.hostId);
    const { description } = await t.virsh.assertOwned(r.domainName, r.id);
    ctx.state.oldXml = await t.virsh.inactiveXml(r.domainName, r.id);
    await ctx.saveState();
    await t.virsh.define(domainXml(r, img, description.type === 'kvm' ? 'kvm' : 'qemu', description.uuid), { vpsId: r.id, ownerId: r.ownerId });
    ctx.log(`redefined ${r.domainName}: ${r.vcpus} vCPU, ${r.memoryMb} MB`);
  };
  const undoRedefine = async (ctx: JobContext<Ref>) => {
    const r = await d.repo.find(ctx.input.vpsId);
    if (!r || typeof ctx.state.oldXml !== 'string') return;
    const t = await d.hosts.get(r.hostId);
    await t.virsh.define(ctx.state.oldXml, { vpsId: r.id, ownerId: r.ownerId });
  };

  jobs.define<Ref>({
    type: JOB_CREATE,
    input: VpsRef,
    title: () => 'Create VPS',
    steps: [
      step('place on a host', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        const t = await d.hosts.get(r.hostId);
        const cap = await d.hosts.capacity(r.hostId, r.hostId);
        // The record is already counted in `allocated`: over capacity means another create won the race.
        const free = freeRoom(cap, ratios);
        const short = (['vcpus', 'memoryMb', 'diskGb'] as const).find((k) => free[k] < 0);
        if (short) throw new Error(`host ${r.hostId} no longer has room (${short})`);
        const accel = await d.accel.get(t.run);
        ctx.state.accel = accel.type;
        ctx.log(`host ${r.hostId}: ${accel.type === 'kvm' ? 'KVM' : 'TCG'} (${accel.reason})`);
      }, async (ctx) => removeRecord(ctx.input.vpsId), failAt),

      // A free pool address and the MAC its pre-registered DHCP reservation is keyed by: rows in the
      // panel's database only (ADR 0013). On a network from before pre-registration the live
      // `net-update` (~2 s) runs in the background while the disk, seed and domain are made; `start` waits for it.
      step('reserve address', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        const net = await d.hosts.networkFor(r.hostId, r.network, r.ownerId);
        const { ip, mac } = await d.hosts.allocateAddress(r.hostId, net, r.id);
        await d.repo.update(r.id, { address: ip, networkName: net.name, mac });
        const live = d.hosts.ensureReservation(r.hostId, net.name, { mac, ip });
        live.catch(() => {}); // awaited (and its failure reported) by the start step
        liveReservations.set(r.id, live);
        ctx.log(`address ${ip} on ${net.name} (MAC ${mac})`);
      }, async (ctx) => {
        await liveReservations.get(ctx.input.vpsId)?.catch(() => {});
        liveReservations.delete(ctx.input.vpsId);
        const r = await d.repo.find(ctx.input.vpsId);
        if (r) {
          await removeAddress(r, ctx);
          await d.repo.update(r.id, { address: null });
        }
      }, failAt),

      step('create disk', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        const img = await image(r.imageId);
        const t = await d.hosts.get(r.hostId);
        // Images are converted on the panel's host; a remote host needs the same file (shared storage, or copied there).
        if (!t.fs.local && !(await t.fs.exists(img.file!))) throw new Error(`image ${img.name} is not on host ${r.hostId} (expected at ${img.file})`);
        await t.qemuImg.create(diskPath(root, r.id), { backing: { file: img.file!, format: 'qcow2' }, sizeBytes: r.diskGb * 1024 ** 3 });
        ctx.log(`disk ${r.diskGb} GB on ${img.name}`);
      }, async (ctx) => {
        await (await fsOf(ctx.input.vpsId)).rm(diskPath(root, ctx.input.vpsId));
      }, failAt),

      step('build seed', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        const t = await d.hosts.get(r.hostId);
        const files = buildSeedFiles({ instanceId: r.spec.instanceId ?? r.id, hostname: r.hostname, sshKeys: r.spec.sshKeys, userData: r.spec.userData, network: { mac: r.mac, mode: 'dhcp' } });
        await t.fs.writeSeed(seedPath(root, r.id), files);
        ctx.log(`NoCloud seed with ${r.spec.sshKeys.length} key(s)${r.spec.userData ? ' and user-data' : ''}`);
      }, async (ctx) => {
        await (await fsOf(ctx.input.vpsId)).rm(seedPath(root, ctx.input.vpsId));
      }, failAt),

      step('define domain', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        const img = await image(r.imageId);
        const t = await d.hosts.get(r.hostId);
        // The UUID comes from the VPS id: one virsh call, no read before or after (libvirt refuses a
        // define that would touch a domain that is not this VPS's).
        const xml = domainXml(r, img, (ctx.state.accel as 'kvm' | 'qemu' | undefined) ?? 'qemu', domainUuidFor(r.id));
        await t.virsh.defineNew(xml, { vpsId: r.id, ownerId: r.ownerId });
        d.inventory.set(r.hostId, r.domainName, 'shut off');
        ctx.log(`defined ${r.domainName}`);
      }, async (ctx) => {
        const r = await d.repo.find(ctx.input.vpsId);
        if (r) await removeDomain(r, ctx);
      }, failAt),

      step('start', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        const t = await d.hosts.get(r.hostId);
        // The guest asks for its address soon after boot: the reservation must be live first.
        const live = liveReservations.get(r.id) ?? (r.address && r.networkName ? d.hosts.ensureReservation(r.hostId, r.networkName, { mac: r.mac, ip: r.address }) : Promise.resolve(false));
        try {
          await live;
        } finally {
          liveReservations.delete(r.id);
        }
        if (!r.spec.start) return;
        try {
          await t.virsh.startDefined(domainUuidFor(r.id));
        } catch (e) {
          // The network went away since it was last seen (cached, ADR 0013): make it again, once.
          if (!(e instanceof LibvirtError && /network .*(not active|not found)|no network with matching/i.test(e.userReason))) throw e;
          d.hosts.forgetNetwork(r.hostId, r.networkName!);
          await d.hosts.networkFor(r.hostId, r.network, r.ownerId);
          await t.virsh.startDefined(domainUuidFor(r.id));
        }
        // `virsh start` returns once QEMU runs the guest's CPUs: the next step trusts it (in this process only).
        startedHere.add(r.id);
      }, async (ctx) => {
        const r = await d.repo.find(ctx.input.vpsId);
        if (!r) return;
        const t = await d.hosts.get(r.hostId);
        await t.virsh.destroy(r.domainName, r.id).catch((e) => {
          if (!notRunning(e) && !notFound(e)) throw e;
        });
      }, failAt),

      step('wait until running', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        const t = await d.hosts.get(r.hostId);
        let state: DomainState = 'shut off';
        if (r.spec.start) {
          // Started in this run of the job: running (the event stream corrects it if it crashes
          // right away). A resumed job reads the state back.
          if (!startedHere.delete(r.id)) await t.virsh.waitForState(r.domainName, 'running', d.config.startTimeoutMs);
          state = 'running';
        }
        d.inventory.set(r.hostId, r.domainName, state);
        await d.repo.update(r.id, { state, lastError: null });
      }, undefined, failAt),
    ],
  });

  jobs.define<Ref>({
    type: JOB_DELETE,
    input: VpsRef,
    title: () => 'Delete VPS',
    steps: [
      step('remove domain', async (ctx) => removeDomain(await record(ctx.input.vpsId), ctx)),
      step('remove disk and seed', async (ctx) => removeFiles(await record(ctx.input.vpsId))),
      step('free address', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        ctx.state.network = (await d.repo.addressOf(r.id))?.network ?? r.networkName;
        ctx.state.hostId = r.hostId;
        await removeAddress(r, ctx);
      }),
      step('delete record', async (ctx) => removeRecord(ctx.input.vpsId)),
      step('remove the owner\'s private network when empty', async (ctx) => {
        const name = ctx.state.network;
        if (typeof name !== 'string') return;
        const removed = await d.hosts.removePrivateNetworkIfEmpty(name, typeof ctx.state.hostId === 'string' ? ctx.state.hostId : 'local');
        if (removed) ctx.log(`removed ${name} (no VPS uses it any more)`);
      }),
    ],
  });

  jobs.define<Ref>({
    type: JOB_SHUTDOWN,
    input: VpsRef,
    title: () => 'Shut down VPS',
    steps: [
      step('shut down (ACPI, then force)', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        const t = await d.hosts.get(r.hostId);
        const how = await t.virsh.shutdownAndWait(r.domainName, r.id, d.config.shutdownTimeoutMs);
        d.inventory.set(r.hostId, r.domainName, 'shut off');
        await d.repo.update(r.id, { state: 'shut off' });
        ctx.log(how === 'clean' ? 'the guest shut down' : `the guest did not shut down within ${Math.round(d.config.shutdownTimeoutMs / 1000)} s: forced off`);
      }),
    ],
  });

  // ---- resize: the service has already written the new sizes (inside its quota lock); undo restores `before`
  jobs.define<z.infer<typeof ResizeRef>>({
    type: JOB_RESIZE,
    input: ResizeRef,
    title: () => 'Resize VPS',
    steps: [
      step('reserve the new size', async () => {}, async (ctx) => {
        if (await d.repo.find(ctx.input.vpsId)) await d.repo.setSizes(ctx.input.vpsId, ctx.input.before);
      }),
      stopStep(),
      step('grow disk', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        if (r.diskGb <= ctx.input.before.diskGb) return;
        const t = await d.hosts.get(r.hostId);
        await t.qemuImg.resize(diskPath(root, r.id), r.diskGb * 1024 ** 3, { format: 'qcow2' });
        ctx.state.grown = true;
        ctx.log(`disk ${ctx.input.before.diskGb} → ${r.diskGb} GB (the guest's partition grows with cloud-init's growpart on its next boot)`);
      }, async (ctx) => {
        if (!ctx.state.grown) return;
        const r = await d.repo.find(ctx.input.vpsId);
        if (!r) return;
        const t = await d.hosts.get(r.hostId);
        // The domain has not run since: nothing was written past the old end.
        await t.qemuImg.resize(diskPath(root, r.id), ctx.input.before.diskGb * 1024 ** 3, { format: 'qcow2', shrink: true });
      }),
      step('redefine domain', async (ctx) => redefine(ctx, await image((await record(ctx.input.vpsId)).imageId)), undoRedefine, failAt),
      startAgainStep(),
    ],
  });

  // ---- rename: the panel's name, the domain's title, the DHCP reservation's name
  jobs.define<z.infer<typeof RenameRef>>({
    type: JOB_RENAME,
    input: RenameRef,
    title: () => 'Rename VPS',
    steps: [
      step('rename in the panel', async (ctx) => d.repo.setHostname(ctx.input.vpsId, ctx.input.to), async (ctx) => {
        if (await d.repo.find(ctx.input.vpsId)) await d.repo.setHostname(ctx.input.vpsId, ctx.input.from);
      }),
      step('retitle domain', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        await (await d.hosts.get(r.hostId)).virsh.setTitle(r.domainName, r.id, ctx.input.to);
      }, async (ctx) => {
        const r = await d.repo.find(ctx.input.vpsId);
        if (r) await (await d.hosts.get(r.hostId)).virsh.setTitle(r.domainName, r.id, ctx.input.from);
      }, failAt),
      // Only reservations made for one VPS (before pre-registration, ADR 0013) carry its name.
      step('rename DHCP reservation', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        const a = await d.repo.addressOf(r.id);
        if (!a || a.mac === macForAddress(a.ip)) return;
        await (await d.hosts.get(r.hostId)).virsh.netDhcpHost(a.network, 'modify', { mac: a.mac, ip: a.ip, name: ctx.input.to });
      }, async (ctx) => {
        const r = await d.repo.find(ctx.input.vpsId);
        const a = r && (await d.repo.addressOf(r.id));
        if (r && a && a.mac !== macForAddress(a.ip)) await (await d.hosts.get(r.hostId)).virsh.netDhcpHost(a.network, 'modify', { mac: a.mac, ip: a.ip, name: ctx.input.from });
      }),
    ],
  });

  // ---- reinstall: a fresh overlay on the chosen image and a new seed (new instance-id: cloud-init runs again)
  const aside = (f: string) => `${f}.before-reinstall`;
  const restoreAside = async (fs: Awaited<ReturnType<typeof fsOf>>, f: string) => {
    if (await fs.exists(aside(f))) {
      await fs.rm(f);
      await fs.rename(aside(f), f);
    }
  };
  jobs.define<z.infer<typeof ReinstallRef>>({
    type: JOB_REINSTALL,
    input: ReinstallRef,
    title: () => 'Reinstall VPS',
    steps: [
      stopStep(),
      step('set the old disk and seed aside', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        const fs = await fsOf(r.id);
        for (const f of [diskPath(root, r.id), seedPath(root, r.id)]) if ((await fs.exists(f)) && !(await fs.exists(aside(f)))) await fs.rename(f, aside(f));
      }, async (ctx) => {
        const fs = await fsOf(ctx.input.vpsId);
        for (const f of [diskPath(root, ctx.input.vpsId), seedPath(root, ctx.input.vpsId)]) await restoreAside(fs, f);
      }),
      step('create disk', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        const img = await image(ctx.input.imageId);
        const t = await d.hosts.get(r.hostId);
        await t.fs.rm(diskPath(root, r.id));
        await t.qemuImg.create(diskPath(root, r.id), { backing: { file: img.file!, format: 'qcow2' }, sizeBytes: r.diskGb * 1024 ** 3 });
        ctx.log(`disk ${r.diskGb} GB on ${img.name}`);
      }),
      step('build seed', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        const t = await d.hosts.get(r.hostId);
        const files = buildSeedFiles({ instanceId: ctx.input.instanceId, hostname: r.hostname, sshKeys: ctx.input.sshKeys, userData: ctx.input.userData, network: { mac: r.mac, mode: 'dhcp' } });
        await t.fs.rm(seedPath(root, r.id));
        await t.fs.writeSeed(seedPath(root, r.id), files);
        ctx.log(`NoCloud seed (instance ${ctx.input.instanceId}) with ${ctx.input.sshKeys.length} key(s)${ctx.input.userData ? ' and user-data' : ''}`);
      }),
      step<z.infer<typeof ReinstallRef>>('redefine domain', async (ctx) => redefine(ctx, await image(ctx.input.imageId)), undoRedefine, failAt),
      startAgainStep(),
      // Last, and never failing the job (the guest already runs on the new disk): nothing to undo after this.
      step('forget the old disk', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        await d.repo.setImage(r.id, ctx.input.imageId, { ...r.spec, sshKeys: ctx.input.sshKeys, userData: ctx.input.userData, instanceId: ctx.input.instanceId });
        await (await fsOf(r.id)).rm(aside(diskPath(root, r.id)), aside(seedPath(root, r.id)));
        try {
          const t = await d.hosts.get(r.hostId);
          // Internal snapshots lived in the old disk: libvirt's records of them and ours go too.
          for (const snap of await d.repo.snapshots(r.id)) {
            await t.virsh.snapshotDelete(r.domainName, r.id, snap.name, { metadataOnly: true }).catch((e) => { if (!notFound(e)) throw e; });
            await d.repo.deleteSnapshot(snap.id);
          }
          await d.forgetMetrics?.(r.id, false);
        } catch (e) {
          ctx.log(`old snapshots not all removed: ${(e as Error).message}`, 'warn');
        }
      }),
    ],
  });

  jobs.define<z.infer<typeof ImageRef>>({
    type: JOB_IMAGE,
    input: ImageRef,
    title: () => 'Convert VPS image',
    steps: [
      {
        name: 'convert to qcow2',
        idempotent: true,
        run: async (ctx) => {
          const { imageId, upload } = ctx.input;
          const out = imagePath(root, imageId);
          try {
            const t = await d.hosts.get('local');
            // Inspected again here: the file is the one checked at upload, but a job may run later.
            const info = await t.qemuImg.inspectUntrusted(upload);
            await t.qemuImg.convert(upload, out, { outputFormat: 'qcow2', sourceFormat: info.format as never, signal: ctx.signal });
            const res = await t.qemuImg.inspectUntrusted(out, { formats: ['qcow2'] });
            await d.repo.updateImage(imageId, { status: 'ready', reason: null, file: out, virtualSize: res.virtualSize, sourceFormat: info.format });
            ctx.log(`${info.format} → qcow2, ${res.virtualSize} bytes virtual`);
          } catch (e) {
            rmSync(out, { force: true });
            await d.repo.updateImage(imageId, { status: 'failed', reason: (e as Error).message.slice(0, 300) });
            throw e;
          } finally {
            rmSync(upload, { force: true });
          }
        },
      },
    ],
  });
}
