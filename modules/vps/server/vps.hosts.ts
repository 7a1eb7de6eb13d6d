import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { DomainRuleError, LOCAL_HOST_ID, type ProcessRunner, QemuImg, ValidationError } from '../../../server/src/sdk.js';
import { type SeedFiles, writeSeedIso } from './cloud-init.js';
import { buildNetworkXml, macForAddress, parseNetworkHosts } from './domain-xml.js';
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
  /** Files under the storage root on that host (node:fs locally, argv commands over SSH). */
  fs: HostFs;
}

/**
 * The few file operations the jobs do on a VPS host's storage root. Locally node:fs; on a remote
 * host the same through its runner (`rm`, `mv`, `test`, `mkdir`, `genisoimage`), argv only. Every
 * path must lie under the storage root.
 */
export class HostFs {
  constructor(private readonly run: ProcessRunner, private readonly root: string) {}

  get local(): boolean {
    return this.run.host === LOCAL_HOST_ID;
  }

  private inRoot(p: string): string {
    if (typeof p !== 'string' || !/^\/[A-Za-z0-9._/-]+$/.test(p) || p.split('/').some((s) => s === '..' || s === '.' || s.startsWith('-')) || !p.startsWith(`${this.root}/`)) throw new ValidationError(`Invalid storage path ${JSON.stringify(p)}`);
    return p;
  }

  async exists(p: string): Promise<boolean> {
    if (this.local) return existsSync(this.inRoot(p));
    const r = await this.run.exec('test', ['-e', this.inRoot(p)], { okExitCodes: [0, 1], timeoutMs: 15_000 });
    return r.exitCode === 0;
  }

  async rm(...paths: string[]): Promise<void> {
    for (const p of paths) this.inRoot(p);
    if (this.local) for (const p of paths) rmSync(p, { force: true });
    else await this.run.exec('rm', ['-f', '--', ...paths], { timeoutMs: 30_000 });
  }

  async rename(from: string, to: string): Promise<void> {
    if (this.local) renameSync(this.inRoot(from), this.inRoot(to));
    else await this.run.exec('mv', ['-fT', '--', this.inRoot(from), this.inRoot(to)], { timeoutMs: 30_000 });
  }

  async mkdirs(paths: string[]): Promise<void> {
    for (const p of paths) this.inRoot(p);
    if (this.local) for (const p of paths) mkdirSync(p, { recursive: true, mode: 0o711 });
    else await this.run.exec('mkdir', ['-p', '-m', '0711', '--', ...paths], { timeoutMs: 120_000 });
  }

  /**
   * The NoCloud seed ISO at `iso`. Locally cloud-init.ts's writer; on a remote host the seed's
   * text files go into a private `mktemp -d` there (through `tee`) and genisoimage runs there.
   */
  async writeSeed(iso: string, files: SeedFiles): Promise<void> {
    this.inRoot(iso);
    if (this.local) return writeSeedIso(this.run, iso, files);
    const dir = (await this.run.exec('mktemp', ['-d', '-t', 'slipway-seed.XXXXXXXXXX'], { timeoutMs: 15_000 })).stdout.trim();
    if (!/^\/[A-Za-z0-9._/-]+$/.test(dir)) throw new Error(`mktemp returned an unexpected path ${JSON.stringify(dir)}`);
    try {
      for (const [name, body] of Object.entries(files)) {
        if (!/^[a-z-]+$/.test(name)) throw new ValidationError(`Invalid seed file name ${name}`);
        await this.run.exec('tee', ['--', `${dir}/${name}`], { input: body, timeoutMs: 15_000 });
      }
      await this.run.exec('genisoimage', ['-quiet', '-output', iso, '-volid', 'cidata', '-joliet', '-rock', '-input-charset', 'utf-8', '--', ...Object.keys(files)], { cwd: dir, timeoutMs: 60_000 });
    } finally {
      await this.run.exec('rm', ['-rf', '--', dir], { timeoutMs: 15_000 }).catch(() => {});
    }
  }
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

