import path from 'node:path';
import { DomainRuleError, type ProcessRunner, QemuImg } from '../../../server/src/sdk.js';
import { buildNetworkXml } from './domain-xml.js';
import { LibvirtError, Virsh, stateAfterEvent, type DomainState } from './libvirt.virsh.js';
import type { HostCapacity } from './placement.js';
import type { VpsConfig } from './vps.config.js';
import type { VpsRepo } from './vps.repo.js';

/**
 * Per host: the virsh and qemu-img adapters, the storage layout under the storage root, capacity
 * for placement, the domain-state inventory (kept current from libvirt's event stream), and the
 * networks and addresses VPSes get.
 */

export interface HostTools {
  hostId: string;
  run: ProcessRunner;
  virsh: Virsh;
  qemuImg: QemuImg;
}

export const storagePaths = (root: string) => ({
  images: path.join(root, 'images'),
  disks: path.join(root, 'disks'),
  seeds: path.join(root, 'seeds'),
  kernels: path.join(root, 'kernels'),
  uploads: path.join(root, 'uploads'),
});

export class VpsHosts {
  private readonly tools = new Map<string, Promise<HostTools>>();
  constructor(private readonly config: VpsConfig, private readonly runnerFor: (hostId: string) => Promise<ProcessRunner>, private readonly repo: VpsRepo) {}

  get(hostId: string): Promise<HostTools> {
    let t = this.tools.get(hostId);
    if (!t) {
      t = (async () => {
        const run = await this.runnerFor(hostId);
        return { hostId, run, virsh: new Virsh(run, { uri: this.config.libvirtUri }), qemuImg: new QemuImg(run, { root: this.config.storageRoot }) };
      })();
      t.catch(() => this.tools.delete(hostId));
      this.tools.set(hostId, t);
    }
    return t;
  }

  async capacity(hostId: string, name: string): Promise<HostCapacity> {
    const c = this.config;
    let cpus = c.hostCpus;
    let memoryMb = c.hostMemoryMb;
    let diskGb = c.hostDiskGb;
    if (!cpus || !memoryMb || !diskGb) {
      const t = await this.get(hostId);
      if (!cpus || !memoryMb) {
        const n = await t.virsh.nodeinfo();
        cpus ||= n.cpus;
        memoryMb ||= Math.floor(n.memoryKiB / 1024);
      }
      if (!diskGb) {
        const df = await t.run.exec('df', ['-B1', '--output=avail', '--', this.config.storageRoot], { timeoutMs: 10_000 });
        diskGb = Math.floor(Number(df.stdout.trim().split('\n').at(-1)) / 1024 ** 3) + (await this.repo.allocatedOn(hostId)).diskGb;
      }
    }
    return { hostId, name, cpus, memoryMb, diskGb, allocated: await this.repo.allocatedOn(hostId), accepting: true };
  }

  // ---- networks ------------------------------------------------------------------------------

  private bridgeOf(network: string): string {
    return network.replace(/^slipway-/, 'slwbr-');
  }

  /** Makes sure the libvirt network exists and is active (defining it from our record if needed). */
  private async ensureLibvirtNetwork(t: HostTools, name: string, subnet: string, mode: 'nat' | 'isolated'): Promise<void> {
    const list = await t.virsh.netList();
    const found = list.find((n) => n.name === name);
    const base = subnet.split('/')[0]!.split('.').slice(0, 3).join('.');
    if (!found) {
      await t.virsh.netDefine(buildNetworkXml({ name, bridge: this.bridgeOf(name), mode, address: `${base}.1`, prefix: 24, dhcpRange: { start: `${base}.240`, end: `${base}.254` } }));
      await t.virsh.netAutostart(name).catch(() => {});
    }
    if (!found?.active) {
      try {
        await t.virsh.netStart(name);
      } catch (e) {
        if (!(e instanceof LibvirtError && e.kind === 'already_running')) throw e;
      }
    }
  }

  /** The network a VPS joins: the public one, or its owner's private one (created on first use). */
  async networkFor(hostId: string, kind: 'public' | 'private', ownerId: string): Promise<{ name: string; subnet: string }> {
    const t = await this.get(hostId);
    if (kind === 'public') {
      const name = this.config.publicNetwork;
      if (!(await this.repo.network(hostId, name))) {
        await this.repo.insertNetwork(hostId, { name, kind: 'public', ownerId: null, subnet: this.config.publicSubnet }).catch(() => {});
      }
      const rec = (await this.repo.network(hostId, name))!;
      await this.ensureLibvirtNetwork(t, name, rec.subnet, 'nat');
      return { name, subnet: rec.subnet };
    }
    const existing = await this.repo.db.selectFrom('vps_networks').selectAll().where('host_id', '=', hostId).where('kind', '=', 'private').where('owner_id', '=', ownerId).executeTakeFirst();
    let rec = existing ? { name: existing.name as string, subnet: existing.subnet as string } : null;
    if (!rec) {
      const prefix = this.config.privateSubnets.split('.').slice(0, 2).join('.');
      for (let k = 1; k < 255 && !rec; k++) {
        const subnet = `${prefix}.${k}.0/24`;
        const name = `slipway-p${k.toString(16).padStart(2, '0')}`;
        if ((await this.repo.networkSubnets(hostId)).has(subnet) || (await this.repo.network(hostId, name))) continue;
        try {
          await this.repo.insertNetwork(hostId, { name, kind: 'private', ownerId, subnet });
          rec = { name, subnet };
        } catch {
          /* taken meanwhile: next */
        }
      }
      if (!rec) throw new DomainRuleError('No private network is left on this host', 'no_private_network');
    }
    await this.ensureLibvirtNetwork(t, rec.name, rec.subnet, 'isolated');
    return rec;
  }

