import { type HttpApp, JobSummary, Ok } from '../../../server/src/sdk.js';
import { z } from 'zod';
import { BootServerSettings } from './netboot.config.js';
import { netbootPermissions as P } from './netboot.permissions.js';
import {
  CommitWriteback, CreateMachine, DiskView, ImageView, ImportMachines, MachineView, SessionView, SettingsView, UpdateMachine, UploadQuery, VersionView,
} from './netboot.schema.js';
import type { NetbootService } from './netboot.service.js';

const Id = z.object({ id: z.string().min(1).max(100) });
const VersionParam = Id.extend({ versionId: z.string().min(1).max(100) });
const tags = ['netboot'];
const MachineDetail = MachineView.extend({ history: z.array(SessionView) });

/** Thin routes: parse, call one service method, present. */
export function registerNetbootRoutes(http: HttpApp, svc: NetbootService): void {
  // The upload body is the file itself, handed on as a stream (never buffered): this scope only.
  http.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  // ---- images ----
  http.get('/netboot/images', { config: { permission: P.read }, schema: { operationId: 'listNetbootImages', tags, summary: 'List images and the free disk space', response: { 200: z.object({ items: z.array(ImageView), disk: DiskView }) } } },
    async (req) => svc.listImages(req.actor));

  http.post('/netboot/images', {
    config: { permission: P.manage },
    schema: {
      operationId: 'uploadNetbootImage',
      tags, summary: 'Upload an image (raw body, application/octet-stream; raw, qcow2, VHD/VHDX, VMDK, detected from the contents); optional X-Checksum-Sha256; the conversion is a job',
      consumes: ['application/octet-stream'], querystring: UploadQuery,
      headers: z.object({ 'x-checksum-sha256': z.string().max(128).optional() }).passthrough(),
      body: z.any().describe('the disk image file'),
      response: { 202: z.object({ image: ImageView, job: JobSummary }) },
    },
  }, async (req, reply) => {
    const len = req.headers['content-length'];
    const checksum = req.headers['x-checksum-sha256'];
    const result = await svc.upload(req.actor, req.query, {
      contentType: req.headers['content-type'], contentLength: len !== undefined && /^\d+$/.test(len) ? Number(len) : null,
      checksum: typeof checksum === 'string' ? checksum : undefined, body: req.body,
    });
    return reply.code(202).send(result);
  });

  http.get('/netboot/images/:id', { config: { permission: P.read }, schema: { operationId: 'getNetbootImage', tags, summary: 'An image with its versions (comment, author, size, machines using each)', params: Id, response: { 200: z.object({ image: ImageView, versions: z.array(VersionView) }) } } },
    async (req) => svc.getImage(req.actor, req.params.id));

  http.delete('/netboot/images/:id', { config: { permission: P.manage }, schema: { operationId: 'deleteNetbootImage', tags, summary: 'Delete an image and its versions (409 while a machine uses it)', params: Id, response: { 200: Ok } } },
    async (req) => {
      await svc.deleteImage(req.actor, req.params.id);
      return { ok: true as const };
    });

  http.delete('/netboot/images/:id/versions/:versionId', { config: { permission: P.manage }, schema: { operationId: 'deleteNetbootImageVersion', tags, summary: 'Delete a version (409 with the machines using it)', params: VersionParam, response: { 200: Ok } } },
    async (req) => {
      await svc.deleteVersion(req.actor, req.params.id, req.params.versionId);
      return { ok: true as const };
    });

  // ---- machines ----
  http.get('/netboot/machines', { config: { permission: P.read }, schema: { operationId: 'listNetbootMachines', tags, summary: 'List machines with live status', response: { 200: z.object({ items: z.array(MachineView) }) } } },
    async (req) => ({ items: await svc.listMachines(req.actor) }));

  http.post('/netboot/machines', { config: { permission: P.manage }, schema: { operationId: 'createNetbootMachine', tags, summary: 'Register a machine', body: CreateMachine, response: { 201: z.object({ machine: MachineView }) } } },
    async (req, reply) => reply.code(201).send({ machine: await svc.createMachine(req.actor, req.body) }));

  http.post('/netboot/machines/import', { config: { permission: P.manage }, schema: { operationId: 'importNetbootMachines', tags, summary: 'Import machines from CSV (all or nothing)', body: ImportMachines, response: { 201: z.object({ created: z.array(MachineView) }) } } },
    async (req, reply) => reply.code(201).send(await svc.importMachines(req.actor, req.body.csv)));

  http.get('/netboot/machines/:id', { config: { permission: P.read }, schema: { operationId: 'getNetbootMachine', tags, summary: 'A machine: status (offline | booting | online), session, writeback, boot history, script URL', params: Id, response: { 200: z.object({ machine: MachineDetail }) } } },
    async (req) => ({ machine: await svc.getMachine(req.actor, req.params.id) }));

  http.patch('/netboot/machines/:id', { config: { permission: P.manage }, schema: { operationId: 'updateNetbootMachine', tags, summary: 'Change a machine (image, version for rollback, boot mode, keep-writeback, …)', params: Id, body: UpdateMachine, response: { 200: z.object({ machine: MachineView }) } } },
    async (req) => ({ machine: await svc.updateMachine(req.actor, req.params.id, req.body) }));

  http.delete('/netboot/machines/:id', { config: { permission: P.manage }, schema: { operationId: 'deleteNetbootMachine', tags, summary: 'Delete a machine (409 while its session runs)', params: Id, response: { 200: Ok } } },
    async (req) => {
      await svc.deleteMachine(req.actor, req.params.id);
      return { ok: true as const };
    });

  http.post('/netboot/machines/:id/token', { config: { permission: P.manage }, schema: { operationId: 'rotateNetbootMachineToken', tags, summary: 'Rotate the boot token: the old script URL is refused at once (like an unknown MAC) and the dnsmasq config is rewritten', params: Id, response: { 200: z.object({ machine: MachineView }) } } },
    async (req) => ({ machine: await svc.rotateToken(req.actor, req.params.id) }));

  http.post('/netboot/machines/:id/chap/rotate', { config: { permission: P.manage }, schema: { operationId: 'rotateNetbootMachineChap', tags, summary: 'Rotate the machine\'s iSCSI CHAP secret (applied to a running target at once; the secret is never returned)', params: Id, response: { 200: z.object({ machine: MachineView }) } } },
    async (req) => ({ machine: await svc.rotateChap(req.actor, req.params.id) }));

  http.post('/netboot/machines/:id/wake', { config: { permission: P.operate }, schema: { operationId: 'wakeNetbootMachine', tags, summary: 'Send a wake-on-LAN magic packet to the machine\'s MAC (UDP, to the configured broadcast address)', params: Id, response: { 200: z.object({ sent: z.object({ address: z.string(), port: z.number().int(), bytes: z.number().int() }) }) } } },
    async (req) => svc.wake(req.actor, req.params.id));

  http.post('/netboot/machines/:id/session', { config: { permission: P.operate }, schema: { operationId: 'startNetbootSession', tags, summary: 'Start the boot session (job: writeback, export, target, ACL, LUN)', params: Id, response: { 202: z.object({ job: JobSummary, session: SessionView }) } } },
    async (req, reply) => reply.code(202).send(await svc.startSession(req.actor, req.params.id)));

  http.delete('/netboot/machines/:id/session', { config: { permission: P.operate }, schema: { operationId: 'stopNetbootSession', tags, summary: 'Stop the session (job): target and export removed, writeback discarded unless kept', params: Id, response: { 202: z.object({ job: JobSummary }) } } },
    async (req, reply) => reply.code(202).send(await svc.stopSession(req.actor, req.params.id)));

  http.post('/netboot/machines/:id/writeback/commit', { config: { permission: P.operate }, schema: { operationId: 'commitNetbootWriteback', tags, summary: 'Commit the writeback as a new image version (job)', params: Id, body: CommitWriteback, response: { 202: z.object({ job: JobSummary, versionId: z.string() }) } } },
    async (req, reply) => reply.code(202).send(await svc.commitWriteback(req.actor, req.params.id, req.body.comment)));

  http.post('/netboot/machines/:id/writeback/discard', { config: { permission: P.operate }, schema: { operationId: 'discardNetbootWriteback', tags, summary: 'Discard a kept writeback (409 while a session uses it)', params: Id, response: { 200: z.object({ machine: MachineView }) } } },
    async (req) => ({ machine: await svc.discardWriteback(req.actor, req.params.id) }));

  // ---- sessions and the boot server ----
  http.get('/netboot/sessions', { config: { permission: P.read }, schema: { operationId: 'listNetbootSessions', tags, summary: 'Boot sessions (active by default)', querystring: z.object({ all: z.enum(['true', 'false']).default('false') }), response: { 200: z.object({ items: z.array(SessionView) }) } } },
    async (req) => ({ items: await svc.listSessions(req.actor, { active: req.query.all !== 'true' }) }));

  http.get('/netboot/settings', { config: { permission: P.read }, schema: { operationId: 'getNetbootSettings', tags, summary: 'Boot server settings and the generated dnsmasq config (tokens redacted)', response: { 200: SettingsView } } },
    async (req) => svc.settings(req.actor));

  http.patch('/netboot/settings', { config: { permission: P.manage }, schema: { operationId: 'updateNetbootSettings', tags, summary: 'Change the boot server settings', body: BootServerSettings.partial().strict(), response: { 200: SettingsView } } },
    async (req) => svc.updateSettings(req.actor, req.body));

  // ---- the public iPXE script route (PXE has no credentials; the per-machine token guards it) ----
  http.get('/netboot/boot/:file', {
    config: { public: true },
    schema: {
      operationId: 'getNetbootBootScript', 'x-produces': { 'text/plain': 'An iPXE script' },
      tags, summary: 'iPXE script of a MAC (`aa-bb-cc-dd-ee-ff.ipxe?token=…`); without the machine\'s token: the unknown-machine menu',
      params: z.object({ file: z.string().max(64) }), querystring: z.object({ token: z.string().max(128).optional() }).passthrough(),
      response: { 200: z.string(), 404: z.string() },
    },
  }, async (req, reply) => {
    const script = await svc.bootScript(req.params.file, req.query.token, req.ip);
    reply.header('cache-control', 'no-store');
    if (script === null) return reply.code(404).type('text/plain').send('#!ipxe\necho No such boot script\nexit\n');
    return reply.type('text/plain; charset=utf-8').send(script);
  });
}
