import { rmSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { type HostnameClaims, type JobContext, type JobService, type JobStep, type LifecyclePolicies } from '../../../server/src/sdk.js';
import { buildSeedFiles, writeSeedIso } from './cloud-init.js';
import { buildDomainXml } from './domain-xml.js';
import type { AccelCache } from './accel.js';
import { LibvirtError, type DomainState } from './libvirt.virsh.js';
import { freeRoom, type PlacementRatios } from './placement.js';
import type { VpsConfig } from './vps.config.js';
import { storagePaths, type Inventory, type VpsHosts } from './vps.hosts.js';
import type { ImageRecord, VpsRecord, VpsRepo } from './vps.repo.js';

export const JOB_CREATE = 'vps.create';
export const JOB_DELETE = 'vps.delete';
export const JOB_SHUTDOWN = 'vps.shutdown';
export const JOB_IMAGE = 'vps.image.convert';

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
    const t = await d.hosts.get(r.hostId);
    try {
      await t.virsh.netDhcpHost(a.network, 'delete', { mac: a.mac, ip: a.ip, name: r.hostname });
    } catch (e) {
      if (!(e instanceof LibvirtError)) throw e;
      ctx.log(`DHCP reservation ${a.ip} not removed from ${a.network}: ${e.userReason}`, 'warn');
    }
    await d.repo.releaseAddress(r.id);
    ctx.log(`freed ${a.ip}`);
  };
  const removeFiles = (r: VpsRecord) => {
    rmSync(diskPath(root, r.id), { force: true });
    rmSync(seedPath(root, r.id), { force: true });
  };
  const removeRecord = async (id: string) => {
    const r = await d.repo.find(id);
    if (!r) return;
    if (r.dnsName) await d.claims.release(r.dnsName, `vps:${r.id}`);
    await d.lifecycle.clear(null, r.id);
    await d.repo.delete(r.id);
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

      step('create disk', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        const img = await image(r.imageId);
        const t = await d.hosts.get(r.hostId);
        await t.qemuImg.create(diskPath(root, r.id), { backing: { file: img.file!, format: 'qcow2' }, sizeBytes: r.diskGb * 1024 ** 3 });
        ctx.log(`disk ${r.diskGb} GB on ${img.name}`);
      }, async (ctx) => {
        rmSync(diskPath(root, ctx.input.vpsId), { force: true });
      }, failAt),

      step('build seed', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        const t = await d.hosts.get(r.hostId);
        const files = buildSeedFiles({ instanceId: r.id, hostname: r.hostname, sshKeys: r.spec.sshKeys, userData: r.spec.userData, network: { mac: r.mac, mode: 'dhcp' } });
        await writeSeedIso(t.run, seedPath(root, r.id), files);
        ctx.log(`NoCloud seed with ${r.spec.sshKeys.length} key(s)${r.spec.userData ? ' and user-data' : ''}`);
      }, async (ctx) => {
        rmSync(seedPath(root, ctx.input.vpsId), { force: true });
      }, failAt),

      step('reserve address', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        const t = await d.hosts.get(r.hostId);
        const net = await d.hosts.networkFor(r.hostId, r.network, r.ownerId);
        const ip = await d.hosts.allocateAddress(r.hostId, net, r.id, r.mac);
        try {
          await t.virsh.netDhcpHost(net.name, 'add', { mac: r.mac, ip, name: r.hostname });
        } catch (e) {
          // A reservation left by an interrupted attempt of this same VPS is fine.
          if (!(e instanceof LibvirtError && /already|exists/i.test(e.userReason))) throw e;
        }
        await d.repo.update(r.id, { address: ip, networkName: net.name });
        ctx.log(`address ${ip} on ${net.name}`);
      }, async (ctx) => {
        const r = await d.repo.find(ctx.input.vpsId);
        if (r) {
          await removeAddress(r, ctx);
          await d.repo.update(r.id, { address: null });
        }
      }, failAt),

      step('define domain', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        const img = await image(r.imageId);
        const t = await d.hosts.get(r.hostId);
        const xml = buildDomainXml({
          name: r.domainName,
          type: (ctx.state.accel as 'kvm' | 'qemu' | undefined) ?? 'qemu',
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
        await t.virsh.define(xml, { vpsId: r.id, ownerId: r.ownerId });
        d.inventory.set(r.hostId, r.domainName, 'shut off');
        ctx.log(`defined ${r.domainName}`);
      }, async (ctx) => {
        const r = await d.repo.find(ctx.input.vpsId);
        if (r) await removeDomain(r, ctx);
      }, failAt),

      step('start', async (ctx) => {
        const r = await record(ctx.input.vpsId);
        if (!r.spec.start) return;
        const t = await d.hosts.get(r.hostId);
        await t.virsh.start(r.domainName, r.id);
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
          await t.virsh.waitForState(r.domainName, 'running', d.config.startTimeoutMs);
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
      step('free address', async (ctx) => removeAddress(await record(ctx.input.vpsId), ctx)),
      step('delete record', async (ctx) => removeRecord(ctx.input.vpsId)),
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
