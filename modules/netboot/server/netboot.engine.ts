import { type ProcessRunner, QemuImg } from '../../../server/src/sdk.js';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { rm, statfs } from 'node:fs/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { NetbootConfig } from './netboot.config.js';
import type { MachineRecord, NetbootRepo, SessionRecord, VersionRecord } from './netboot.repo.js';
import { initiatorIqn, type Iqn, type MachineName, parseIp, parseMachineName, targetIqn } from './netboot.schema.js';
import { TgtCli, TgtError, type TgtTarget } from './tgt.cli.js';
import { Writebacks } from './writeback.js';

export interface NetbootPaths {
  root: string;
  images: string;
  wb: string;
  uploads: string;
  /** Overlays of image versions being edited as VMs. */
  edits: string;
  dnsmasqConf: string;
}

export function netbootPaths(root: string): NetbootPaths {
  return { root, images: `${root}/images`, wb: `${root}/wb`, uploads: `${root}/uploads`, edits: `${root}/edits`, dnsmasqConf: `${root}/dnsmasq.conf` };
}

/** One iSCSI login as the console shows it. */
export interface LiveConnection {
  initiator: string;
  address: string;
  /** When this panel first saw the login (tgt does not record it). */
  since: number;
}

/**
 * The engines of the module behind one object: qemu-img, tgt and the writebacks, the data root,
 * the IQNs derived from machine names, a per-machine lock that job steps and the reconciler share,
 * and a short-lived cache of tgt's state (status reads never hammer tgtadm).
 */
export class NetbootEngine {
  readonly qemuImg: QemuImg;
  readonly tgt: TgtCli;
  readonly wb: Writebacks;
  readonly prefix: Iqn;
  private readonly locks = new Map<string, Promise<unknown>>();
  private tgtCache: { at: number; targets: Promise<TgtTarget[]> } | null = null;
  private readonly firstSeen = new Map<string, number>();
  /** Opens a machine's sealed CHAP secret (ctx.secretBox('netboot chap v1')); set by the module. */
  openChap: (sealed: string) => string = () => {
    throw new Error('no CHAP secret box');
  };
  /** This panel's CHAP user names start with it (tgt's accounts are global to tgtd; another panel's are left alone). */
  readonly chapPrefix: string;

  constructor(readonly run: ProcessRunner, readonly config: NetbootConfig, readonly paths: NetbootPaths, private readonly log: FastifyBaseLogger) {
    this.chapPrefix = `nb${createHash('sha256').update(config.iqnPrefix).digest('hex').slice(0, 6)}-`;
    for (const d of [paths.root, paths.images, paths.wb, paths.uploads, paths.edits]) mkdirSync(d, { recursive: true, mode: 0o700 });
    this.qemuImg = new QemuImg(run, { root: paths.root });
    this.wb = new Writebacks(run, { dir: paths.wb, qemuImg: this.qemuImg });
    this.tgt = new TgtCli(run, { backingRoot: paths.wb, tidMin: config.tidMin, tidMax: config.tidMax });
    this.prefix = config.iqnPrefix;
  }

  targetIqn(name: MachineName): Iqn {
    return targetIqn(this.prefix, name);
  }
  initiatorIqn(name: MachineName): Iqn {
    return initiatorIqn(this.prefix, name);
  }
  versionFile(versionId: string): string {
    if (!/^[0-9a-f-]{36}$/.test(versionId)) throw new TypeError('bad version id');
    return `${this.paths.images}/${versionId}.qcow2`;
  }
  editFile(id: string): string {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new TypeError('bad edit id');
    return `${this.paths.edits}/${id}.qcow2`;
  }
  uploadFile(id: string): string {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new TypeError('bad upload id');
    return `${this.paths.uploads}/${id}.part`;
  }

