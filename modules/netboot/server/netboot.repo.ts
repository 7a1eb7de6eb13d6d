import { type CoreTables, newId } from '../../../server/src/sdk.js';
import type { Kysely } from 'kysely';
import type { BootMode, BootToken, Mac, MachineName } from './netboot.schema.js';

export interface ImagesTable {
  id: string;
  name: string;
  status: string;
  error: string | null;
  created_by: string | null;
  created_at: number;
  updated_at: number;
}
export interface VersionsTable {
  id: string;
  image_id: string;
  number: number;
  file: string;
  format: string;
  virtual_size: number;
  file_size: number;
  sha256: string | null;
  comment: string;
  author_id: string | null;
  from_machine_id: string | null;
  parent_version_id: string | null;
  created_at: number;
}
export interface MachinesTable {
  id: string;
  name: string;
  mac: string;
  fixed_ip: string | null;
  group_name: string | null;
  state: string;
  image_id: string | null;
  version_id: string | null;
  boot_mode: string;
  keep_writeback: number;
  writeback_version_id: string | null;
  boot_token: string;
  notes: string;
  last_script_at: number | null;
  last_boot_at: number | null;
  /** Sealed (ctx.secretBox('netboot chap v1')); null: no CHAP. */
  chap_secret: string | null;
  chap_rotated_at: number | null;
  created_at: number;
  updated_at: number;
}
export interface EditsTable {
  id: string;
  image_id: string;
  version_id: string;
  state: string;
  overlay: string;
  vm_id: string | null;
  console_url: string | null;
  job_id: string | null;
  committed_version_id: string | null;
  error: string | null;
  created_by: string | null;
  created_at: number;
  updated_at: number;
}
export interface SessionsTable {
  id: string;
  machine_id: string;
  version_id: string;
  state: string;
  tid: number | null;
  target_iqn: string;
  initiator_iqn: string;
  export_file: string | null;
  daemon_pid: number | null;
  job_id: string | null;
  error: string | null;
  started_at: number;
  ready_at: number | null;
  stopped_at: number | null;
}
export interface SettingsTable {
  key: string;
  value: string;
  updated_at: number;
}
/** The module's own tables (netboot.migrations.ts). */
export interface NetbootTables {
  netboot_images: ImagesTable;
  netboot_image_versions: VersionsTable;
  netboot_machines: MachinesTable;
  netboot_sessions: SessionsTable;
  netboot_settings: SettingsTable;
  netboot_edits: EditsTable;
}
/** The database as the netboot module sees it (`ctx.db`): the core tables (users) and its own. */
export type NetbootDb = Kysely<CoreTables & NetbootTables>;

export type ImageStatus = 'converting' | 'ready' | 'failed';
export type MachineState = 'pending' | 'active';
export type SessionState = 'starting' | 'ready' | 'stopping' | 'stopped' | 'failed';
export const ACTIVE_SESSION_STATES: readonly SessionState[] = ['starting', 'ready', 'stopping'];

export interface ImageRecord { id: string; name: string; status: ImageStatus; error: string | null; createdBy: string | null; createdAt: number; updatedAt: number }
export interface VersionRecord {
  id: string; imageId: string; number: number; file: string; format: 'qcow2' | 'raw'; virtualSize: number; fileSize: number; sha256: string | null;
  comment: string; authorId: string | null; fromMachineId: string | null; parentVersionId: string | null; createdAt: number;
}
export interface MachineRecord {
  id: string; name: MachineName; mac: Mac; fixedIp: string | null; group: string | null; state: MachineState; imageId: string | null; versionId: string | null;
  bootMode: BootMode; keepWriteback: boolean; writebackVersionId: string | null; token: BootToken; notes: string; lastScriptAt: number | null; lastBootAt: number | null;
  /** Sealed CHAP secret (never opened outside the engine step and the script cache); null: CHAP off. */
  chapSecret: string | null; chapRotatedAt: number | null;
  createdAt: number; updatedAt: number;
}
export type EditState = 'starting' | 'running' | 'stopped' | 'committing' | 'committed' | 'discarded' | 'failed';
/** An edit with its overlay on a version (the version is in use). */
export const ACTIVE_EDIT_STATES: readonly EditState[] = ['starting', 'running', 'stopped', 'committing'];
export interface EditRecord {
  id: string; imageId: string; versionId: string; state: EditState; overlay: string; vmId: string | null; consoleUrl: string | null;
  /** The start or commit job of the edit (null between the row's insert and its job's launch). */
  jobId: string | null;
  committedVersionId: string | null; error: string | null; createdBy: string | null; createdAt: number; updatedAt: number;
}
const edit = (r: EditsTable): EditRecord => ({
  id: r.id, imageId: r.image_id, versionId: r.version_id, state: r.state as EditState, overlay: r.overlay, vmId: r.vm_id, consoleUrl: r.console_url, jobId: r.job_id,
  committedVersionId: r.committed_version_id, error: r.error, createdBy: r.created_by, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
});
export interface SessionRecord {
  id: string; machineId: string; versionId: string; state: SessionState; tid: number | null; targetIqn: string; initiatorIqn: string; exportFile: string | null;
  daemonPid: number | null; jobId: string | null; error: string | null; startedAt: number; readyAt: number | null; stoppedAt: number | null;
}

