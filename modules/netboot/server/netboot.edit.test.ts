import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineEngine, defineModule, definePermissions, LocalProcessRunner, SYSTEM_ACTOR, type StreamHandle, type VmDiskEditor } from '../../../server/src/testing/index.js';
import { createTestApp, type SignedIn, type TestApp } from '../../../server/src/testing/harness.js';
import { injector } from './test-fixtures/inject.js';
import { createNetbootModule, type NetbootRuntime } from './index.js';
import { markerBootSector, MARKER_OK } from './test-fixtures/marker-mbr.js';
import { netbootTestEnv, uniqueTestIds } from './test-fixtures/runners.js';

/**
 * Editing an image version as a VM through the SDK's capability registry. The provider here is a
 * second module (as vps is) that boots the disk it is given in a real QEMU TCG VM; the image's boot
 * sector writes a marker to its disk, as an operator's edit in the console would. Commit puts the
 * marker into a new version and never into the old one. Without a provider (vps disabled) or with
 * an unavailable one, netboot keeps working and says why editing is not possible.
 */

const run = new LocalProcessRunner();
const haveQemu = existsSync('/usr/bin/qemu-system-x86_64');
const ids = uniqueTestIds();
const api = (app: () => TestApp) => injector(app);
let fixtures: string;

/** A module that provides `vm-disk-editor` with real QEMU (TCG) VMs; the permission is admin-only. */
function editorModule(vms: Map<string, { proc: StreamHandle; serial: string; disk: string }>, dir: () => string) {
  const perms = definePermissions('vmedittest', { use: { description: 'Use the test VM editor', roles: [] } });
  return defineModule({
    id: 'vmedittest', title: 'Test VM editor', permissions: perms,
    register(ctx) {
      const impl: VmDiskEditor = {
        permission: perms.use,
        async start(_actor, o) {
          const id = `${o.name}-${vms.size}`;
          const serial = `${dir()}/${id}.serial`;
          const proc = run.stream('qemu-system-x86_64', [
            '-accel', 'tcg', '-m', '32', '-display', 'none', '-monitor', 'none', '-no-reboot', '-nodefaults', '-serial', `file:${serial}`,
            '-drive', `file=${o.disk.path},format=${o.disk.format},if=ide,index=0,media=disk`, '-boot', 'c', ...(o.network ? [] : ['-nic', 'none']),
          ]);
          vms.set(id, { proc, serial, disk: o.disk.path });
          return { vmId: id, consoleUrl: `/vmedittest/${id}/console` };
        },
        async state(_actor, vmId) {
          const vm = vms.get(vmId);
          return vm ? { state: 'running', reason: existsSync(vm.serial) ? readFileSync(vm.serial, 'latin1').slice(-80) : null } : { state: 'gone', reason: null };
        },
        async stop(_actor, vmId) {
          const vm = vms.get(vmId);
          if (!vm) return;
          vm.proc.stop();
          await vm.proc.done.catch(() => {});
          vms.delete(vmId);
        },
      };
      ctx.provide('vm-disk-editor', impl);
    },
  });
}

/** A provider whose engine is missing: what netboot sees when vps is enabled but libvirt is down. */
const brokenEditorModule = defineModule({
  id: 'vmeditbroken', title: 'Broken VM editor', permissions: definePermissions('vmeditbroken', { use: { description: 'x', roles: [] } }),
  engines: [defineEngine({ id: 'libvirt', title: 'libvirt', probe: async () => ({ ok: false, reason: 'libvirt does not answer on qemu:///system', fix: 'start libvirtd' }) })],
  register(ctx) {
    ctx.provide('vm-disk-editor', { permission: 'vmeditbroken.use', start: async () => { throw new Error('never'); }, state: async () => ({ state: 'gone', reason: null }), stop: async () => {} });
  },
});

beforeAll(async () => {
  fixtures = await mkdtemp('/tmp/slw-nbedit-');
  await writeFile(`${fixtures}/disk.raw`, markerBootSector());
  await truncate(`${fixtures}/disk.raw`, 16 * 1024 * 1024);
});
afterAll(async () => {
  await rm(fixtures, { recursive: true, force: true });
});