  /** Runs `fn` with the machine's lock (one change of a machine's engines at a time). */
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(name) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(name, tail);
    void tail.then(() => {
      if (this.locks.get(name) === tail) this.locks.delete(name);
    });
    return next;
  }

  /** Free bytes on the data root's file system, beyond the configured reserve. */
  async spaceAvailable(): Promise<{ freeBytes: number; reserveBytes: number; usableBytes: number }> {
    const s = await statfs(this.paths.root);
    const freeBytes = Number(s.bavail) * Number(s.bsize);
    return { freeBytes, reserveBytes: this.config.freeSpaceReserveBytes, usableBytes: Math.max(0, freeBytes - this.config.freeSpaceReserveBytes) };
  }

  // ---- tgt state ----

  /** Our targets (tid range, IQN prefix), read at most once per `maxAgeMs`. */
  async targets(maxAgeMs = 1000): Promise<TgtTarget[]> {
    const now = Date.now();
    if (!this.tgtCache || now - this.tgtCache.at > maxAgeMs) {
      const targets = this.tgt.listOwnTargets().then((ts) => ts.filter((t) => t.iqn.startsWith(`${this.prefix}:`)));
      this.tgtCache = { at: now, targets };
      targets.catch(() => {
        if (this.tgtCache?.targets === targets) this.tgtCache = null;
      });
    }
    return this.tgtCache.targets;
  }

  invalidateTargets(): void {
    this.tgtCache = null;
  }

  /** The iSCSI logins on a machine's target, with when they were first seen. */
  connections(targets: TgtTarget[], name: MachineName): LiveConnection[] {
    const iqn = this.targetIqn(name);
    const t = targets.find((x) => x.iqn === iqn);
    if (!t) return [];
    const now = Date.now();
    return t.sessions.flatMap((s) => {
      const addresses = s.connections.length ? s.connections.map((c) => c.address) : [''];
      return addresses.map((address) => {
        const key = `${iqn}|${s.nexus}|${s.initiator}|${address}`;
        let since = this.firstSeen.get(key);
        if (since === undefined) {
          since = now;
          this.firstSeen.set(key, since);
        }
        return { initiator: s.initiator, address, since };
      });
    });
  }

  /** Forgets first-seen times of logins that are gone. */
  pruneSeen(targets: TgtTarget[]): void {
    const live = new Set<string>();
    for (const t of targets) for (const s of t.sessions) for (const c of s.connections.length ? s.connections : [{ address: '' }]) live.add(`${t.iqn}|${s.nexus}|${s.initiator}|${c.address}`);
    for (const k of this.firstSeen.keys()) if (!live.has(k)) this.firstSeen.delete(k);
  }

  // ---- the steps of a session (each used by the start/stop jobs and by reconcile) ----

  /** A fresh writeback on the version, or the kept one when it was made on this same version. Returns whether it is fresh. */
  async prepareWriteback(m: MachineRecord, v: VersionRecord): Promise<{ fresh: boolean }> {
    const keep = m.keepWriteback && m.writebackVersionId === v.id && (await this.wb.hasOverlay(m.name));
    if (keep) return { fresh: false };
    if (await this.wb.isRunning(m.name)) await this.wb.stop(m.name);
    await this.wb.createOverlay(m.name, { file: v.file, format: v.format });
    return { fresh: true };
  }

  async startExport(m: MachineRecord, v: VersionRecord, signal?: AbortSignal): Promise<{ exportFile: string; pid: number }> {
    return this.wb.start(m.name, { file: v.file, format: v.format }, { signal });
  }

  /** A new target for the machine; a leftover one of the same IQN (an interrupted attempt) is removed first. */
  async createTarget(m: MachineRecord): Promise<{ tid: number }> {
    const iqn = this.targetIqn(m.name);
    const old = await this.tgt.findTarget(iqn);
    if (old) await this.deleteTargetIfOurs(old);
    this.invalidateTargets();
    return this.tgt.createTarget(iqn);
  }

  /** The ACL: the machine's fixed address when it has one, else the initiator IQN its script announces. */
  async bindAcl(m: MachineRecord, tid: number): Promise<void> {
    if (m.fixedIp) await this.tgt.bindAddress(tid, parseIp(m.fixedIp));
    else await this.tgt.bindInitiator(tid, this.initiatorIqn(m.name));
  }

  /** The machine's incoming CHAP user: this panel's prefix and 12 hex digits of its id (no name, so nothing to rename). */
  chapUser(m: Pick<MachineRecord, 'id'>): string {
    return `${this.chapPrefix}${m.id.replace(/-/g, '').slice(0, 12).toLowerCase()}`;
  }

  /** The machine's CHAP user and clear secret, or null when CHAP is off. */
  chapOf(m: Pick<MachineRecord, 'id' | 'chapSecret'>): { user: string; secret: string } | null {
    return m.chapSecret ? { user: this.chapUser(m), secret: this.openChap(m.chapSecret) } : null;
  }

  /** CHAP on the machine's target: its account (a leftover one replaced) bound to the tid. No-op when CHAP is off. */
  async bindChap(m: MachineRecord, tid: number): Promise<boolean> {
    const chap = this.chapOf(m);
    if (!chap) return false;
    await this.tgt.deleteAccount(chap.user);
    await this.tgt.createAccount(chap.user, chap.secret);
    await this.tgt.bindAccount(tid, chap.user);
    this.invalidateTargets();
    return true;
  }

  /** The machine's CHAP account gone from tgtd (idempotent). */
  async removeChap(m: Pick<MachineRecord, 'id'>): Promise<boolean> {
    return this.tgt.deleteAccount(this.chapUser(m));
  }

  /** Accounts of this panel (its prefix) that no machine in `keep` accounts for. */
  async orphanChapUsers(keep: Set<string>): Promise<string[]> {
    return (await this.tgt.listAccounts()).filter((u) => u.startsWith(this.chapPrefix) && !keep.has(u));
  }

  async addLun(tid: number, exportFile: string): Promise<void> {
    await this.tgt.addLun(tid, exportFile);
    this.invalidateTargets();
  }

  /** A target is ours to delete when its LUNs are all backed by our writeback exports. */
  isOurs(t: TgtTarget): boolean {
    return t.tid >= this.tgt.tidMin && t.tid <= this.tgt.tidMax && t.iqn.startsWith(`${this.prefix}:`)
      && t.luns.every((l) => l.lun === 0 || (l.backingStorePath ?? '').startsWith(`${this.paths.wb}/`));
  }

  async deleteTargetIfOurs(t: TgtTarget): Promise<boolean> {
    if (!this.isOurs(t)) {
      this.log.warn({ tid: t.tid, iqn: t.iqn }, 'netboot: a target with our IQN is backed by files outside our data root; left alone');
      return false;
    }
    try {
      await this.tgt.deleteTarget(t.tid, { force: true });
    } catch (e) {
      if (!(e instanceof TgtError && e.kind === 'no_target')) throw e;
    }
    this.invalidateTargets();
    return true;
  }

  async removeTarget(name: MachineName): Promise<boolean> {
    const t = await this.tgt.findTarget(this.targetIqn(name));
    return t ? this.deleteTargetIfOurs(t) : false;
  }

  /** Target, export, and (unless kept) the writeback of a machine: gone. Idempotent. */
  async teardown(name: MachineName, o: { keepWriteback: boolean }): Promise<{ target: boolean; export: boolean; overlay: boolean }> {
    const target = await this.removeTarget(name);
    const exp = (await this.wb.stop(name)).wasRunning;
    const overlay = o.keepWriteback ? false : await this.wb.discardOverlay(name);
    return { target, export: exp, overlay };
  }

  /** Names of the machines with an overlay file in the writeback directory. */
  overlayNames(): MachineName[] {
    let entries: string[] = [];
    try {
      entries = readdirSync(this.paths.wb);
    } catch {
      return [];
    }
    const out: MachineName[] = [];
    for (const e of entries) {
      const m = /^(.+)\.qcow2$/.exec(e);
      if (!m) continue;
      try {
        out.push(parseMachineName(m[1]));
      } catch {
        /* not ours */
      }
    }
    return out;
  }

  /** Removes an upload's leftover part file. */
  async removeUpload(id: string): Promise<void> {
    await rm(this.uploadFile(id), { force: true });
  }

  /** Everything a ready session needs is there: export running and mounted, target with its LUN and ACL. */
  async ensureUp(m: MachineRecord, s: SessionRecord, v: VersionRecord): Promise<{ rebuilt: string[] }> {
    const rebuilt: string[] = [];
    const running = (await this.wb.list()).find((r) => r.name === m.name);
    let exportRestarted = false;
    if (!running?.pid || !running.mounted) {
      if (!(await this.wb.hasOverlay(m.name))) await this.wb.createOverlay(m.name, { file: v.file, format: v.format });
      await this.wb.start(m.name, { file: v.file, format: v.format });
      exportRestarted = true;
      rebuilt.push('export');
    }
    const iqn = this.targetIqn(m.name);
    let t = await this.tgt.findTarget(iqn);
    const exportFile = this.wb.files(m.name).export;
    const lunOk = t?.luns.some((l) => l.lun === 1 && l.backingStorePath === exportFile);
    if (t && (exportRestarted || !lunOk)) {
      // tgt still holds the old mount's file: a new target on the new export
      await this.deleteTargetIfOurs(t);
      t = null;
    }
    if (!t) {
      const { tid } = await this.tgt.createTarget(iqn);
      await this.bindAcl(m, tid);
      await this.bindChap(m, tid);
      await this.tgt.addLun(tid, exportFile);
      rebuilt.push('target');
    }
    this.invalidateTargets();
    return { rebuilt };
  }

  exists(file: string): boolean {
    return existsSync(file);
  }
}