const n = (v: number | null) => (v === null ? null : Number(v));
const image = (r: ImagesTable): ImageRecord => ({ id: r.id, name: r.name, status: r.status as ImageStatus, error: r.error, createdBy: r.created_by, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) });
const version = (r: VersionsTable): VersionRecord => ({
  id: r.id, imageId: r.image_id, number: Number(r.number), file: r.file, format: r.format as 'qcow2', virtualSize: Number(r.virtual_size), fileSize: Number(r.file_size),
  sha256: r.sha256, comment: r.comment, authorId: r.author_id, fromMachineId: r.from_machine_id, parentVersionId: r.parent_version_id, createdAt: Number(r.created_at),
});
const machine = (r: MachinesTable): MachineRecord => ({
  id: r.id, name: r.name as MachineName, mac: r.mac as Mac, fixedIp: r.fixed_ip, group: r.group_name, state: r.state as MachineState, imageId: r.image_id, versionId: r.version_id,
  bootMode: r.boot_mode as BootMode, keepWriteback: Number(r.keep_writeback) === 1, writebackVersionId: r.writeback_version_id, token: r.boot_token as BootToken, notes: r.notes,
  lastScriptAt: n(r.last_script_at), lastBootAt: n(r.last_boot_at), chapSecret: r.chap_secret ?? null, chapRotatedAt: n(r.chap_rotated_at ?? null),
  createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
});
const session = (r: SessionsTable): SessionRecord => ({
  id: r.id, machineId: r.machine_id, versionId: r.version_id, state: r.state as SessionState, tid: n(r.tid), targetIqn: r.target_iqn, initiatorIqn: r.initiator_iqn,
  exportFile: r.export_file, daemonPid: n(r.daemon_pid), jobId: r.job_id, error: r.error, startedAt: Number(r.started_at), readyAt: n(r.ready_at), stoppedAt: n(r.stopped_at),
});

export interface MachineInsert {
  name: MachineName; mac: Mac; fixedIp: string | null; group: string | null; state: MachineState; imageId: string | null; versionId: string | null;
  bootMode: BootMode; keepWriteback: boolean; token: BootToken; notes: string;
  chapSecret?: string | null;
}
export type MachinePatch = Partial<Omit<MachineInsert, 'token'>> & { token?: BootToken; writebackVersionId?: string | null; lastScriptAt?: number; lastBootAt?: number; chapSecret?: string | null };

/** The module's tables (the database is the record a restart rebuilds targets and exports from). */
export class NetbootRepo {
  constructor(readonly db: NetbootDb) {}

