import { type ImageFormat, type JobContext, type JobService, type JobStep } from '../../../server/src/sdk.js';
import { rename, rm, stat } from 'node:fs/promises';
import { z } from 'zod';
import type { NetbootEngine } from './netboot.engine.js';
import type { MachineRecord, NetbootRepo, SessionRecord, VersionRecord } from './netboot.repo.js';

export const JOB_SESSION_START = 'netboot.session.start';
export const JOB_SESSION_STOP = 'netboot.session.stop';
export const JOB_COMMIT = 'netboot.writeback.commit';
export const JOB_IMPORT = 'netboot.image.import';

const SessionRef = z.object({ sessionId: z.string() });
const CommitInput = z.object({ machineId: z.string(), baseVersionId: z.string(), versionId: z.string(), comment: z.string() });
const ImportInput = z.object({ imageId: z.string(), uploadId: z.string(), versionId: z.string(), format: z.string(), sha256: z.string(), comment: z.string(), virtualSize: z.number() });

export interface JobDeps {
  repo: NetbootRepo;
  engine: NetbootEngine;
  /** A machine's engines or records changed: refresh the boot-script cache, publish an event. */
  changed(machineId: string): void;
  imageChanged(imageId: string): void;
  stepDelayMs: number;
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e)).slice(0, 500);

