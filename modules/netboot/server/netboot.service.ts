import { type Actor, type AuditLog, authorize, can, ConflictError, ContentRejectedError, DomainRuleError, type EventBus, ExecError, ImageRefusedError, type JobService, type JobView, newId, NotFoundError, PayloadTooLargeError, resource, SYSTEM_ACTOR, ValidationError } from '../../../server/src/sdk.js';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyBaseLogger } from 'fastify';
import { BootServerSettings } from './netboot.config.js';
import { directedBroadcast, sendMagicPacket } from './wol.js';
import type { NetbootConfig } from './netboot.config.js';
import { dnsmasqConfig, redactTokens } from './dnsmasq.config.js';
import {
  type BootBaseUrl, entryScriptUrl, type IpxeBootFiles, localScript, machineMenuScript, machineScript, machineScriptUrl, menuScript, newBootToken, retryScript, tokenMatches,
} from './ipxe.js';
import type { NetbootEngine } from './netboot.engine.js';
import { JOB_COMMIT, JOB_IMPORT, JOB_SESSION_START, JOB_SESSION_STOP } from './netboot.jobs.js';
import { netbootPermissions as P } from './netboot.permissions.js';
import type { MachineInsert, MachinePatch, MachineRecord, NetbootRepo, SessionRecord, VersionRecord } from './netboot.repo.js';
import {
  BOOT_MODES, type BootMode, type CreateMachine, CreateMachine as CreateMachineSchema, type Ipv4Cidr, type Mac, type MachineView, NetbootInputError, type UpdateMachine,
  macDashed, parseMac,
} from './netboot.schema.js';
import type { z } from 'zod';
import type { ImageView, SessionView, SettingsView, VersionView } from './netboot.schema.js';


type Ref = { id: string; name: string };
interface CacheEntry {
  id: string;
  mac: Mac;
  name: MachineRecord['name'];
  token: MachineRecord['token'];
  state: MachineRecord['state'];
  bootMode: BootMode;
  hasImage: boolean;
  fixedIp: string | null;
  ready: boolean;
  /** The machine's sanboot script (built once per change). */
  script: string;
  url: string;
}

const SESSION_RESOURCE = (machineId: string) => `netboot:machine:${machineId}`;
const BOOTING_WINDOW_MS = 10 * 60_000;

export interface ServiceDeps {
  repo: NetbootRepo;
  engine: NetbootEngine;
  jobs: JobService;
  audit: AuditLog;
  events: EventBus;
  config: NetbootConfig;
  bootBaseUrl: BootBaseUrl;
  log: FastifyBaseLogger;
  bootFiles: () => IpxeBootFiles | null;
  /** Called after the dnsmasq config file was written or removed (the supervised dnsmasq restarts on it). */
  dnsmasqWritten?: (present: boolean) => void;
  /** Seals a CHAP secret for the database (ctx.secretBox('netboot chap v1')). */
  sealChap: (secret: string) => string;
}

/** 128 random bits as 32 hex digits: a CHAP secret iPXE and tgt take as typed (no quoting needed in either). */
export function newChapSecret(): string {
  return randomBytes(16).toString('hex');
}

/** The rules of the netboot module: machines, images and versions, sessions, boot scripts; audit on every change. */
export class NetbootService {
  private readonly cache = new Map<Mac, CacheEntry>();
  private readonly macById = new Map<string, Mac>();
  private readonly waiters = new Map<string, (() => void)[]>();
  private readonly starting = new Map<string, Promise<unknown>>();
  private readonly scriptTimes = new Map<string, number>();
  private readonly registering = new Set<string>();
  private pendingTimes: number[] = [];
  private reservedUploadBytes = 0;
  private readonly menu: string;
  private flushTimer: NodeJS.Timeout | null = null;
  private machineLock: Promise<unknown> = Promise.resolve();

  constructor(private readonly d: ServiceDeps) {
    this.menu = menuScript({ retryUrl: entryScriptUrl(d.bootBaseUrl), registered: false });
  }

  // ---- boot-script cache (the hot path reads only memory) ----

  async loadCache(): Promise<void> {
    const [machines, sessions] = await Promise.all([this.d.repo.machines(), this.d.repo.sessions({ active: true })]);
    this.cache.clear();
    this.macById.clear();
    for (const m of machines) this.put(m, sessions.find((s) => s.machineId === m.id));
  }

  private put(m: MachineRecord, s: SessionRecord | undefined): void {
    const old = this.macById.get(m.id);
    if (old) this.cache.delete(old);
    const url = machineScriptUrl(this.d.bootBaseUrl, m.mac, m.token);
    const e: CacheEntry = {
      id: m.id, mac: m.mac, name: m.name, token: m.token, state: m.state, bootMode: m.bootMode, hasImage: !!m.imageId, fixedIp: m.fixedIp,
      ready: s?.state === 'ready', url,
      script: machineScript({
        name: m.name, mac: m.mac, initiatorIqn: this.d.engine.initiatorIqn(m.name), targetIqn: this.d.engine.targetIqn(m.name),
        server: this.d.config.serverAddress, port: this.d.config.iscsiPort, fallback: { kind: 'local' }, chap: this.d.engine.chapOf(m),
      }),
    };
    this.cache.set(m.mac, e);
    this.macById.set(m.id, m.mac);
    if (e.ready) for (const w of this.waiters.get(m.id)?.splice(0) ?? []) w();
  }

  /** Re-reads one machine into the cache and tells subscribers (job steps call it too). */
  async changed(machineId: string): Promise<void> {
    const m = await this.d.repo.machine(machineId);
    if (!m) {
      const mac = this.macById.get(machineId);
      if (mac) this.cache.delete(mac);
      this.macById.delete(machineId);
    } else {
      this.put(m, await this.d.repo.activeSession(m.id));
    }
    this.d.events.publish({ type: 'netboot.machine.updated', resource: { type: 'netboot-machine', id: machineId }, permission: P.read });
    this.scheduleDnsmasq();
  }

  imageChanged(imageId: string): void {
    this.d.events.publish({ type: 'netboot.image.updated', resource: { type: 'netboot-image', id: imageId }, permission: P.read });
  }