async function upload(call: ReturnType<typeof api>, t: TestApp, who: SignedIn, name: string): Promise<{ imageId: string; v1: string }> {
  // on a loaded machine the first tgt probe can time out: wait until the module is usable
  for (const until = Date.now() + 90_000; !t.services.modules.isUsable('netboot') && Date.now() < until;) await new Promise((r) => setTimeout(r, 250));
  const up = await call('POST', `/netboot/images?name=${name}`, who, await readFile(`${fixtures}/disk.raw`), { 'content-type': 'application/octet-stream' });
  expect(up.status, up.text).toBe(202);
  expect((await t.services.jobs.waitFor(up.body.job.id, 60_000)).state).toBe('succeeded');
  const img = await call('GET', `/netboot/images/${up.body.image.id}`, who);
  return { imageId: up.body.image.id, v1: img.body.versions[0].id };
}

describe.skipIf(!haveQemu)('edit an image version as a VM (capability vm-disk-editor from another module)', () => {
  let t: TestApp;
  let rt: NetbootRuntime;
  let admin: SignedIn;
  let operator: SignedIn;
  const vms = new Map<string, { proc: StreamHandle; serial: string; disk: string }>();
  const call = api(() => t);
  let imageId = '';
  let v1 = '';
  let editId = '';

  beforeAll(async () => {
    t = await createTestApp({ modules: [createNetbootModule({ onRuntime: (r) => (rt = r) }), editorModule(vms, () => fixtures)], env: netbootTestEnv(ids) });
    admin = await t.signIn('admin');
    operator = await t.signIn('operator');
    ({ imageId, v1 } = await upload(call, t, admin, 'edit-os'));
  }, 120_000);
  afterAll(async () => {
    for (const id of [...vms.keys()]) { vms.get(id)!.proc.stop(); await vms.get(id)!.proc.done.catch(() => {}); }
    await t?.close();
  });

  it('shows the editor as available; an operator with netboot.manage but without the editor\'s permission is refused', async () => {
    const list = await call('GET', `/netboot/images/${imageId}/edits`, operator);
    expect(list.status).toBe(200);
    expect(list.body.editor).toEqual({ available: true, provider: 'vmedittest', reason: null });
    const refused = await call('POST', `/netboot/images/${imageId}/edits`, operator, {});
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain('vmedittest.use');
    expect(vms.size).toBe(0);
  });

  it('hostile input: another image\'s or an unknown version is refused at the field', async () => {
    const other = await upload(call, t, admin, 'other-os');
    const res = await call('POST', `/netboot/images/${imageId}/edits`, admin, { versionId: other.v1 });
    expect(res.status).toBe(422);
    expect(res.body.error.details.field).toBe('versionId');
    expect((await call('POST', `/netboot/images/${imageId}/edits`, admin, { versionId: '../../etc/passwd' })).status).toBe(422);
    expect((await call('POST', `/netboot/images/${imageId}/edits`, admin, { versionId: v1, disk: '/etc/shadow' })).status).toBe(400);
    expect(vms.size).toBe(0);
  });

  it('boots the version as a VM on an overlay; the VM\'s write lands in the overlay, never in the version', async () => {
    const res = await call('POST', `/netboot/images/${imageId}/edits`, admin, { versionId: v1 });
    expect(res.status, res.text).toBe(202);
    editId = res.body.edit.id;
    const job = await t.services.jobs.waitFor(res.body.job.id, 60_000);
    expect(job.state, JSON.stringify(await t.services.jobs.logs(job.id, SYSTEM_ACTOR))).toBe('succeeded');
    expect(job.steps.map((s) => s.name)).toEqual(['overlay', 'vm']);
    const [vm] = [...vms.values()];
    expect(vm!.disk).toBe(`${rt.engine.paths.edits}/${editId}.qcow2`);
    // the operator's "edit": the boot sector writes its marker through the BIOS
    const started = Date.now();
    let out = '';
    while (Date.now() - started < 120_000 && !out.includes('SLIPWAY-MARKER')) {
      out = existsSync(vm!.serial) ? readFileSync(vm!.serial, 'latin1') : '';
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(out).toContain(MARKER_OK);
    const list = await call('GET', `/netboot/images/${imageId}/edits`, admin);
    expect(list.body.items[0]).toMatchObject({ id: editId, state: 'running', versionId: v1, versionNumber: 1, consoleUrl: expect.stringContaining('/console'), vm: { state: 'running' } });
    // a second edit of the same image, and deleting the version under edit, are refused
    expect((await call('POST', `/netboot/images/${imageId}/edits`, admin, {})).status).toBe(409);
    const img = await call('GET', `/netboot/images/${imageId}`, admin);
    expect(img.body.versions).toHaveLength(1);
  });

  it('commit (comment required) stops the VM and makes version 2 with the marker; version 1 is unchanged', async () => {
    expect((await call('POST', `/netboot/edits/${editId}/commit`, admin, { comment: '' })).status).toBe(400);
    expect((await call('POST', `/netboot/edits/${editId}/commit`, operator, { comment: 'x' })).status).toBe(403);
    const res = await call('POST', `/netboot/edits/${editId}/commit`, admin, { comment: 'installed the marker' });
    expect(res.status, res.text).toBe(202);
    const job = await t.services.jobs.waitFor(res.body.job.id, 60_000);
    expect(job.state, JSON.stringify(await t.services.jobs.logs(job.id, SYSTEM_ACTOR))).toBe('succeeded');
    expect(vms.size).toBe(0);
    const img = await call('GET', `/netboot/images/${imageId}`, admin);
    expect(img.body.versions.map((v: { number: number; comment: string }) => [v.number, v.comment])).toEqual([[2, 'installed the marker'], [1, 'Uploaded']]);
    const v2 = img.body.versions[0];
    expect(v2).toMatchObject({ id: res.body.versionId, parentVersionId: v1, author: { id: admin.user.id } });
    const flat = async (file: string, out: string) => {
      await run.exec('qemu-img', ['convert', '-q', '-f', 'qcow2', '-O', 'raw', file, out]);
      return readFile(out);
    };
    const new2 = await flat(rt.engine.versionFile(v2.id), `${fixtures}/v2.raw`);
    const old1 = await flat(rt.engine.versionFile(v1), `${fixtures}/v1.raw`);
    expect(new2.subarray(512, 1024).equals(markerBootSector())).toBe(true);
    expect(old1.subarray(512, 1024).every((b) => b === 0)).toBe(true);
    expect(existsSync(`${rt.engine.paths.edits}/${editId}.qcow2`)).toBe(false);
    const list = await call('GET', `/netboot/images/${imageId}/edits`, admin);
    expect(list.body.items[0]).toMatchObject({ state: 'committed', committedVersionId: v2.id });
    // both audit entries of the launched change (started + outcome)
    const audit = await t.services.database.db.selectFrom('audit_log' as never).selectAll().execute() as { action: string; outcome: string }[];
    expect(audit.filter((a) => a.action === 'netboot.image.edit.commit').map((a) => a.outcome).sort()).toEqual(['started', 'success']);
  });

  it('discard stops the VM and removes the overlay; the version becomes deletable again', async () => {
    const res = await call('POST', `/netboot/images/${imageId}/edits`, admin, {});
    expect((await t.services.jobs.waitFor(res.body.job.id, 60_000)).state).toBe('succeeded');
    const id = res.body.edit.id;
    expect(vms.size).toBe(1);
    const v2 = (await call('GET', `/netboot/images/${imageId}`, admin)).body.versions[0].id;
    const del = await call('DELETE', `/netboot/images/${imageId}/versions/${v2}`, admin);
    expect(del.status).toBe(409);
    expect(del.body.error.message).toMatch(/being edited/);
    const d = await call('POST', `/netboot/edits/${id}/discard`, admin);
    expect(d.status, d.text).toBe(200);
    expect(d.body.edit.state).toBe('discarded');
    expect(vms.size).toBe(0);
    expect(existsSync(`${rt.engine.paths.edits}/${id}.qcow2`)).toBe(false);
    expect((await call('POST', `/netboot/edits/${id}/discard`, admin)).status).toBe(409);
  });

  it('an edit left in starting or committing by a dead panel (its job lost or ended) is settled on start, and a new edit can start', async () => {
    // what a crash leaves: the row still 'starting' with its overlay, its job gone with the panel
    const v = (await call('GET', `/netboot/images/${imageId}`, admin)).body.versions[0];
    const cid = randomUUID();
    const crashed = await rt.repo.insertEdit({ id: cid, imageId, versionId: v.id, overlay: rt.engine.editFile(cid), createdBy: admin.user.id });
    const base = (await rt.repo.version(v.id))!;
    await run.exec('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base.file, '-F', base.format, crashed.overlay]);
    await rt.repo.updateEdit(crashed.id, { jobId: 'job-that-died-with-the-panel' });
    expect((await call('POST', `/netboot/images/${imageId}/edits`, admin, {})).status).toBe(409);
    await rt.reconcile(); // what the module runs when it starts (and every minute)
    const settled = (await call('GET', `/netboot/images/${imageId}/edits`, admin)).body.items.find((x: { id: string }) => x.id === crashed.id);
    expect(settled).toMatchObject({ state: 'failed', error: expect.stringMatching(/panel stopped/) });
    expect(existsSync(crashed.overlay)).toBe(false);
    // a new edit starts and runs; a commit whose job died leaves the edit stopped with the work kept
    const res = await call('POST', `/netboot/images/${imageId}/edits`, admin, {});
    expect(res.status, res.text).toBe(202);
    expect((await t.services.jobs.waitFor(res.body.job.id, 60_000)).state).toBe('succeeded');
    // (its job id here: a real job that has ended; the first case's was one the jobs table does not know)
    await rt.repo.updateEdit(res.body.edit.id, { state: 'committing', jobId: res.body.job.id });
    await rt.reconcile();
    const stopped = (await call('GET', `/netboot/images/${imageId}/edits`, admin)).body.items.find((x: { id: string }) => x.id === res.body.edit.id);
    expect(stopped).toMatchObject({ state: 'stopped', error: expect.stringMatching(/panel stopped/) });
    expect(existsSync(`${rt.engine.paths.edits}/${res.body.edit.id}.qcow2`)).toBe(true);
    expect((await call('POST', `/netboot/edits/${res.body.edit.id}/discard`, admin)).status).toBe(200);
    expect(vms.size).toBe(0);
    // an edit whose job is still live, or that was just made (its job id not yet stored), is left alone
    const fid = randomUUID();
    const fresh = await rt.repo.insertEdit({ id: fid, imageId, versionId: v.id, overlay: rt.engine.editFile(fid), createdBy: null });
    await rt.reconcile();
    expect((await rt.repo.edit(fresh.id))!.state).toBe('starting');
    await rt.repo.updateEdit(fresh.id, { state: 'failed' });
  }, 120_000);
});

describe('without a usable editor (vps disabled, or its engine down) netboot works and says why', () => {
  it('no provider: available false with the reason; starting an edit is 422 editor_unavailable; machines still work', async () => {
    const t = await createTestApp({ modules: [createNetbootModule()], env: netbootTestEnv(uniqueTestIds()) });
    try {
      const admin = await t.signIn('admin');
      const call = api(() => t);
      const { imageId } = await upload(call, t, admin, 'plain-os');
      const list = await call('GET', `/netboot/images/${imageId}/edits`, admin);
      expect(list.body.editor).toMatchObject({ available: false, provider: null });
      expect(list.body.editor.reason).toMatch(/no enabled module provides vm-disk-editor.*vps module/);
      const res = await call('POST', `/netboot/images/${imageId}/edits`, admin, {});
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('editor_unavailable');
      expect((await call('POST', '/netboot/machines', admin, { name: 'plain-pc', mac: '52:54:00:dd:00:01', imageId })).status).toBe(201);
    } finally {
      await t.close();
    }
  }, 120_000);

  it('a provider whose module is unavailable: the reason names it and its engine', async () => {
    const t = await createTestApp({ modules: [createNetbootModule(), brokenEditorModule], env: netbootTestEnv(uniqueTestIds()) });
    try {
      const admin = await t.signIn('admin');
      const call = api(() => t);
      const { imageId } = await upload(call, t, admin, 'plain-os');
      const list = await call('GET', `/netboot/images/${imageId}/edits`, admin);
      expect(list.body.editor).toMatchObject({ available: false, provider: 'vmeditbroken' });
      expect(list.body.editor.reason).toContain('module vmeditbroken provides vm-disk-editor but is unavailable');
      expect(list.body.editor.reason).toContain('libvirt does not answer');
      expect((await call('POST', `/netboot/images/${imageId}/edits`, admin, {})).status).toBe(422);
    } finally {
      await t.close();
    }
  }, 120_000);
});