  // ---- images and versions ----
  async images(): Promise<ImageRecord[]> {
    return (await this.db.selectFrom('netboot_images').selectAll().orderBy('name').execute()).map(image);
  }
  async image(id: string): Promise<ImageRecord | undefined> {
    const r = await this.db.selectFrom('netboot_images').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? image(r) : undefined;
  }
  async imageByName(name: string): Promise<ImageRecord | undefined> {
    const r = await this.db.selectFrom('netboot_images').selectAll().where('name', '=', name).executeTakeFirst();
    return r ? image(r) : undefined;
  }
  async insertImage(i: { id?: string; name: string; status: ImageStatus; createdBy: string | null }): Promise<ImageRecord> {
    const at = Date.now();
    const row: ImagesTable = { id: i.id ?? newId(), name: i.name, status: i.status, error: null, created_by: i.createdBy, created_at: at, updated_at: at };
    await this.db.insertInto('netboot_images').values(row).execute();
    return image(row);
  }
  async setImageStatus(id: string, status: ImageStatus, error: string | null = null): Promise<void> {
    await this.db.updateTable('netboot_images').set({ status, error, updated_at: Date.now() }).where('id', '=', id).execute();
  }
  async deleteImage(id: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      const versions = tx.selectFrom('netboot_image_versions').select('id').where('image_id', '=', id);
      await tx.deleteFrom('netboot_sessions').where('version_id', 'in', versions).where('state', 'in', ['stopped', 'failed']).execute();
      await tx.deleteFrom('netboot_image_versions').where('image_id', '=', id).execute();
      await tx.deleteFrom('netboot_images').where('id', '=', id).execute();
    });
  }
  async versions(imageId?: string): Promise<VersionRecord[]> {
    let q = this.db.selectFrom('netboot_image_versions').selectAll();
    if (imageId !== undefined) q = q.where('image_id', '=', imageId);
    return (await q.orderBy('image_id').orderBy('number', 'desc').execute()).map(version);
  }
  async version(id: string): Promise<VersionRecord | undefined> {
    const r = await this.db.selectFrom('netboot_image_versions').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? version(r) : undefined;
  }
  async latestVersion(imageId: string): Promise<VersionRecord | undefined> {
    const r = await this.db.selectFrom('netboot_image_versions').selectAll().where('image_id', '=', imageId).orderBy('number', 'desc').limit(1).executeTakeFirst();
    return r ? version(r) : undefined;
  }
  /** The next number and the insert in one transaction, so two commits never share a number. */
  async insertVersion(v: Omit<VersionRecord, 'number' | 'createdAt'>): Promise<VersionRecord> {
    return this.db.transaction().execute(async (tx) => {
      const last = await tx.selectFrom('netboot_image_versions').select('number').where('image_id', '=', v.imageId).orderBy('number', 'desc').limit(1).executeTakeFirst();
      const row: VersionsTable = {
        id: v.id, image_id: v.imageId, number: Number(last?.number ?? 0) + 1, file: v.file, format: v.format, virtual_size: v.virtualSize, file_size: v.fileSize,
        sha256: v.sha256, comment: v.comment, author_id: v.authorId, from_machine_id: v.fromMachineId, parent_version_id: v.parentVersionId, created_at: Date.now(),
      };
      await tx.insertInto('netboot_image_versions').values(row).execute();
      await tx.updateTable('netboot_images').set({ updated_at: Date.now() }).where('id', '=', v.imageId).execute();
      return version(row);
    });
  }
  async deleteVersion(id: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('netboot_sessions').where('version_id', '=', id).where('state', 'in', ['stopped', 'failed']).execute();
      await tx.deleteFrom('netboot_image_versions').where('id', '=', id).execute();
    });
  }
  async usernames(ids: string[]): Promise<Map<string, string>> {
    if (!ids.length) return new Map();
    const rows = await this.db.selectFrom('users').select(['id', 'username']).where('id', 'in', ids).execute();
    return new Map(rows.map((r) => [r.id, r.username]));
  }

  // ---- machines ----
  async machines(): Promise<MachineRecord[]> {
    return (await this.db.selectFrom('netboot_machines').selectAll().orderBy('name').execute()).map(machine);
  }
  async machine(id: string): Promise<MachineRecord | undefined> {
    const r = await this.db.selectFrom('netboot_machines').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? machine(r) : undefined;
  }
  async machineBy(field: 'name' | 'mac' | 'fixed_ip', value: string): Promise<MachineRecord | undefined> {
    const r = await this.db.selectFrom('netboot_machines').selectAll().where(field, '=', value).executeTakeFirst();
    return r ? machine(r) : undefined;
  }
  async countPending(): Promise<number> {
    const r = await this.db.selectFrom('netboot_machines').select((eb) => eb.fn.countAll().as('n')).where('state', '=', 'pending').executeTakeFirstOrThrow();
    return Number(r.n);
  }
  private machineRow(m: MachineInsert, id: string, at: number): MachinesTable {
    return {
      id, name: m.name, mac: m.mac, fixed_ip: m.fixedIp, group_name: m.group, state: m.state, image_id: m.imageId, version_id: m.versionId, boot_mode: m.bootMode,
      keep_writeback: m.keepWriteback ? 1 : 0, writeback_version_id: null, boot_token: m.token, notes: m.notes, last_script_at: null, last_boot_at: null,
      chap_secret: m.chapSecret ?? null, chap_rotated_at: m.chapSecret ? at : null, created_at: at, updated_at: at,
    };
  }
  async insertMachine(m: MachineInsert): Promise<MachineRecord> {
    const row = this.machineRow(m, newId(), Date.now());
    await this.db.insertInto('netboot_machines').values(row).execute();
    return machine(row);
  }
  /** All or nothing (CSV import). */
  async insertMachines(ms: MachineInsert[]): Promise<MachineRecord[]> {
    const at = Date.now();
    const rows = ms.map((m) => this.machineRow(m, newId(), at));
    await this.db.transaction().execute(async (tx) => {
      for (const r of rows) await tx.insertInto('netboot_machines').values(r).execute();
    });
    return rows.map(machine);
  }
  async updateMachine(id: string, p: MachinePatch): Promise<void> {
    const v: Partial<MachinesTable> = { updated_at: Date.now() };
    if (p.name !== undefined) v.name = p.name;
    if (p.mac !== undefined) v.mac = p.mac;
    if (p.fixedIp !== undefined) v.fixed_ip = p.fixedIp;
    if (p.group !== undefined) v.group_name = p.group;
    if (p.state !== undefined) v.state = p.state;
    if (p.imageId !== undefined) v.image_id = p.imageId;
    if (p.versionId !== undefined) v.version_id = p.versionId;
    if (p.bootMode !== undefined) v.boot_mode = p.bootMode;
    if (p.keepWriteback !== undefined) v.keep_writeback = p.keepWriteback ? 1 : 0;
    if (p.notes !== undefined) v.notes = p.notes;
    if (p.token !== undefined) v.boot_token = p.token;
    if (p.writebackVersionId !== undefined) v.writeback_version_id = p.writebackVersionId;
    if (p.lastScriptAt !== undefined) v.last_script_at = p.lastScriptAt;
    if (p.lastBootAt !== undefined) v.last_boot_at = p.lastBootAt;
    if (p.chapSecret !== undefined) {
      v.chap_secret = p.chapSecret;
      v.chap_rotated_at = p.chapSecret ? Date.now() : null;
    }
    await this.db.updateTable('netboot_machines').set(v).where('id', '=', id).execute();
  }
  async deleteMachine(id: string): Promise<void> {
    await this.db.deleteFrom('netboot_machines').where('id', '=', id).execute();
  }

  // ---- image edits ----
  async edits(o: { active?: boolean; imageId?: string } = {}): Promise<EditRecord[]> {
    let q = this.db.selectFrom('netboot_edits').selectAll();
    if (o.active) q = q.where('state', 'in', [...ACTIVE_EDIT_STATES]);
    if (o.imageId) q = q.where('image_id', '=', o.imageId);
    return (await q.orderBy('created_at', 'desc').limit(200).execute()).map(edit);
  }
  async edit(id: string): Promise<EditRecord | undefined> {
    const r = await this.db.selectFrom('netboot_edits').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? edit(r) : undefined;
  }
  async insertEdit(e: { id: string; imageId: string; versionId: string; overlay: string; createdBy: string | null }): Promise<EditRecord> {
    const at = Date.now();
    const row: EditsTable = {
      id: e.id, image_id: e.imageId, version_id: e.versionId, state: 'starting', overlay: e.overlay, vm_id: null, console_url: null, job_id: null,
      committed_version_id: null, error: null, created_by: e.createdBy, created_at: at, updated_at: at,
    };
    await this.db.insertInto('netboot_edits').values(row).execute();
    return edit(row);
  }
  async updateEdit(id: string, p: Partial<Pick<EditRecord, 'state' | 'vmId' | 'consoleUrl' | 'jobId' | 'committedVersionId' | 'error'>>): Promise<void> {
    const v: Partial<EditsTable> = { updated_at: Date.now() };
    if (p.state !== undefined) v.state = p.state;
    if (p.vmId !== undefined) v.vm_id = p.vmId;
    if (p.consoleUrl !== undefined) v.console_url = p.consoleUrl;
    if (p.jobId !== undefined) v.job_id = p.jobId;
    if (p.committedVersionId !== undefined) v.committed_version_id = p.committedVersionId;
    if (p.error !== undefined) v.error = p.error;
    await this.db.updateTable('netboot_edits').set(v).where('id', '=', id).execute();
  }

  // ---- sessions ----
  async sessions(o: { active?: boolean; machineId?: string; limit?: number } = {}): Promise<SessionRecord[]> {
    let q = this.db.selectFrom('netboot_sessions').selectAll();
    if (o.active) q = q.where('state', 'in', [...ACTIVE_SESSION_STATES]);
    if (o.machineId) q = q.where('machine_id', '=', o.machineId);
    return (await q.orderBy('started_at', 'desc').limit(o.limit ?? 1000).execute()).map(session);
  }
  async session(id: string): Promise<SessionRecord | undefined> {
    const r = await this.db.selectFrom('netboot_sessions').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? session(r) : undefined;
  }
  async activeSession(machineId: string): Promise<SessionRecord | undefined> {
    const r = await this.db.selectFrom('netboot_sessions').selectAll().where('machine_id', '=', machineId).where('state', 'in', [...ACTIVE_SESSION_STATES]).orderBy('started_at', 'desc').limit(1).executeTakeFirst();
    return r ? session(r) : undefined;
  }
  async insertSession(s: { machineId: string; versionId: string; targetIqn: string; initiatorIqn: string }): Promise<SessionRecord> {
    const row: SessionsTable = {
      id: newId(), machine_id: s.machineId, version_id: s.versionId, state: 'starting', tid: null, target_iqn: s.targetIqn, initiator_iqn: s.initiatorIqn,
      export_file: null, daemon_pid: null, job_id: null, error: null, started_at: Date.now(), ready_at: null, stopped_at: null,
    };
    await this.db.insertInto('netboot_sessions').values(row).execute();
    return session(row);
  }
  async updateSession(id: string, p: Partial<{ state: SessionState; tid: number | null; exportFile: string | null; daemonPid: number | null; jobId: string; error: string | null; readyAt: number; stoppedAt: number }>): Promise<void> {
    const v: Partial<SessionsTable> = {};
    if (p.state !== undefined) v.state = p.state;
    if (p.tid !== undefined) v.tid = p.tid;
    if (p.exportFile !== undefined) v.export_file = p.exportFile;
    if (p.daemonPid !== undefined) v.daemon_pid = p.daemonPid;
    if (p.jobId !== undefined) v.job_id = p.jobId;
    if (p.error !== undefined) v.error = p.error;
    if (p.readyAt !== undefined) v.ready_at = p.readyAt;
    if (p.stoppedAt !== undefined) v.stopped_at = p.stoppedAt;
    await this.db.updateTable('netboot_sessions').set(v).where('id', '=', id).execute();
  }

  // ---- settings ----
  async settings(): Promise<Record<string, unknown>> {
    const rows = await this.db.selectFrom('netboot_settings').selectAll().execute();
    return Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value) as unknown]));
  }
  async putSettings(values: Record<string, unknown>): Promise<void> {
    const at = Date.now();
    await this.db.transaction().execute(async (tx) => {
      for (const [key, value] of Object.entries(values)) {
        await tx.deleteFrom('netboot_settings').where('key', '=', key).execute();
        await tx.insertInto('netboot_settings').values({ key, value: JSON.stringify(value), updated_at: at }).execute();
      }
    });
  }
}