  /** Script fetch times are kept in memory and written in batches (never a database write per request). */
  private touch(id: string): void {
    this.scriptTimes.set(id, Date.now());
    this.flushTimer ??= setTimeout(() => void this.flushScriptTimes(), 1000);
    this.flushTimer.unref?.();
  }

  async flushScriptTimes(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const batch = [...this.scriptTimes];
    this.scriptTimes.clear();
    for (const [id, at] of batch) await this.d.repo.updateMachine(id, { lastScriptAt: at }).catch((e: unknown) => this.d.log.warn({ err: e }, 'netboot: could not record a script fetch'));
  }

  // ---- the public boot route ----

  /**
   * The script for `<mac>.ipxe` (or `<mac>.disk.ipxe`, the menu's network-disk entry). null: not
   * a script path (404). Without the machine's token, or for an unknown MAC, the answer is the
   * menu, byte for byte the same whatever the MAC: it names no machine, target or token.
   */
  async bootScript(file: string, token: string | undefined, ip: string): Promise<string | null> {
    const m = /^([0-9a-f]{2}(?:-[0-9a-f]{2}){5})(\.disk)?\.ipxe$/.exec(file);
    if (!m) return null;
    let mac: Mac;
    try {
      mac = parseMac(m[1]);
    } catch {
      return null;
    }
    const e = this.cache.get(mac);
    if (!e) {
      this.registerPending(mac, ip);
      return this.menu;
    }
    if (!tokenMatches(e.token, token)) return this.menu;
    this.touch(e.id);
    if (e.state !== 'active') return this.menu;
    const mode: BootMode = m[2] ? 'iscsi' : e.bootMode;
    if (mode === 'local' || !e.hasImage) return localScript(e.name);
    if (mode === 'menu') return machineMenuScript({ name: e.name, diskUrl: e.url.replace(/\.ipxe\?/, '.disk.ipxe?') });
    if (e.ready) return e.script;
    // a known machine whose session is not up: start it on demand and wait a little
    await this.startOnDemand(e, ip);
    await this.waitReady(e.id, this.d.config.scriptWaitMs);
    const now = this.cache.get(mac);
    return now?.ready ? now.script : retryScript(m[2] ? e.url.replace(/\.ipxe\?/, '.disk.ipxe?') : e.url);
  }

