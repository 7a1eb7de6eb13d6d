import {
  type Actor, type AuditLog, authorize, can, type CapabilityUse, ConflictError, DomainRuleError, ForbiddenError, type HttpApp, JobSummary, type JobService,
  type JobView, newId, resource, SYSTEM_ACTOR,
} from '../../../server/src/sdk.js';
import { rm, stat } from 'node:fs/promises';
import { z } from 'zod';
import type { NetbootEngine } from './netboot.engine.js';
import { netbootPermissions as P } from './netboot.permissions.js';
import type { EditRecord, NetbootRepo } from './netboot.repo.js';
import { CommitWriteback } from './netboot.schema.js';

/**
 * Editing an image version as a VM (ggRock's server-side editing): this module makes a qcow2
 * overlay on the version under its own data root, asks the `vm-disk-editor` capability (the vps
 * module, through `ctx.use`; never an import) for a VM on it, and on commit stops that VM and
 * flattens base + overlay into a new self-contained version, exactly as a machine's writeback
 * commit does. The base version file is never written: the VM writes the overlay only.
 */

export const JOB_EDIT_START = 'netboot.edit.start';
export const JOB_EDIT_COMMIT = 'netboot.edit.commit';
const EDITOR = 'vm-disk-editor' as const;

export type EditorUse = () => CapabilityUse<typeof EDITOR>;

export interface EditDeps {
  repo: NetbootRepo;
  engine: NetbootEngine;
  jobs: JobService;
  audit: AuditLog;
  editor: EditorUse;
  imageChanged(imageId: string): void;
}

export const EditorView = z.object({ available: z.boolean(), provider: z.string().nullable(), reason: z.string().nullable() });
export const EditView = z.object({
  id: z.string(), imageId: z.string(), versionId: z.string(), versionNumber: z.number().nullable(),
  state: z.enum(['starting', 'running', 'stopped', 'committing', 'committed', 'discarded', 'failed']),
  vmId: z.string().nullable(), consoleUrl: z.string().nullable(),
  /** What the editor says about the VM now (null when it cannot be asked). */
  vm: z.object({ state: z.string(), reason: z.string().nullable() }).nullable(),
  committedVersionId: z.string().nullable(), error: z.string().nullable(), createdBy: z.string().nullable(), createdAt: z.number(), updatedAt: z.number(),
});
type EditViewT = z.output<typeof EditView>;

/** How long an edit may have no job id (its row inserted, its job not yet launched) before reconcile settles it. */
export const EDIT_LAUNCH_GRACE_MS = 5 * 60_000;

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e)).slice(0, 500);

export class NetbootEdits {
  constructor(private readonly d: EditDeps) {}

  editorStatus(): z.output<typeof EditorView> {
    const u = this.d.editor();
    return u.available ? { available: true, provider: u.provider, reason: null } : { available: false, provider: u.provider, reason: `${u.reason} (editing an image as a VM needs a module that provides the VM editor, such as the vps module)` };
  }

  /** The editor, or a 422 that says why there is none (netboot works on without it). */
  private editorFor(actor: Actor) {
    const u = this.d.editor();
    if (!u.available) throw new DomainRuleError(`Editing an image as a VM is not available: ${this.editorStatus().reason}`, 'editor_unavailable', { reason: u.reason });
    if (!can(actor, u.impl.permission)) throw new ForbiddenError(`Editing an image as a VM also needs ${u.impl.permission} (the VM and its console belong to module ${u.provider})`);
    return u.impl;
  }

  private async view(actor: Actor, e: EditRecord): Promise<EditViewT> {
    const v = await this.d.repo.version(e.versionId);
    let vm: EditViewT['vm'] = null;
    const u = this.d.editor();
    if (e.vmId && u.available && (e.state === 'running' || e.state === 'starting') && can(actor, u.impl.permission)) {
      vm = await u.impl.state(actor, e.vmId).catch((err: unknown) => ({ state: 'unknown', reason: errorText(err) }));
    }
    return {
      id: e.id, imageId: e.imageId, versionId: e.versionId, versionNumber: v?.number ?? null, state: e.state, vmId: e.vmId, consoleUrl: e.consoleUrl, vm,
      committedVersionId: e.committedVersionId, error: e.error, createdBy: e.createdBy, createdAt: e.createdAt, updatedAt: e.updatedAt,
    };
  }

  async list(actor: Actor, imageId: string): Promise<{ editor: z.output<typeof EditorView>; items: EditViewT[] }> {
    authorize(actor, P.read, resource('Image', imageId, await this.d.repo.image(imageId), () => null));
    const edits = await this.d.repo.edits({ imageId });
    return { editor: this.editorStatus(), items: await Promise.all(edits.map((e) => this.view(actor, e))) };
  }