/** Session start/stop, writeback commit and image import: named steps, each with its undo. */
export function defineNetbootJobs(jobs: JobService, d: JobDeps): void {
  const { repo, engine } = d;
  const load = async (sessionId: string): Promise<{ s: SessionRecord; m: MachineRecord; v: VersionRecord }> => {
    const s = await repo.session(sessionId);
    if (!s) throw new Error(`session ${sessionId} no longer exists`);
    const m = await repo.machine(s.machineId);
    if (!m) throw new Error(`machine ${s.machineId} no longer exists`);
    const v = await repo.version(s.versionId);
    if (!v) throw new Error(`image version ${s.versionId} no longer exists`);
    return { s, m, v };
  };
  const pause = () => (d.stepDelayMs ? new Promise((r) => setTimeout(r, d.stepDelayMs)) : Promise.resolve());

  /** A start step: under the machine's lock; a failure is recorded on the session before the undo runs. */
  const startStep = (name: string, run: (ctx: JobContext<{ sessionId: string }>, x: { s: SessionRecord; m: MachineRecord; v: VersionRecord }) => Promise<void>, undo?: (ctx: JobContext<{ sessionId: string }>, x: { s: SessionRecord; m: MachineRecord }) => Promise<void>): JobStep<{ sessionId: string }> => ({
    name,
    run: async (ctx) => {
      const x = await load(ctx.input.sessionId);
      try {
        await engine.withLock(x.m.name, () => run(ctx, x));
      } catch (e) {
        await repo.updateSession(x.s.id, { error: `${name}: ${errorText(e)}` });
        throw e;
      }
      await pause();
    },
    ...(undo ? {
      undo: async (ctx) => {
        const s = await repo.session(ctx.input.sessionId);
        const m = s ? await repo.machine(s.machineId) : undefined;
        if (!s || !m) return;
        await engine.withLock(m.name, () => undo(ctx, { s, m }));
      },
    } : {}),
  });

  jobs.define({
    type: JOB_SESSION_START,
    input: SessionRef,
    title: () => 'Start netboot session',
    steps: [
      startStep('writeback', async (ctx, { m, v }) => {
        const { fresh } = await engine.prepareWriteback(m, v);
        ctx.state.freshWriteback = fresh;
        await repo.updateMachine(m.id, { writebackVersionId: v.id });
        ctx.log(fresh ? `fresh writeback on ${v.id} (version ${v.number})` : 'kept writeback reused');
      }, async (ctx, { s, m }) => {
        // the first step's undo runs last: the session is over, its writeback gone unless it was kept
        await engine.wb.stop(m.name);
        if (ctx.state.freshWriteback !== false && !m.keepWriteback) {
          await engine.wb.discardOverlay(m.name);
          await repo.updateMachine(m.id, { writebackVersionId: null });
        }
        const again = await repo.session(s.id);
        await repo.updateSession(s.id, { state: 'failed', stoppedAt: Date.now(), error: again?.error ?? 'the session start failed' });
        d.changed(m.id);
      }),
      startStep('export', async (ctx, { s, m, v }) => {
        const { exportFile, pid } = await engine.startExport(m, v, ctx.signal);
        await repo.updateSession(s.id, { exportFile, daemonPid: pid });
        ctx.log(`qemu-storage-daemon ${pid} exports ${exportFile}`);
      }, async (_ctx, { m }) => {
        await engine.wb.stop(m.name);
      }),
      startStep('target', async (ctx, { s, m }) => {
        const { tid } = await engine.createTarget(m);
        await repo.updateSession(s.id, { tid });
        ctx.log(`tgt target ${tid} ${engine.targetIqn(m.name)}`);
      }, async (_ctx, { m }) => {
        await engine.removeTarget(m.name);
      }),
      startStep('acl', async (ctx, { s, m }) => {
        const { s: fresh } = await load(s.id);
        await engine.bindAcl(m, fresh.tid!);
        ctx.log(m.fixedIp ? `ACL: initiator address ${m.fixedIp}` : `ACL: initiator ${engine.initiatorIqn(m.name)}`);
      }),
      startStep('chap', async (ctx, { s, m }) => {
        const { s: fresh } = await load(s.id);
        if (await engine.bindChap(m, fresh.tid!)) ctx.log(`CHAP: account ${engine.chapUser(m)} bound (the secret is only in the machine's script)`);
        else ctx.log('CHAP: off for this machine');
      }, async (_ctx, { m }) => {
        await engine.removeChap(m);
      }),
      startStep('lun', async (ctx, { s }) => {
        const { s: fresh } = await load(s.id);
        await engine.addLun(fresh.tid!, fresh.exportFile!);
        ctx.log(`LUN 1 ← ${fresh.exportFile}`);
      }),
      startStep('script ready', async (ctx, { s, m }) => {
        const now = await repo.session(s.id);
        // a stop requested meanwhile wins: its job (queued behind this one) tears down
        if (now?.state === 'starting') await repo.updateSession(s.id, { state: 'ready', readyAt: Date.now(), error: null });
        d.changed(m.id);
        ctx.log('ready: the machine may boot');
      }),
    ],
  });

  const stopStep = (name: string, run: (ctx: JobContext<{ sessionId: string }>, x: { s: SessionRecord; m: MachineRecord }) => Promise<void>): JobStep<{ sessionId: string }> => ({
    name,
    idempotent: true,
    run: async (ctx) => {
      const s = await repo.session(ctx.input.sessionId);
      if (!s) throw new Error(`session ${ctx.input.sessionId} no longer exists`);
      const m = await repo.machine(s.machineId);
      if (!m) throw new Error(`machine ${s.machineId} no longer exists`);
      await engine.withLock(m.name, () => run(ctx, { s, m }));
    },
  });

  jobs.define({
    type: JOB_SESSION_STOP,
    input: SessionRef,
    title: () => 'Stop netboot session',
    steps: [
      stopStep('remove target', async (ctx, { m }) => {
        if (await engine.removeTarget(m.name)) ctx.log(`target ${engine.targetIqn(m.name)} removed`);
      }),
      stopStep('remove CHAP account', async (ctx, { m }) => {
        if (await engine.removeChap(m)) ctx.log(`CHAP account ${engine.chapUser(m)} removed`);
      }),
      stopStep('stop export', async (ctx, { m }) => {
        if ((await engine.wb.stop(m.name)).wasRunning) ctx.log('export stopped');
      }),
      stopStep('writeback', async (ctx, { m }) => {
        if (m.keepWriteback) {
          ctx.log('writeback kept for the next boot');
          return;
        }
        if (await engine.wb.discardOverlay(m.name)) ctx.log('writeback discarded');
        await repo.updateMachine(m.id, { writebackVersionId: null });
      }),
      stopStep('stopped', async (_ctx, { s, m }) => {
        await repo.updateSession(s.id, { state: 'stopped', stoppedAt: Date.now() });
        d.changed(m.id);
      }),
    ],
  });

  jobs.define({
    type: JOB_COMMIT,
    input: CommitInput,
    title: () => 'Commit writeback as a new image version',
    steps: [
      {
        name: 'flatten',
        run: async (ctx) => {
          const m = await repo.machine(ctx.input.machineId);
          if (!m) throw new Error('the machine no longer exists');
          const base = await repo.version(ctx.input.baseVersionId);
          if (!base || m.writebackVersionId !== base.id) throw new Error('the writeback changed since the commit was asked for (stopped or discarded)');
          const dest = engine.versionFile(ctx.input.versionId);
          ctx.state.dest = dest;
          await ctx.saveState();
          await engine.withLock(m.name, async () => {
            if (await engine.wb.isRunning(m.name)) {
              ctx.log('the machine is running: copying its disk as it is now (live backup)');
              await engine.wb.backupTo(m.name, dest, { virtualSize: base.virtualSize, signal: ctx.signal });
            } else {
              await engine.wb.commitTo(m.name, dest);
            }
          });
          ctx.log(`flattened into ${dest}`);
        },
        undo: async (ctx) => {
          if (typeof ctx.state.dest === 'string') await rm(ctx.state.dest, { force: true });
        },
      },
      {
        name: 'register version',
        run: async (ctx) => {
          const m = (await repo.machine(ctx.input.machineId))!;
          const base = await repo.version(ctx.input.baseVersionId);
          if (!base) throw new Error('the base version no longer exists');
          const dest = engine.versionFile(ctx.input.versionId);
          const info = await engine.qemuImg.info(dest, { format: 'qcow2' });
          const v = await repo.insertVersion({
            id: ctx.input.versionId, imageId: base.imageId, file: dest, format: 'qcow2', virtualSize: info.virtualSize, fileSize: (await stat(dest)).size,
            sha256: null, comment: ctx.input.comment, authorId: ctx.actor.userId, fromMachineId: m.id, parentVersionId: base.id,
          });
          ctx.log(`image version ${v.number} registered`);
          d.imageChanged(base.imageId);
          d.changed(m.id);
        },
      },
    ],
  });

  jobs.define({
    type: JOB_IMPORT,
    input: ImportInput,
    title: () => 'Import netboot image',
    steps: [
      {
        name: 'convert',
        run: async (ctx) => {
          const { imageId, uploadId, versionId, format } = ctx.input;
          const dest = engine.versionFile(versionId);
          const tmp = `${dest}.tmp`;
          try {
            const space = await engine.spaceAvailable();
            const need = await engine.qemuImg.measure(engine.uploadFile(uploadId), { format: format as ImageFormat, outputFormat: 'qcow2' });
            if (need.required > space.usableBytes) throw new Error(`not enough disk space: the image needs ${need.required} bytes, ${space.usableBytes} are free beyond the reserve`);
            await engine.qemuImg.convert(engine.uploadFile(uploadId), tmp, { outputFormat: 'qcow2', sourceFormat: format as ImageFormat, signal: ctx.signal });
            await rename(tmp, dest);
            ctx.log(`converted ${format} → qcow2`);
          } catch (e) {
            await rm(tmp, { force: true });
            await engine.removeUpload(uploadId);
            await repo.setImageStatus(imageId, 'failed', errorText(e));
            d.imageChanged(imageId);
            throw e;
          }
        },
        undo: async (ctx) => {
          await rm(engine.versionFile(ctx.input.versionId), { force: true });
          await engine.removeUpload(ctx.input.uploadId);
          await repo.setImageStatus(ctx.input.imageId, 'failed', 'the import failed: see the job log');
          d.imageChanged(ctx.input.imageId);
        },
      },
      {
        name: 'register version',
        run: async (ctx) => {
          const dest = engine.versionFile(ctx.input.versionId);
          const info = await engine.qemuImg.info(dest, { format: 'qcow2' });
          await repo.insertVersion({
            id: ctx.input.versionId, imageId: ctx.input.imageId, file: dest, format: 'qcow2', virtualSize: info.virtualSize, fileSize: (await stat(dest)).size,
            sha256: ctx.input.sha256, comment: ctx.input.comment, authorId: ctx.actor.userId, fromMachineId: null, parentVersionId: null,
          });
          await repo.setImageStatus(ctx.input.imageId, 'ready');
          await engine.removeUpload(ctx.input.uploadId);
          d.imageChanged(ctx.input.imageId);
          ctx.log('image ready');
        },
      },
    ],
  });
}