  private waitReady(id: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? [];
      this.waiters.set(id, list);
      const timer = setTimeout(() => {
        const i = list.indexOf(done);
        if (i >= 0) list.splice(i, 1);
        resolve();
      }, ms);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      list.push(done);
    });
  }

  private startOnDemand(e: CacheEntry, ip: string): Promise<unknown> {
    let p = this.starting.get(e.id);
    if (!p) {
      p = this.startSession(SYSTEM_ACTOR, e.id, { trigger: 'boot', ip }).catch((err: unknown) => {
        if (!(err instanceof ConflictError)) this.d.log.warn({ err, machine: e.name }, 'netboot: on-demand session start failed');
      }).finally(() => this.starting.delete(e.id));
      this.starting.set(e.id, p);
    }
    return p;
  }

  /** An unknown MAC asked for a script: recorded as a pending machine (rate-limited, bounded). */
  private registerPending(mac: Mac, ip: string): void {
    if (this.registering.has(mac) || this.d.config.pendingMax === 0) return;
    const now = Date.now();
    this.pendingTimes = this.pendingTimes.filter((t) => now - t < 60_000);
    if (this.pendingTimes.length >= this.d.config.pendingPerMinute) return;
    this.pendingTimes.push(now);
    this.registering.add(mac);
    void (async () => {
      try {
        // count and insert under the machine lock: a flood of parallel requests cannot pass the bound together
        const m = await this.withMachineLock(async () => {
          if ((await this.d.repo.countPending()) >= this.d.config.pendingMax) return null;
          if (await this.d.repo.machineBy('mac', mac)) return null;
          const name = `pending-${mac.replace(/:/g, '')}` as MachineRecord['name'];
          if (await this.d.repo.machineBy('name', name)) return null;
          return this.d.repo.insertMachine({
            name, mac, fixedIp: null, group: null, state: 'pending', imageId: null, versionId: null,
            bootMode: 'menu', keepWriteback: false, token: newBootToken(), notes: `registered by its boot from ${ip.slice(0, 64)}`,
          });
        });
        if (!m) return;
        await this.d.audit.record({ actor: SYSTEM_ACTOR, action: 'netboot.machine.pending', target: { type: 'netboot-machine', id: m.id }, details: { mac, ip: ip.slice(0, 64) } });
        await this.changed(m.id);
      } catch (err) {
        this.d.log.warn({ err }, 'netboot: could not record a pending machine');
      } finally {
        this.registering.delete(mac);
      }
    })();
  }

  // ---- machines ----

  private async loadMachine(actor: Actor, permission: string, id: string): Promise<MachineRecord> {
    return authorize(actor, permission, resource('Machine', id, await this.d.repo.machine(id), () => null));
  }

  private async effectiveVersion(m: Pick<MachineRecord, 'imageId' | 'versionId'>): Promise<VersionRecord | undefined> {
    if (m.versionId) return this.d.repo.version(m.versionId);
    return m.imageId ? this.d.repo.latestVersion(m.imageId) : undefined;
  }

  private async targetsOrEmpty() {
    try {
      return await this.d.engine.targets();
    } catch (err) {
      this.d.log.warn({ err }, 'netboot: could not read tgt state');
      return [];
    }
  }

  private sessionView(s: SessionRecord, machineName: string | null, targets: Awaited<ReturnType<NetbootEngine['targets']>>): z.output<typeof SessionView> {
    const conns = machineName && (s.state === 'ready' || s.state === 'starting') ? this.d.engine.connections(targets, machineName as MachineRecord['name']) : [];
    return {
      id: s.id, machineId: s.machineId, machineName, versionId: s.versionId, state: s.state, tid: s.tid, targetIqn: s.targetIqn, initiatorIqn: s.initiatorIqn,
      jobId: s.jobId, error: s.error, startedAt: s.startedAt, readyAt: s.readyAt, stoppedAt: s.stoppedAt, connections: conns,
    };
  }

  private async machineView(actor: Actor, m: MachineRecord, targets: Awaited<ReturnType<NetbootEngine['targets']>>, s?: SessionRecord | null): Promise<MachineView> {
    const session = s === undefined ? (await this.d.repo.activeSession(m.id)) ?? null : s;
    const eff = await this.effectiveVersion(m);
    const connections = this.d.engine.connections(targets, m.name);
    const lastScriptAt = Math.max(m.lastScriptAt ?? 0, this.scriptTimes.get(m.id) ?? 0) || null;
    const status = connections.length ? 'online'
      : session && (session.state === 'starting' || session.state === 'ready') && lastScriptAt !== null && lastScriptAt >= session.startedAt - 60_000 && Date.now() - lastScriptAt < BOOTING_WINDOW_MS ? 'booting'
        : 'offline';
    const bytes = await this.d.engine.wb.overlaySize(m.name);
    const url = machineScriptUrl(this.d.bootBaseUrl, m.mac, m.token);
    return {
      id: m.id, name: m.name, mac: m.mac, fixedIp: m.fixedIp, group: m.group, state: m.state, imageId: m.imageId, versionId: m.versionId, effectiveVersionId: eff?.id ?? null,
      bootMode: m.bootMode, keepWriteback: m.keepWriteback, notes: m.notes, status, connections,
      session: session ? this.sessionView(session, m.name, targets) : null,
      lastScriptAt, lastBootAt: m.lastBootAt,
      writeback: bytes === null ? null : { bytes, versionId: m.writebackVersionId },
      targetIqn: this.d.engine.targetIqn(m.name), initiatorIqn: this.d.engine.initiatorIqn(m.name),
      chap: { enabled: !!m.chapSecret, user: m.chapSecret ? this.d.engine.chapUser(m) : null, rotatedAt: m.chapRotatedAt },
      ipxeScriptUrl: can(actor, P.manage) ? url : redactTokens(url),
      createdAt: m.createdAt, updatedAt: m.updatedAt,
    };
  }

  async listMachines(actor: Actor): Promise<MachineView[]> {
    authorize(actor, P.read);
    const [machines, sessions, targets] = await Promise.all([this.d.repo.machines(), this.d.repo.sessions({ active: true }), this.targetsOrEmpty()]);
    return Promise.all(machines.map((m) => this.machineView(actor, m, targets, sessions.find((s) => s.machineId === m.id) ?? null)));
  }

  async getMachine(actor: Actor, id: string): Promise<MachineView & { history: z.output<typeof SessionView>[] }> {
    const m = await this.loadMachine(actor, P.read, id);
    const targets = await this.targetsOrEmpty();
    const history = await this.d.repo.sessions({ machineId: id, limit: 20 });
    return { ...(await this.machineView(actor, m, targets)), history: history.map((s) => this.sessionView(s, m.name, [])) };
  }

  /** Machine changes are checked and stored one at a time (uniqueness of names, MACs and addresses). */
  private withMachineLock<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.machineLock.then(fn, fn);
    this.machineLock = next.catch(() => undefined);
    return next;
  }

  private async checkImageRef(imageId: string | null | undefined, versionId: string | null | undefined): Promise<void> {
    if (imageId) {
      const img = await this.d.repo.image(imageId);
      if (!img) throw new DomainRuleError(`Image '${imageId}' does not exist`, 'unknown_image', { imageId });
    }
    if (versionId) {
      if (!imageId) throw new DomainRuleError('A version is pinned together with its image', 'version_without_image');
      const v = await this.d.repo.version(versionId);
      if (!v || v.imageId !== imageId) throw new DomainRuleError(`Version '${versionId}' is not a version of image '${imageId}'`, 'unknown_version', { versionId });
    }
  }

  private async checkUnique(p: { name?: string; mac?: string; fixedIp?: string | null }, exceptId?: string, batch: MachineInsert[] = []): Promise<void> {
    const clash = async (field: 'name' | 'mac' | 'fixed_ip', value: string | null | undefined, what: string) => {
      if (!value) return;
      const other = await this.d.repo.machineBy(field, value);
      if (other && other.id !== exceptId) throw new ConflictError(`${what} ${value} is already used by machine ${other.name}`, { field: field === 'fixed_ip' ? 'fixedIp' : field, machine: { id: other.id, name: other.name } });
    };
    await clash('name', p.name, 'The name');
    await clash('mac', p.mac, 'The MAC address');
    await clash('fixed_ip', p.fixedIp, 'The address');
    void batch;
  }

  async createMachine(actor: Actor, input: CreateMachine): Promise<MachineView> {
    authorize(actor, P.manage);
    return this.withMachineLock(async () => {
      await this.checkUnique(input);
      await this.checkImageRef(input.imageId, input.versionId);
      const m = await this.d.repo.insertMachine({
        name: input.name, mac: input.mac, fixedIp: input.fixedIp ?? null, group: input.group ?? null, state: 'active', imageId: input.imageId ?? null, versionId: input.versionId ?? null,
        bootMode: input.bootMode, keepWriteback: input.keepWriteback, token: newBootToken(), notes: input.notes,
        chapSecret: input.chap ? this.d.sealChap(newChapSecret()) : null,
      });
      await this.d.audit.record({ actor, action: 'netboot.machine.create', target: { type: 'netboot-machine', id: m.id }, details: { name: m.name, mac: m.mac, imageId: m.imageId, bootMode: m.bootMode, chap: input.chap } });
      await this.changed(m.id);
      return this.machineView(actor, m, await this.targetsOrEmpty(), null);
    });
  }

  async updateMachine(actor: Actor, id: string, patch: UpdateMachine): Promise<MachineView> {
    const m = await this.loadMachine(actor, P.manage, id);
    return this.withMachineLock(async () => {
      const active = await this.d.repo.activeSession(id);
      if (active && patch.chap !== undefined && patch.chap !== !!m.chapSecret) {
        throw new ConflictError(`Machine ${m.name} has a running session: stop it before turning CHAP ${patch.chap ? 'on' : 'off'} (its target is bound at the session's start)`, { session: active.id, field: 'chap' });
      }
      if (active && (patch.name !== undefined && patch.name !== m.name || patch.mac !== undefined && patch.mac !== m.mac || patch.fixedIp !== undefined && patch.fixedIp !== m.fixedIp)) {
        throw new ConflictError(`Machine ${m.name} has a running session: stop it before changing its name, MAC or address (its target and ACL are derived from them)`, { session: active.id });
      }
      await this.checkUnique({ name: patch.name, mac: patch.mac, fixedIp: patch.fixedIp }, id);
      const imageId = patch.imageId !== undefined ? patch.imageId : m.imageId;
      // a new image without a version unpins the old image's version
      const versionId = patch.versionId !== undefined ? patch.versionId : patch.imageId !== undefined && patch.imageId !== m.imageId ? null : m.versionId;
      await this.checkImageRef(imageId, versionId);
      const { chap, ...rest } = patch;
      const p: MachinePatch = { ...rest, imageId, versionId, ...(chap === undefined || chap === !!m.chapSecret ? {} : { chapSecret: chap ? this.d.sealChap(newChapSecret()) : null }) };
      if (p.name !== undefined && p.name !== m.name && (await this.d.engine.wb.hasOverlay(m.name))) {
        throw new ConflictError(`Machine ${m.name} has a kept writeback: commit or discard it before renaming`);
      }
      await this.d.repo.updateMachine(id, p);
      await this.d.audit.record({ actor, action: 'netboot.machine.update', target: { type: 'netboot-machine', id }, details: { name: m.name, changed: Object.keys(patch) } });
      await this.changed(id);
      return this.machineView(actor, (await this.d.repo.machine(id))!, await this.targetsOrEmpty());
    });
  }

  async deleteMachine(actor: Actor, id: string): Promise<void> {
    const m = await this.loadMachine(actor, P.manage, id);
    await this.withMachineLock(async () => {
      const active = await this.d.repo.activeSession(id);
      if (active) throw new ConflictError(`Machine ${m.name} has a ${active.state} session: stop it first`, { session: active.id });
      await this.d.engine.withLock(m.name, () => this.d.engine.teardown(m.name, { keepWriteback: false }));
      await this.d.repo.deleteMachine(id);
      await this.d.audit.record({ actor, action: 'netboot.machine.delete', target: { type: 'netboot-machine', id }, details: { name: m.name, mac: m.mac } });
      await this.changed(id);
    });
  }

  /**
   * A new boot token: the old one is refused from this moment (the script cache is updated before
   * this returns) and the dnsmasq config is rewritten at once. The audit entry never holds a token.
   */
  async rotateToken(actor: Actor, id: string): Promise<MachineView> {
    const m = await this.loadMachine(actor, P.manage, id);
    return this.withMachineLock(async () => {
      await this.d.repo.updateMachine(id, { token: newBootToken() });
      await this.changed(id);
      await this.writeDnsmasq().catch((err: unknown) => this.d.log.warn({ err }, 'netboot: could not write the dnsmasq config'));
      await this.d.audit.record({ actor, action: 'netboot.machine.token.rotate', target: { type: 'netboot-machine', id }, details: { name: m.name, mac: m.mac } });
      return this.machineView(actor, (await this.d.repo.machine(id))!, await this.targetsOrEmpty());
    });
  }

  /**
   * A new CHAP secret. With a session up, tgt's account is replaced at once (delete, new, bind:
   * logins from then on need the new secret; an iSCSI session already logged in continues) and the
   * script cache holds the new one before this returns. The secret is never in the answer, the
   * audit entry or a log: only the booting machine's tokened script carries it.
   */
  async rotateChap(actor: Actor, id: string): Promise<MachineView> {
    const m = await this.loadMachine(actor, P.manage, id);
    return this.withMachineLock(async () => {
      if (!m.chapSecret) throw new DomainRuleError(`Machine ${m.name} has no CHAP: turn it on first`, 'chap_off', { field: 'chap' });
      const sealed = this.d.sealChap(newChapSecret());
      const s = await this.d.repo.activeSession(id);
      let applied = false;
      await this.d.engine.withLock(m.name, async () => {
        await this.d.repo.updateMachine(id, { chapSecret: sealed });
        if (s?.state === 'ready' && s.tid !== null) {
          await this.d.engine.bindChap({ ...m, chapSecret: sealed }, s.tid);
          applied = true;
        }
      });
      await this.changed(id);
      await this.d.audit.record({ actor, action: 'netboot.machine.chap.rotate', target: { type: 'netboot-machine', id }, details: { name: m.name, user: this.d.engine.chapUser(m), appliedToTarget: applied } });
      return this.machineView(actor, (await this.d.repo.machine(id))!, await this.targetsOrEmpty());
    });
  }

  /** Where magic packets go: the configured address, else the subnet's directed broadcast, else 255.255.255.255. */
  async wakeAddress(): Promise<string> {
    if (this.d.config.wakeBroadcast) return this.d.config.wakeBroadcast;
    const s = await this.effectiveSettings();
    return s.subnet ? directedBroadcast(s.subnet) : '255.255.255.255';
  }

  /** Wake-on-LAN: one magic packet to the machine's MAC, sent to the configured broadcast address (never one from the request). */
  async wake(actor: Actor, id: string): Promise<{ sent: { address: string; port: number; bytes: number } }> {
    const m = await this.loadMachine(actor, P.operate, id);
    const address = await this.wakeAddress();
    const port = this.d.config.wakePort;
    let bytes: number;
    try {
      ({ bytes } = await sendMagicPacket({ mac: m.mac, address, port }));
    } catch (e) {
      throw new DomainRuleError(`The wake-on-LAN packet could not be sent to ${address}:${port}: ${(e as Error).message}`, 'wake_failed', { address, port });
    }
    await this.d.audit.record({ actor, action: 'netboot.machine.wake', target: { type: 'netboot-machine', id }, details: { name: m.name, mac: m.mac, address, port } });
    return { sent: { address, port, bytes } };
  }

  /** CSV import: every line is checked first; one bad line and nothing is created (400 with each line's problem). */
  async importMachines(actor: Actor, csv: string): Promise<{ created: MachineView[] }> {
    authorize(actor, P.manage);
    const rows = parseCsv(csv);
    const header = (rows.shift() ?? []).map((h) => h.trim());
    const known = ['name', 'mac', 'image', 'imageId', 'bootMode', 'keepWriteback', 'fixedIp', 'group', 'notes'];
    const unknownCols = header.filter((h) => !known.includes(h));
    if (!header.includes('name') || !header.includes('mac') || unknownCols.length) {
      throw new ValidationError(`The first line names the columns: name,mac and optionally ${known.slice(2).join(',')}${unknownCols.length ? ` (unknown: ${unknownCols.join(', ')})` : ''}`);
    }
    if (rows.length > 5000) throw new ValidationError('At most 5000 machines per import');
    const images = await this.d.repo.images();
    return this.withMachineLock(async () => {
      const issues: { line: number; message: string }[] = [];
      const inserts: MachineInsert[] = [];
      const seen = { name: new Set<string>(), mac: new Set<string>(), ip: new Set<string>() };
      for (const [i, cells] of rows.entries()) {
        const line = i + 2;
        if (cells.every((c) => !c.trim())) continue;
        const rec = Object.fromEntries(header.map((h, k) => [h, (cells[k] ?? '').trim()]));
        const img = rec.image || rec.imageId ? images.find((x) => x.id === (rec.image || rec.imageId) || x.name === (rec.image || rec.imageId)) : undefined;
        if ((rec.image || rec.imageId) && !img) {
          issues.push({ line, message: `unknown image ${JSON.stringify((rec.image || rec.imageId)!.slice(0, 64))}` });
          continue;
        }
        const parsed = CreateMachineSchema.safeParse({
          name: rec.name, mac: rec.mac, imageId: img?.id ?? null,
          ...(rec.bootMode ? { bootMode: rec.bootMode } : {}),
          ...(rec.keepWriteback ? { keepWriteback: ['1', 'true', 'yes'].includes(rec.keepWriteback.toLowerCase()) } : {}),
          ...(rec.fixedIp ? { fixedIp: rec.fixedIp } : {}), ...(rec.group ? { group: rec.group } : {}), ...(rec.notes ? { notes: rec.notes } : {}),
        });
        if (!parsed.success) {
          issues.push({ line, message: parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ') });
          continue;
        }
        const c = parsed.data;
        const dup = seen.name.has(c.name) ? `name ${c.name}` : seen.mac.has(c.mac) ? `MAC ${c.mac}` : c.fixedIp && seen.ip.has(c.fixedIp) ? `address ${c.fixedIp}` : null;
        if (dup) {
          issues.push({ line, message: `${dup} appears twice in the file` });
          continue;
        }
        try {
          await this.checkUnique(c);
        } catch (e) {
          issues.push({ line, message: (e as Error).message });
          continue;
        }
        seen.name.add(c.name);
        seen.mac.add(c.mac);
        if (c.fixedIp) seen.ip.add(c.fixedIp);
        inserts.push({ name: c.name, mac: c.mac, fixedIp: c.fixedIp ?? null, group: c.group ?? null, state: 'active', imageId: c.imageId, versionId: null, bootMode: c.bootMode, keepWriteback: c.keepWriteback, token: newBootToken(), notes: c.notes });
      }
      if (issues.length) throw new ValidationError(`${issues.length} line(s) of the CSV are not valid; nothing was imported: ${issues.slice(0, 5).map((x) => `line ${x.line}: ${x.message}`).join('; ')}`, { issues });
      if (!inserts.length) throw new ValidationError('The CSV has no machines');
      const created = await this.d.repo.insertMachines(inserts);
      await this.d.audit.record({ actor, action: 'netboot.machine.import', target: { type: 'netboot-machine', id: created[0]!.id }, details: { count: created.length, names: created.slice(0, 50).map((m) => m.name) } });
      for (const m of created) await this.changed(m.id);
      const targets = await this.targetsOrEmpty();
      return { created: await Promise.all(created.map((m) => this.machineView(actor, m, targets, null))) };
    });
  }

  // ---- sessions ----

  async startSession(actor: Actor, id: string, o: { trigger: 'api' | 'boot'; ip?: string } = { trigger: 'api' }): Promise<{ job: JobView; session: z.output<typeof SessionView> }> {
    const m = await this.loadMachine(actor, P.operate, id);
    return this.d.engine.withLock(`start:${m.id}`, async () => {
      if (m.state !== 'active') throw new DomainRuleError(`Machine ${m.name} is pending: approve it and assign an image first`, 'machine_pending');
      if (m.bootMode === 'local') throw new DomainRuleError(`Machine ${m.name} boots its local disk: it has no network disk`, 'local_boot');
      const v = await this.effectiveVersion(m);
      if (!v) throw new DomainRuleError(`Machine ${m.name} has no image with a ready version assigned`, 'no_image');
      const active = await this.d.repo.activeSession(m.id);
      if (active) throw new ConflictError(`Machine ${m.name} already has a ${active.state} session`, { session: active.id, job: active.jobId });
      const s = await this.d.repo.insertSession({ machineId: m.id, versionId: v.id, targetIqn: this.d.engine.targetIqn(m.name), initiatorIqn: this.d.engine.initiatorIqn(m.name) });
      const job = await this.d.jobs.enqueue(JOB_SESSION_START, { sessionId: s.id }, { actor, resource: SESSION_RESOURCE(m.id) });
      await this.d.repo.updateSession(s.id, { jobId: job.id });
      await this.d.audit.record({ actor, action: 'netboot.session.start', target: { type: 'netboot-machine', id: m.id }, details: { name: m.name, session: s.id, versionId: v.id, trigger: o.trigger, ...(o.ip ? { ip: o.ip.slice(0, 64) } : {}), job: job.id } });
      await this.changed(m.id);
      return { job, session: this.sessionView({ ...s, jobId: job.id }, m.name, []) };
    });
  }

  async stopSession(actor: Actor, id: string): Promise<{ job: JobView }> {
    const m = await this.loadMachine(actor, P.operate, id);
    return this.d.engine.withLock(`start:${m.id}`, async () => {
      const active = await this.d.repo.activeSession(m.id);
      if (!active) throw new ConflictError(`Machine ${m.name} has no running session`);
      if (active.state === 'stopping') throw new ConflictError(`The session of ${m.name} is already stopping`, { job: active.jobId });
      await this.d.repo.updateSession(active.id, { state: 'stopping' });
      const job = await this.d.jobs.enqueue(JOB_SESSION_STOP, { sessionId: active.id }, { actor, resource: SESSION_RESOURCE(m.id) });
      await this.d.repo.updateSession(active.id, { jobId: job.id });
      await this.d.audit.record({ actor, action: 'netboot.session.stop', target: { type: 'netboot-machine', id: m.id }, details: { name: m.name, session: active.id, keepWriteback: m.keepWriteback, job: job.id } });
      await this.changed(m.id);
      return { job };
    });
  }

  async listSessions(actor: Actor, o: { active: boolean }): Promise<z.output<typeof SessionView>[]> {
    authorize(actor, P.read);
    const [sessions, machines, targets] = await Promise.all([this.d.repo.sessions({ active: o.active, limit: 200 }), this.d.repo.machines(), this.targetsOrEmpty()]);
    const names = new Map(machines.map((m) => [m.id, m.name]));
    return sessions.map((s) => this.sessionView(s, names.get(s.machineId) ?? null, targets));
  }

  // ---- writebacks ----

  async commitWriteback(actor: Actor, id: string, comment: string): Promise<{ job: JobView; versionId: string }> {
    const m = await this.loadMachine(actor, P.operate, id);
    if (!(await this.d.engine.wb.hasOverlay(m.name)) || !m.writebackVersionId) throw new DomainRuleError(`Machine ${m.name} has no writeback to commit`, 'no_writeback');
    const base = await this.d.repo.version(m.writebackVersionId);
    if (!base) throw new DomainRuleError(`The writeback of ${m.name} has no base version`, 'no_writeback');
    const space = await this.d.engine.spaceAvailable();
    const need = base.fileSize + ((await this.d.engine.wb.overlaySize(m.name)) ?? 0);
    if (need > space.usableBytes) throw new DomainRuleError(`Not enough disk space to commit: about ${need} bytes are needed, ${space.usableBytes} are free beyond the reserve of ${space.reserveBytes}`, 'insufficient_space', { needBytes: need, ...space });
    const versionId = newId();
    const job = await this.d.jobs.enqueue(JOB_COMMIT, { machineId: m.id, baseVersionId: base.id, versionId, comment }, { actor, resource: SESSION_RESOURCE(m.id) });
    await this.d.audit.record({ actor, action: 'netboot.writeback.commit', target: { type: 'netboot-machine', id: m.id }, details: { name: m.name, imageId: base.imageId, baseVersionId: base.id, versionId, comment, job: job.id } });
    return { job, versionId };
  }

  async discardWriteback(actor: Actor, id: string): Promise<MachineView> {
    const m = await this.loadMachine(actor, P.operate, id);
    const active = await this.d.repo.activeSession(m.id);
    if (active) throw new ConflictError(`Machine ${m.name} has a ${active.state} session using its writeback: stop it first`, { session: active.id });
    const had = await this.d.engine.withLock(m.name, () => this.d.engine.wb.discardOverlay(m.name));
    await this.d.repo.updateMachine(m.id, { writebackVersionId: null });
    await this.d.audit.record({ actor, action: 'netboot.writeback.discard', target: { type: 'netboot-machine', id: m.id }, details: { name: m.name, had } });
    await this.changed(m.id);
    return this.machineView(actor, (await this.d.repo.machine(m.id))!, await this.targetsOrEmpty(), null);
  }

  // ---- images ----

  /** Machines that use a version: pinned to it, following the image's latest when it is the latest, or with a writeback (or session) on it. */
  private async usersOf(v: VersionRecord, latestId: string | undefined, machines: MachineRecord[], sessions: SessionRecord[]): Promise<Ref[]> {
    const out = machines.filter((m) => m.versionId === v.id || (m.versionId === null && m.imageId === v.imageId && latestId === v.id) || m.writebackVersionId === v.id || sessions.some((s) => s.machineId === m.id && s.versionId === v.id));
    return out.map((m) => ({ id: m.id, name: m.name }));
  }

  private async imageView(img: Awaited<ReturnType<NetbootRepo['image']>> & object, versions: VersionRecord[], names: Map<string, string>): Promise<z.output<typeof ImageView>> {
    const latest = versions[0];
    return {
      id: img.id, name: img.name, status: img.status, error: img.error, createdBy: img.createdBy ? { id: img.createdBy, name: names.get(img.createdBy) ?? img.createdBy } : null,
      latestVersionId: latest?.id ?? null, latestVersion: latest?.number ?? null, versionCount: versions.length, sizeBytes: versions.reduce((a, v) => a + v.fileSize, 0),
      virtualSize: latest?.virtualSize ?? null, createdAt: img.createdAt, updatedAt: img.updatedAt,
    };
  }

  async listImages(actor: Actor): Promise<{ items: z.output<typeof ImageView>[]; disk: Awaited<ReturnType<NetbootEngine['spaceAvailable']>> & { root: string } }> {
    authorize(actor, P.read);
    const [images, versions] = await Promise.all([this.d.repo.images(), this.d.repo.versions()]);
    const names = await this.d.repo.usernames([...new Set(images.map((i) => i.createdBy).filter((x): x is string => !!x))]);
    const items = await Promise.all(images.map((i) => this.imageView(i, versions.filter((v) => v.imageId === i.id), names)));
    return { items, disk: { root: this.d.engine.paths.root, ...(await this.d.engine.spaceAvailable()) } };
  }

  async getImage(actor: Actor, id: string): Promise<{ image: z.output<typeof ImageView>; versions: z.output<typeof VersionView>[] }> {
    const img = authorize(actor, P.read, resource('Image', id, await this.d.repo.image(id), () => null));
    const [versions, machines, sessions] = await Promise.all([this.d.repo.versions(id), this.d.repo.machines(), this.d.repo.sessions({ active: true })]);
    const names = await this.d.repo.usernames([...new Set([img.createdBy, ...versions.map((v) => v.authorId)].filter((x): x is string => !!x))]);
    const latestId = versions[0]?.id;
    const views = await Promise.all(versions.map(async (v) => {
      const users = await this.usersOf(v, latestId, machines, sessions);
      return {
        id: v.id, number: v.number, comment: v.comment, author: v.authorId ? { id: v.authorId, name: names.get(v.authorId) ?? v.authorId } : null,
        virtualSize: v.virtualSize, fileSize: v.fileSize, sha256: v.sha256, fromMachineId: v.fromMachineId, parentVersionId: v.parentVersionId, createdAt: v.createdAt,
        latest: v.id === latestId, machines: users, inUse: users.length > 0,
      };
    }));
    return { image: await this.imageView(img, versions, names), versions: views };
  }

  async deleteVersion(actor: Actor, imageId: string, versionId: string): Promise<void> {
    authorize(actor, P.manage, resource('Image', imageId, await this.d.repo.image(imageId), () => null));
    const v = await this.d.repo.version(versionId);
    if (!v || v.imageId !== imageId) throw new NotFoundError('Version', versionId);
    await this.withMachineLock(async () => {
      const [versions, machines, sessions] = await Promise.all([this.d.repo.versions(imageId), this.d.repo.machines(), this.d.repo.sessions({ active: true })]);
      const users = await this.usersOf(v, versions[0]?.id, machines, sessions);
      if (users.length) throw new ConflictError(`Version ${v.number} is in use by ${users.length} machine(s): ${users.slice(0, 10).map((u) => u.name).join(', ')}`, { machines: users });
      if ((await this.d.repo.edits({ active: true, imageId })).some((e) => e.versionId === v.id)) throw new ConflictError(`Version ${v.number} is being edited as a VM: commit or discard the edit first`, { machines: [] });
      if (versions.length === 1) throw new ConflictError('This is the image\'s only version: delete the image instead');
      await this.d.repo.deleteVersion(v.id);
      await rm(v.file, { force: true });
      await this.d.audit.record({ actor, action: 'netboot.version.delete', target: { type: 'netboot-image', id: imageId }, details: { versionId: v.id, number: v.number } });
      this.imageChanged(imageId);
    });
  }

  async deleteImage(actor: Actor, id: string): Promise<void> {
    const img = authorize(actor, P.manage, resource('Image', id, await this.d.repo.image(id), () => null));
    await this.withMachineLock(async () => {
      if (img.status === 'converting') throw new ConflictError(`Image ${img.name} is still being imported`);
      const versions = await this.d.repo.versions(id);
      const ids = new Set(versions.map((v) => v.id));
      const sessions = await this.d.repo.sessions({ active: true });
      const all = (await this.d.repo.machines())
        .filter((m) => m.imageId === id || (m.writebackVersionId !== null && ids.has(m.writebackVersionId)) || sessions.some((x) => x.machineId === m.id && ids.has(x.versionId)))
        .map((m) => ({ id: m.id, name: m.name }));
      if (all.length) throw new ConflictError(`Image ${img.name} is in use by ${all.length} machine(s): ${all.slice(0, 10).map((u) => u.name).join(', ')}`, { machines: all });
      if ((await this.d.repo.edits({ active: true, imageId: id })).length) throw new ConflictError(`Image ${img.name} is being edited as a VM: commit or discard the edit first`, { machines: [] });
      await this.d.repo.deleteImage(id);
      for (const v of versions) await rm(v.file, { force: true });
      await this.d.audit.record({ actor, action: 'netboot.image.delete', target: { type: 'netboot-image', id }, details: { name: img.name, versions: versions.length } });
      this.imageChanged(id);
    });
  }

  /**
   * An upload: streamed to a part file (never held in memory), counted against the size limit and
   * the free space as it arrives, hashed, checked against X-Checksum-Sha256, then probed by
   * qemu-img (format from the contents, never the name) and refused unless self-contained. Only
   * then does the image exist; its conversion into the store is a job (status converting → ready | failed).
   */
  async upload(actor: Actor, q: { name: string; comment?: string }, req: { contentType: string | undefined; contentLength: number | null; checksum: string | undefined; body: unknown }): Promise<{ image: z.output<typeof ImageView>; job: JobView }> {
    authorize(actor, P.manage);
    const body = req.body as Readable | undefined;
    if (!req.contentType?.startsWith('application/octet-stream') || !body || typeof (body as Readable).pipe !== 'function') {
      throw new ValidationError('Send the image file as the raw request body with Content-Type: application/octet-stream');
    }
    const checksum = req.checksum?.trim().toLowerCase();
    if (checksum !== undefined && !/^[0-9a-f]{64}$/.test(checksum)) throw new ValidationError('X-Checksum-Sha256 is 64 hex digits');
    if (await this.d.repo.imageByName(q.name)) throw new ConflictError(`An image named ${q.name} already exists`);
    const limit = this.d.config.uploadMaxBytes;
    if (req.contentLength !== null && req.contentLength > limit) throw new PayloadTooLargeError(`The upload is ${req.contentLength} bytes; the limit is ${limit} bytes`, { limitBytes: limit });
    const space = await this.d.engine.spaceAvailable();
    const usable = space.usableBytes - this.reservedUploadBytes;
    if (req.contentLength !== null && req.contentLength > usable) {
      throw new DomainRuleError(`Not enough disk space: the upload is ${req.contentLength} bytes, ${Math.max(0, usable)} are free beyond the reserve of ${space.reserveBytes}`, 'insufficient_space', { needBytes: req.contentLength, ...space });
    }
    const uploadId = newId();
    const part = this.d.engine.uploadFile(uploadId);
    const hash = createHash('sha256');
    let bytes = 0;
    const reserve = Math.min(req.contentLength ?? 0, usable);
    this.reservedUploadBytes += reserve;
    try {
      const meter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          bytes += chunk.length;
          if (bytes > limit) return cb(new PayloadTooLargeError(`The upload is over the limit of ${limit} bytes`, { limitBytes: limit }));
          if (bytes > usable) return cb(new DomainRuleError(`Not enough disk space: the upload passed the ${Math.max(0, usable)} bytes free beyond the reserve`, 'insufficient_space', space));
          hash.update(chunk);
          cb(null, chunk);
        },
      });
      // the request itself is never destroyed by a refusal (the client gets its 413/422 answer)
      const source = new PassThrough();
      body.pipe(source);
      try {
        await pipeline(source, meter, createWriteStream(part, { flags: 'wx', mode: 0o600 }));
      } catch (e) {
        body.unpipe(source);
        body.resume();
        throw e;
      }
      if (bytes === 0) throw new ContentRejectedError('The upload is empty', 'image_empty');
      const sha256 = hash.digest('hex');
      if (checksum !== undefined && checksum !== sha256) throw new DomainRuleError(`The upload's SHA-256 is ${sha256}, not the ${checksum} given in X-Checksum-Sha256`, 'checksum_mismatch', { sha256 });
      let info;
      try {
        info = await this.d.engine.qemuImg.inspectUntrusted(part);
      } catch (e) {
        if (e instanceof ImageRefusedError) throw new ContentRejectedError(e.message, 'image_refused', e.details);
        if (e instanceof ExecError) throw new ContentRejectedError('The upload is not a disk image qemu-img can read', 'image_unreadable', { reason: e.userReason });
        throw e;
      }
      if (info.virtualSize < 512) throw new ContentRejectedError('The disk image is smaller than one sector', 'image_too_small');
      const versionId = newId();
      const image = await this.d.repo.insertImage({ name: q.name, status: 'converting', createdBy: actor.userId });
      const job = await this.d.jobs.enqueue(JOB_IMPORT, { imageId: image.id, uploadId, versionId, format: info.format, sha256, comment: q.comment ?? 'Uploaded', virtualSize: info.virtualSize }, { actor, resource: `netboot:image:${image.id}` });
      await this.d.audit.record({ actor, action: 'netboot.image.upload', target: { type: 'netboot-image', id: image.id }, details: { name: q.name, format: info.format, bytes, virtualSize: info.virtualSize, sha256, job: job.id } });
      this.imageChanged(image.id);
      const names = await this.d.repo.usernames(actor.userId ? [actor.userId] : []);
      return { image: await this.imageView(image, [], names), job };
    } catch (e) {
      await rm(part, { force: true });
      body.resume?.();
      throw e;
    } finally {
      this.reservedUploadBytes -= reserve;
    }
  }

  // ---- boot server settings ----

  async effectiveSettings(): Promise<{ interface: string; subnet: Ipv4Cidr | null; proxyDhcp: boolean }> {
    const stored = await this.d.repo.settings();
    const merged = { interface: this.d.config.interface, subnet: this.d.config.subnet ?? null, proxyDhcp: this.d.config.proxyDhcp, ...stored };
    const parsed = BootServerSettings.safeParse(merged);
    return parsed.success ? (parsed.data as { interface: string; subnet: Ipv4Cidr | null; proxyDhcp: boolean }) : { interface: this.d.config.interface, subnet: (this.d.config.subnet ?? null) as Ipv4Cidr | null, proxyDhcp: this.d.config.proxyDhcp };
  }

  /** The generated dnsmasq config (with tokens), or why there is none. */
  async dnsmasqText(): Promise<{ config: string | null; reason: string | null }> {
    const s = await this.effectiveSettings();
    const files = this.d.bootFiles();
    if (!s.subnet) return { config: null, reason: 'set the LAN subnet (proxyDHCP answers on one IPv4 network)' };
    if (!files) return { config: null, reason: 'the ipxe boot files (undionly.kpxe, ipxe.efi) are not installed: apt-get install ipxe' };
    const machines = (await this.d.repo.machines()).filter((m) => m.state === 'active' && m.bootMode !== 'local');
    return { config: dnsmasqConfig({ interface: s.interface, subnet: s.subnet, bootBaseUrl: this.d.bootBaseUrl, bootFiles: files, machines: machines.map((m) => ({ mac: m.mac, token: m.token })) }), reason: null };
  }

  private dnsmasqTimer: NodeJS.Timeout | null = null;
  /** The config file (0600, it holds tokens) follows every machine change, debounced. */
  private scheduleDnsmasq(): void {
    if (this.dnsmasqTimer) return;
    this.dnsmasqTimer = setTimeout(() => {
      this.dnsmasqTimer = null;
      void this.writeDnsmasq().catch((err: unknown) => this.d.log.warn({ err }, 'netboot: could not write the dnsmasq config'));
    }, 300);
    this.dnsmasqTimer.unref?.();
  }

  async writeDnsmasq(): Promise<void> {
    const { config } = await this.dnsmasqText();
    const file = this.d.engine.paths.dnsmasqConf;
    if (config === null) {
      await rm(file, { force: true });
      this.d.dnsmasqWritten?.(false);
      return;
    }
    await writeFile(file, config, { mode: 0o600 });
    await chmod(file, 0o600);
    this.d.dnsmasqWritten?.(true);
  }

  close(): void {
    if (this.dnsmasqTimer) clearTimeout(this.dnsmasqTimer);
    this.dnsmasqTimer = null;
  }

  async settings(actor: Actor): Promise<z.output<typeof SettingsView>> {
    authorize(actor, P.read);
    const s = await this.effectiveSettings();
    const dns = await this.dnsmasqText();
    return {
      interface: s.interface, subnet: s.subnet, proxyDhcp: s.proxyDhcp, serverAddress: this.d.config.serverAddress, iscsiPort: this.d.config.iscsiPort,
      bootBaseUrl: this.d.bootBaseUrl, entryScriptUrl: entryScriptUrl(this.d.bootBaseUrl), iqnPrefix: this.d.engine.prefix,
      tidRange: { min: this.d.config.tidMin, max: this.d.config.tidMax }, bootFiles: this.d.bootFiles(),
      dnsmasq: { config: dns.config === null ? null : redactTokens(dns.config), path: this.d.engine.paths.dnsmasqConf, reason: dns.reason },
      disk: { root: this.d.engine.paths.root, ...(await this.d.engine.spaceAvailable()) },
    };
  }

  async updateSettings(actor: Actor, patch: Partial<{ interface: string; subnet: string | null; proxyDhcp: boolean }>): Promise<z.output<typeof SettingsView>> {
    authorize(actor, P.manage);
    const before = await this.effectiveSettings();
    const parsed = BootServerSettings.safeParse({ ...before, ...patch });
    if (!parsed.success) throw new ValidationError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    await this.d.repo.putSettings(patch);
    await this.d.audit.record({ actor, action: 'netboot.settings.update', target: { type: 'netboot-settings', id: 'boot-server' }, details: { before, after: parsed.data } });
    await this.writeDnsmasq();
    return this.settings(actor);
  }
}

/** RFC 4180 CSV: commas, double quotes ("" inside quotes), CRLF or LF. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"' && cell === '') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}