  private async loadEdit(actor: Actor, id: string): Promise<EditRecord> {
    const e = authorize(actor, P.manage, resource('Edit', id, await this.d.repo.edit(id), () => null));
    return e;
  }

  /** One edit per image at a time; the version must exist; the overlay and VM are made by a job. */
  async start(actor: Actor, imageId: string, o: { versionId?: string }): Promise<{ edit: EditViewT; job: JobView }> {
    const img = authorize(actor, P.manage, resource('Image', imageId, await this.d.repo.image(imageId), () => null));
    this.editorFor(actor);
    if (img.status !== 'ready') throw new DomainRuleError(`Image ${img.name} is ${img.status}`, 'image_not_ready');
    const v = o.versionId ? await this.d.repo.version(o.versionId) : await this.d.repo.latestVersion(imageId);
    if (!v || v.imageId !== imageId) throw new DomainRuleError(`Version '${o.versionId ?? ''}' is not a version of image ${img.name}`, 'unknown_version', { field: 'versionId' });
    const active = (await this.d.repo.edits({ active: true, imageId }))[0];
    if (active) throw new ConflictError(`Image ${img.name} is already being edited (version ${(await this.d.repo.version(active.versionId))?.number ?? '?'}): commit or discard that edit first`, { edit: active.id });
    const space = await this.d.engine.spaceAvailable();
    if (v.fileSize > space.usableBytes) throw new DomainRuleError(`Not enough disk space for an edit of ${img.name}: its commit needs about ${v.fileSize} bytes, ${space.usableBytes} are free beyond the reserve`, 'insufficient_space', { needBytes: v.fileSize, ...space });
    const id = newId();
    const e = await this.d.repo.insertEdit({ id, imageId, versionId: v.id, overlay: this.d.engine.editFile(id), createdBy: actor.userId });
    const job = await this.d.jobs.launch(actor, {
      type: JOB_EDIT_START, input: { editId: e.id }, resource: `netboot:image:${imageId}`,
      audit: { action: 'netboot.image.edit.start', target: { type: 'netboot-image', id: imageId, name: img.name }, details: { edit: e.id, versionId: v.id, number: v.number } },
    });
    await this.d.repo.updateEdit(e.id, { jobId: job.id });
    this.d.imageChanged(imageId);
    return { edit: await this.view(actor, e), job };
  }

  async commit(actor: Actor, editId: string, comment: string): Promise<{ job: JobView; versionId: string }> {
    const e = await this.loadEdit(actor, editId);
    this.editorFor(actor);
    if (e.state !== 'running' && e.state !== 'stopped') throw new ConflictError(`The edit is ${e.state}: only a running or stopped edit can be committed`, { state: e.state });
    const img = (await this.d.repo.image(e.imageId))!;
    const versionId = newId();
    // the start job's id goes with it: until the commit job's id is stored the edit has none
    await this.d.repo.updateEdit(e.id, { state: 'committing', jobId: null, error: null });
    const job = await this.d.jobs.launch(actor, {
      type: JOB_EDIT_COMMIT, input: { editId: e.id, versionId, comment }, resource: `netboot:image:${e.imageId}`,
      audit: { action: 'netboot.image.edit.commit', target: { type: 'netboot-image', id: e.imageId, name: img.name }, details: { edit: e.id, baseVersionId: e.versionId, versionId, comment } },
    });
    await this.d.repo.updateEdit(e.id, { jobId: job.id });
    this.d.imageChanged(e.imageId);
    return { job, versionId };
  }

  /** Stops the VM (when there is one) and throws the overlay away. */
  async discard(actor: Actor, editId: string): Promise<{ edit: EditViewT }> {
    const e = await this.loadEdit(actor, editId);
    if (e.state === 'committing' || e.state === 'starting') throw new ConflictError(`The edit is ${e.state}: wait for its job`, { state: e.state });
    if (e.state === 'committed' || e.state === 'discarded') throw new ConflictError(`The edit is already ${e.state}`, { state: e.state });
    if (e.vmId) await this.editorFor(actor).stop(actor, e.vmId);
    await rm(e.overlay, { force: true });
    await this.d.repo.updateEdit(e.id, { state: 'discarded' });
    await this.d.audit.record({ actor, action: 'netboot.image.edit.discard', target: { type: 'netboot-image', id: e.imageId }, details: { edit: e.id, versionId: e.versionId } });
    this.d.imageChanged(e.imageId);
    return { edit: await this.view(actor, (await this.d.repo.edit(e.id))!) };
  }