  /** Called once a remote host's tools exist (the module follows its event stream from then on). */
  onRemoteReady: (hostId: string) => void = () => {};

  get(hostId: string): Promise<HostTools> {
    let t = this.tools.get(hostId);
    if (!t) {
      t = (async () => {
        const run = await this.runnerFor(hostId);
        const fs = new HostFs(run, this.config.storageRoot);
        // A remote host's storage layout is made on first use (the local one at start).
        if (!fs.local) await fs.mkdirs(Object.values(storagePaths(this.config.storageRoot)));
        return { hostId, run, virsh: new Virsh(run, { uri: this.config.libvirtUri }), qemuImg: new QemuImg(run, { root: this.config.storageRoot }), fs };
      })();
      if (hostId !== LOCAL_HOST_ID) void t.then(() => this.onRemoteReady(hostId), () => {});
      t.catch(() => this.tools.delete(hostId));
      this.tools.set(hostId, t);
    }
    return t;
  }

  private readonly nodeinfos = new Map<string, { cpus: number; memoryKiB: number }>();

  /** The hosts VPSes may be placed on (SLIPWAY_VPS_HOSTS, platform host ids). */
  hostIds(): string[] {
    return this.config.hosts;
  }

  async capacity(hostId: string, name: string): Promise<HostCapacity> {
    const c = this.config;
    let cpus = c.hostCpus;
    let memoryMb = c.hostMemoryMb;
    let diskGb = c.hostDiskGb;
    if (!cpus || !memoryMb || !diskGb) {
      const t = await this.get(hostId);
      if (!cpus || !memoryMb) {
        // A host's CPUs and memory do not change while the panel runs: one `virsh nodeinfo` per host.
        let n = this.nodeinfos.get(hostId);
        if (!n) this.nodeinfos.set(hostId, (n = await t.virsh.nodeinfo()));
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

  /** Pool addresses of a /24 (`.10`–`.239`; `.1` is the host, `.240`–`.254` libvirt's dynamic range). */
  static poolAddresses(subnet: string): string[] {
    const base = subnet.split('/')[0]!.split('.').slice(0, 3).join('.');
    return Array.from({ length: 230 }, (_, i) => `${base}.${i + 10}`);
  }

  /**
   * Per host and network: the live `<host mac ip/>` reservations (`mac ip`), read once per process
   * from `net-dumpxml`, and when the network was last seen active. A create then costs no virsh
   * call for the network at all (ADR 0013).
   */
  private readonly live = new Map<string, { reservations: Set<string>; activeAt: number }>();
  private static readonly ACTIVE_TTL_MS = 5 * 60_000;

  /**
   * Makes sure the libvirt network exists and is active (defining it from our record if needed).
   * A network Slipway defines carries a static reservation for every pool address, keyed by the
   * MAC derived from it (`macForAddress`): creating a VPS never changes the network.
   */
  private async ensureLibvirtNetwork(t: HostTools, name: string, subnet: string, mode: 'nat' | 'isolated'): Promise<void> {
    const key = `${t.hostId}\u0000${name}`;
    const known = this.live.get(key);
    if (known && Date.now() - known.activeAt < VpsHosts.ACTIVE_TTL_MS) return;
    const list = await t.virsh.netList();
    const found = list.find((n) => n.name === name);
    const base = subnet.split('/')[0]!.split('.').slice(0, 3).join('.');
    if (!found) {
      const hosts = VpsHosts.poolAddresses(subnet).map((ip) => ({ mac: macForAddress(ip), ip }));
      await t.virsh.netDefine(buildNetworkXml({ name, bridge: this.bridgeOf(name), mode, address: `${base}.1`, prefix: 24, dhcpRange: { start: `${base}.240`, end: `${base}.254` }, hosts }));
      await t.virsh.netAutostart(name).catch(() => {});
    }
    if (!found?.active) {
      try {
        await t.virsh.netStart(name);
      } catch (e) {
        if (!(e instanceof LibvirtError && e.kind === 'already_running')) throw e;
      }
    }
    const reservations = known?.reservations ?? new Set(parseNetworkHosts(await t.virsh.netDumpxml(name)).map((h) => `${h.mac} ${h.ip}`));
    this.live.set(key, { reservations, activeAt: Date.now() });
  }

  /** Forgets what is cached about a network (it was removed, or a start failed on it). */
  forgetNetwork(hostId: string, name: string): void {
    this.live.delete(`${hostId}\u0000${name}`);
  }

  /**
   * Makes the reservation `mac → ip` live. Networks Slipway defined have it already (nothing
   * runs); a network defined before pre-registration gets it with one live `net-update` (~2 s:
   * libvirt 9.0 reloads the network's firewall rules), once per address, and keeps it.
   * Returns whether libvirt had to be changed.
   */
  async ensureReservation(hostId: string, network: string, host: { mac: string; ip: string }): Promise<boolean> {
    const key = `${hostId}\u0000${network}`;
    const t = await this.get(hostId);
    let known = this.live.get(key);
    if (!known) {
      known = { reservations: new Set(parseNetworkHosts(await t.virsh.netDumpxml(network)).map((h) => `${h.mac} ${h.ip}`)), activeAt: 0 };
      this.live.set(key, known);
    }
    if (known.reservations.has(`${host.mac} ${host.ip}`)) return false;
    // A stale entry for the address (another MAC, left by an old VPS) would make libvirt refuse the add.
    for (const e of [...known.reservations]) {
      const [mac, ip] = e.split(' ');
      if (ip === host.ip && mac !== host.mac) {
        await t.virsh.netDhcpHost(network, 'delete', { mac: mac!, ip }).catch((err) => { if (!(err instanceof LibvirtError)) throw err; });
        known.reservations.delete(e);
      }
    }
    try {
      await t.virsh.netDhcpHost(network, 'add', host);
    } catch (e) {
      if (!(e instanceof LibvirtError && /already|exists/i.test(e.userReason))) throw e;
    }
    known.reservations.add(`${host.mac} ${host.ip}`);
    return true;
  }

  /**
   * Drops a reservation made for one VPS only (a random MAC from before pre-registration). A
   * reservation keyed by the address's own MAC stays: it serves whichever VPS gets the address next.
   */
  async dropReservation(hostId: string, network: string, host: { mac: string; ip: string; name?: string }): Promise<boolean> {
    if (host.mac === macForAddress(host.ip)) return false;
    const t = await this.get(hostId);
    await t.virsh.netDhcpHost(network, 'delete', host);
    this.live.get(`${hostId}\u0000${network}`)?.reservations.delete(`${host.mac} ${host.ip}`);
    return true;
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
    this.forgetNetwork(hostId, name);
    await this.repo.db.deleteFrom('vps_networks').where('host_id', '=', hostId).where('name', '=', name).execute();
    return true;
  }

  /**
   * A free address in the network (.10-.239), recorded for the VPS with the MAC derived from it
   * (its pre-registered reservation); the row's key keeps it unique: no two VMs get one address.
   */
  async allocateAddress(hostId: string, network: { name: string; subnet: string }, vpsId: string): Promise<{ ip: string; mac: string }> {
    const existing = await this.repo.addressOf(vpsId);
    if (existing) return { ip: existing.ip, mac: existing.mac };
    for (let attempt = 0; attempt < 5; attempt++) {
      const used = await this.repo.usedAddresses(hostId, network.name);
      const ip = VpsHosts.poolAddresses(network.subnet).find((a) => !used.has(a)) ?? null;
      if (!ip) throw new DomainRuleError(`No free address is left in ${network.name}`, 'address_pool_exhausted', { network: network.name });
      const mac = macForAddress(ip);
      if (await this.repo.claimAddress({ hostId, network: network.name, ip, vpsId, mac })) return { ip, mac };
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