  /**
   * Removes a private network (libvirt's and our record) once no VPS has an address in it. The VPS
   * being deleted must already be gone. Public networks stay.
   */
  async removePrivateNetworkIfEmpty(name: string, hostId: string): Promise<boolean> {
    const rec = await this.repo.network(hostId, name);
    if (!rec || rec.kind !== 'private') return false;
    if ((await this.repo.usedAddresses(hostId, name)).size) return false;
    if (await this.repo.db.selectFrom('vps_instances').select('id').where('host_id', '=', hostId).where('network_name', '=', name).executeTakeFirst()) return false;
    const t = await this.get(hostId);
    const found = (await t.virsh.netList()).find((n) => n.name === name);
    if (found?.active) await t.virsh.netDestroy(name);
    if (found) await t.virsh.netUndefine(name);
    await this.repo.db.deleteFrom('vps_networks').where('host_id', '=', hostId).where('name', '=', name).execute();
    return true;
  }

  /** A free address in the network (.10-.239), recorded for the VPS; the row's key keeps it unique. */
  async allocateAddress(hostId: string, network: { name: string; subnet: string }, vpsId: string, mac: string): Promise<string> {
    const existing = await this.repo.addressOf(vpsId);
    if (existing) return existing.ip;
    const base = network.subnet.split('/')[0]!.split('.').slice(0, 3).join('.');
    for (let attempt = 0; attempt < 5; attempt++) {
      const used = await this.repo.usedAddresses(hostId, network.name);
      let ip: string | null = null;
      for (let i = 10; i < 240; i++) if (!used.has(`${base}.${i}`)) { ip = `${base}.${i}`; break; }
      if (!ip) throw new DomainRuleError(`No free address is left in ${network.name}`, 'address_pool_exhausted', { network: network.name });
      if (await this.repo.claimAddress({ hostId, network: network.name, ip, vpsId, mac })) return ip;
    }
    throw new DomainRuleError('Could not reserve an address; try again', 'address_conflict');
  }
}

/** Our domain names: `slw-<vps id>`. */
export const DOMAIN_PREFIX = 'slw-';
export const domainNameOf = (vpsId: string) => `${DOMAIN_PREFIX}${vpsId}`;

/**
 * Domain states per host, from one `virsh list --all` and then libvirt's event stream (not by
 * polling each domain). GET /vps reads only this map.
 */
export class Inventory {
  private readonly states = new Map<string, Map<string, DomainState>>();
  private readonly watchers = new Map<string, { stop(): void }>();
  private stopped = false;

  constructor(private readonly onChange: (hostId: string, domain: string, state: DomainState | null) => void = () => {}, private readonly log?: { warn(o: unknown, m?: string): void }) {}

  private host(hostId: string): Map<string, DomainState> {
    let m = this.states.get(hostId);
    if (!m) this.states.set(hostId, (m = new Map()));
    return m;
  }

  state(hostId: string, domain: string): DomainState | undefined {
    return this.states.get(hostId)?.get(domain);
  }

  set(hostId: string, domain: string, state: DomainState | null): void {
    const m = this.host(hostId);
    const before = m.get(domain) ?? null;
    if (state === null) m.delete(domain);
    else m.set(domain, state);
    if (before !== state) this.onChange(hostId, domain, state);
  }

  entries(hostId: string): [string, DomainState][] {
    return [...(this.states.get(hostId) ?? new Map()).entries()];
  }

  async refresh(hostId: string, virsh: Virsh): Promise<void> {
    const list = await virsh.listAll();
    const seen = new Set<string>();
    for (const d of list) {
      seen.add(d.name);
      this.set(hostId, d.name, d.state);
    }
    for (const [name] of this.entries(hostId)) if (!seen.has(name)) this.set(hostId, name, null);
  }

  /** Follows libvirt's events for the host; reconnects (with a full refresh) when the stream ends. */
  watch(hostId: string, virsh: Virsh): void {
    if (this.watchers.has(hostId) || this.stopped) return;
    const connect = () => {
      if (this.stopped) return;
      let h: { stop(): void; done: Promise<number | null> };
      try {
        h = virsh.events((e) => {
          if (e.event !== 'lifecycle') return;
          if (e.type === 'Undefined') return this.set(hostId, e.domain, null);
          const s = stateAfterEvent(e);
          if (s) this.set(hostId, e.domain, s);
          else if (e.type === 'Defined' && !this.state(hostId, e.domain)) this.set(hostId, e.domain, 'shut off');
        });
      } catch (e) {
        // A runner that cannot stream (tests' one-session virsh): our own actions keep the map current.
        this.log?.warn({ err: (e as Error).message, hostId }, 'vps: no libvirt event stream');
        this.watchers.set(hostId, { stop() {} });
        return;
      }
      this.watchers.set(hostId, h);
      void h.done.catch(() => null).then(() => {
        if (this.stopped) return;
        this.watchers.delete(hostId);
        setTimeout(() => {
          if (this.stopped) return;
          void this.refresh(hostId, virsh).catch(() => {}).then(() => this.watch(hostId, virsh));
        }, 2000).unref();
      });
    };
    connect();
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watchers.values()) w.stop();
    this.watchers.clear();
  }
}