  /**
   * Edits left in `starting` or `committing` by a job that is no longer queued or running (the
   * panel died or restarted mid-job, or the job is gone): a start is undone (its VM stopped when
   * known, its overlay removed, the edit `failed`); a commit goes back to `stopped` with the
   * overlay kept (commit again or discard), or to `failed` when its overlay is already gone. An
   * edit with no job id yet is between its insert and its job's launch: left alone for
   * `EDIT_LAUNCH_GRACE_MS`. Run by the reconcile (module start and every minute).
   */
  async settleDead(jobLive: (jobId: string) => Promise<boolean>): Promise<{ edit: string; to: 'failed' | 'stopped' }[]> {
    const out: { edit: string; to: 'failed' | 'stopped' }[] = [];
    for (const e of await this.d.repo.edits({ active: true })) {
      if (e.state !== 'starting' && e.state !== 'committing') continue;
      if (e.jobId ? await jobLive(e.jobId) : Date.now() - e.updatedAt < EDIT_LAUNCH_GRACE_MS) continue;
      const now = await this.d.repo.edit(e.id);
      if (!now || now.state !== e.state || now.jobId !== e.jobId) continue; // moved on meanwhile
      let to: 'failed' | 'stopped';
      if (e.state === 'starting') {
        const u = this.d.editor();
        if (e.vmId && u.available) await u.impl.stop(SYSTEM_ACTOR, e.vmId).catch(() => {});
        await rm(e.overlay, { force: true });
        to = 'failed';
        await this.d.repo.updateEdit(e.id, { state: to, jobId: null, error: e.error ?? 'the panel stopped while the edit was starting' });
      } else {
        const kept = await stat(e.overlay).then(() => true, () => false);
        to = kept ? 'stopped' : 'failed';
        await this.d.repo.updateEdit(e.id, { state: to, jobId: null, error: kept ? 'the panel stopped while the edit was being committed: commit again or discard' : 'the panel stopped while the edit was being committed, and its overlay is gone' });
      }
      out.push({ edit: e.id, to });
      this.d.imageChanged(e.imageId);
    }
    return out;
  }

  /** Versions an active edit is on (in use: refused deletion). */
  async versionsInEdit(): Promise<Set<string>> {
    return new Set((await this.d.repo.edits({ active: true })).map((e) => e.versionId));
  }
}

const EditRef = z.object({ editId: z.string() });
const CommitInput = z.object({ editId: z.string(), versionId: z.string(), comment: z.string() });

export function defineEditJobs(jobs: JobService, d: EditDeps): void {
  const { repo, engine } = d;
  const load = async (id: string) => {
    const e = await repo.edit(id);
    if (!e) throw new Error(`edit ${id} no longer exists`);
    const v = await repo.version(e.versionId);
    if (!v) throw new Error(`image version ${e.versionId} no longer exists`);
    return { e, v };
  };
  const editor = () => {
    const u = d.editor();
    if (!u.available) throw new Error(`the VM editor is not available: ${u.reason}`);
    return u.impl;
  };

  jobs.define({
    type: JOB_EDIT_START,
    input: EditRef,
    title: () => 'Edit an image version as a VM',
    steps: [
      {
        name: 'overlay',
        run: async (ctx) => {
          const { e, v } = await load(ctx.input.editId);
          await engine.qemuImg.create(e.overlay, { backing: { file: v.file, format: v.format } });
          ctx.log(`overlay on version ${v.number}`);
        },
        undo: async (ctx) => {
          const e = await repo.edit(ctx.input.editId);
          if (!e) return;
          await rm(e.overlay, { force: true });
          await repo.updateEdit(e.id, { state: 'failed', error: e.error ?? 'the edit could not be started' });
          d.imageChanged(e.imageId);
        },
      },
      {
        name: 'vm',
        run: async (ctx) => {
          const { e, v } = await load(ctx.input.editId);
          try {
            const vm = await editor().start(ctx.actor, { name: `nbedit-${e.id.slice(0, 8)}`, disk: { path: e.overlay, format: 'qcow2' }, memoryMb: 1024, vcpus: 1, network: false });
            ctx.state.vmId = vm.vmId;
            await ctx.saveState();
            await repo.updateEdit(e.id, { state: 'running', vmId: vm.vmId, consoleUrl: vm.consoleUrl });
            ctx.log(`VM ${vm.vmId} runs on the overlay of version ${v.number}`);
            d.imageChanged(e.imageId);
          } catch (err) {
            await repo.updateEdit(e.id, { error: `vm: ${errorText(err)}` });
            throw err;
          }
        },
        undo: async (ctx) => {
          if (typeof ctx.state.vmId === 'string') await editor().stop(ctx.actor, ctx.state.vmId);
        },
      },
    ],
  });

  const failCommit = async (editId: string, err: unknown) => {
    const e = await repo.edit(editId);
    if (e && e.state === 'committing') await repo.updateEdit(editId, { state: 'stopped', error: errorText(err) });
    if (e) d.imageChanged(e.imageId);
  };

  jobs.define({
    type: JOB_EDIT_COMMIT,
    input: CommitInput,
    title: () => 'Commit an image edit as a new version',
    steps: [
      {
        name: 'stop vm',
        idempotent: true,
        run: async (ctx) => {
          const { e } = await load(ctx.input.editId);
          try {
            if (e.vmId) await editor().stop(ctx.actor, e.vmId);
          } catch (err) {
            await failCommit(e.id, err);
            throw err;
          }
          ctx.log('VM stopped');
        },
      },
      {
        name: 'flatten',
        run: async (ctx) => {
          const { e } = await load(ctx.input.editId);
          const dest = engine.versionFile(ctx.input.versionId);
          try {
            await engine.qemuImg.convert(e.overlay, dest, { outputFormat: 'qcow2', sourceFormat: 'qcow2', signal: ctx.signal });
          } catch (err) {
            await rm(dest, { force: true });
            await failCommit(e.id, err);
            throw err;
          }
          ctx.log(`flattened into ${dest}`);
        },
        undo: async (ctx) => {
          await rm(engine.versionFile(ctx.input.versionId), { force: true });
          await failCommit(ctx.input.editId, new Error('the commit was undone'));
        },
      },
      {
        name: 'register version',
        run: async (ctx) => {
          const { e, v: base } = await load(ctx.input.editId);
          const dest = engine.versionFile(ctx.input.versionId);
          const info = await engine.qemuImg.info(dest, { format: 'qcow2' });
          const v = await repo.insertVersion({
            id: ctx.input.versionId, imageId: base.imageId, file: dest, format: 'qcow2', virtualSize: info.virtualSize, fileSize: (await stat(dest)).size,
            sha256: null, comment: ctx.input.comment, authorId: ctx.actor.userId, fromMachineId: null, parentVersionId: base.id,
          });
          await rm(e.overlay, { force: true });
          await repo.updateEdit(e.id, { state: 'committed', committedVersionId: v.id, error: null });
          ctx.log(`image version ${v.number} registered`);
          d.imageChanged(base.imageId);
        },
      },
    ],
  });
}

export function registerEditRoutes(http: HttpApp, edits: NetbootEdits): void {
  const tags = ['netboot'];
  const Id = z.object({ id: z.string().min(1).max(100) });
  http.get('/netboot/images/:id/edits', { config: { permission: P.read }, schema: { operationId: 'listNetbootImageEdits', tags, summary: 'Edits of an image as a VM, and whether the VM editor (vps module) is available and why not', params: Id, response: { 200: z.object({ editor: EditorView, items: z.array(EditView) }) } } },
    async (req) => edits.list(req.actor, req.params.id));
  http.post('/netboot/images/:id/edits', { config: { permission: P.manage }, schema: { operationId: 'startNetbootImageEdit', tags, summary: 'Boot an image version as a VM on an overlay (job; needs the vps module); edit it in the VM console, then commit', params: Id, body: z.object({ versionId: z.string().min(1).max(100).optional() }).strict(), response: { 202: z.object({ edit: EditView, job: JobSummary }) } } },
    async (req, reply) => reply.code(202).send(await edits.start(req.actor, req.params.id, req.body)));
  http.post('/netboot/edits/:id/commit', { config: { permission: P.manage }, schema: { operationId: 'commitNetbootImageEdit', tags, summary: 'Stop the edit VM and commit its disk as a new image version with a comment (job)', params: Id, body: CommitWriteback, response: { 202: z.object({ job: JobSummary, versionId: z.string() }) } } },
    async (req, reply) => reply.code(202).send(await edits.commit(req.actor, req.params.id, req.body.comment)));
  http.post('/netboot/edits/:id/discard', { config: { permission: P.manage }, schema: { operationId: 'discardNetbootImageEdit', tags, summary: 'Stop the edit VM and throw its changes away', params: Id, response: { 200: z.object({ edit: EditView }) } } },
    async (req) => edits.discard(req.actor, req.params.id));
}
