import type { Duplex, Readable } from 'node:stream';
import { z } from 'zod';
import { ConflictError, type HttpApp, JobSummary } from '../../../server/src/sdk.js';
import { bridgeSerial, bridgeStream, bridgeVnc } from './vps.console.js';
import { vpsPermissions as P } from './vps.permissions.js';
import {
  CreateVps, DeleteVps, ExpiryInput, HostCapacityView, Id, ImageQuery, ImageView, MetricsQuery, PlanInput, PlanView, QuotaInput, QuotaView, ReinstallVps, RenameVps, RenewInput,
  ResizeVps, SnapshotInput, SnapshotView, UnmanagedDomain, VPS_ACTIONS, VpsMetricsView, VpsView,
} from './vps.schema.js';
import type { VpsService } from './vps.service.js';

const IdP = z.object({ id: Id });
const SnapP = IdP.extend({ snapshotId: Id });
const UserP = z.object({ userId: Id });
const List = z.object({ limit: z.coerce.number().int().min(1).max(5000).default(1000), offset: z.coerce.number().int().min(0).default(0) });
const tags = ['vps'];

/** Thin routes: parse, call one service method, present. Paths as in issue 12's API section. */
export function registerVpsRoutes(http: HttpApp, svc: VpsService, o: { maxUploadBytes: number; consoleIdleMs: number }): void {
  // Raw image uploads: the body stays a stream (this module's scope only).
  http.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  http.get('/vps/plans', { config: { permission: P.read }, schema: { operationId: 'listVpsPlans', tags, summary: 'Plans (the user role: public plans)', response: { 200: z.object({ items: z.array(PlanView) }) } } },
    async (req) => ({ items: await svc.plans(req.actor) }));
  http.post('/vps/plans', { config: { permission: P['plans.manage'] }, schema: { operationId: 'createVpsPlan', tags, summary: 'Create a plan', body: PlanInput, response: { 201: z.object({ plan: PlanView }) } } },
    async (req, reply) => reply.code(201).send({ plan: await svc.createPlan(req.actor, req.body) }));

  http.get('/vps/quotas/:userId', { config: { permission: P['quotas.manage'] }, schema: { operationId: 'getVpsQuota', summary: 'A user\'s VPS quota and use', tags, params: UserP, response: { 200: z.object({ quota: QuotaView }) } } },
    async (req) => ({ quota: await svc.getQuota(req.actor, req.params.userId) }));
  http.put('/vps/quotas/:userId', { config: { permission: P['quotas.manage'] }, schema: { operationId: 'setVpsQuota', summary: 'Set a user\'s VPS quota', tags, params: UserP, body: QuotaInput, response: { 200: z.object({ quota: QuotaView }) } } },
    async (req) => ({ quota: await svc.setQuota(req.actor, req.params.userId, req.body) }));

  http.get('/vps/images', { config: { permission: P.read }, schema: { operationId: 'listVpsImages', tags, summary: 'Images (the user role: public, ready)', response: { 200: z.object({ items: z.array(ImageView) }) } } },
    async (req) => ({ items: await svc.images(req.actor) }));
  http.get('/vps/images/:id', { config: { permission: P.read }, schema: { operationId: 'getVpsImage', summary: 'One VPS image', tags, params: IdP, response: { 200: z.object({ image: ImageView }) } } },
    async (req) => ({ image: await svc.image(req.actor, req.params.id) }));
  http.post('/vps/images', {
    config: { permission: P['images.manage'] },
    bodyLimit: o.maxUploadBytes,
    schema: {
      operationId: 'uploadVpsImage',
      tags, summary: 'Upload an image: raw body (application/octet-stream), optional X-Checksum-Sha256; converted to qcow2 by a job',
      querystring: ImageQuery, response: { 202: z.object({ image: ImageView, job: JobSummary }) },
    },
  }, async (req, reply) => {
    const body = req.body as unknown;
    const stream = body && typeof (body as Readable).pipe === 'function' ? (body as Readable) : req.raw;
    const checksum = req.headers['x-checksum-sha256'];
    reply.code(202).send(await svc.uploadImage(req.actor, req.query, stream, {
      contentType: req.headers['content-type'], contentLength: req.headers['content-length'], checksum: typeof checksum === 'string' ? checksum : undefined,
    }));
  });
  http.delete('/vps/images/:id', { config: { permission: P['images.manage'] }, schema: { operationId: 'deleteVpsImage', summary: 'Delete a VPS image', tags, params: IdP, response: { 200: z.object({ ok: z.literal(true) }) } } },
    async (req) => {
      await svc.deleteImage(req.actor, req.params.id);
      return { ok: true as const };
    });

  http.get('/vps/hosts', { config: { permission: P['hosts.read'] }, schema: { operationId: 'listVpsHosts', tags, summary: 'Host capacity', response: { 200: z.object({ items: z.array(HostCapacityView) }) } } },
    async (req) => ({ items: await svc.capacity(req.actor) }));
  http.get('/vps/unmanaged', { config: { permission: P['hosts.read'] }, schema: { operationId: 'listUnmanagedDomains', tags, summary: 'Domains on the hosts that Slipway does not manage (read-only)', response: { 200: z.object({ items: z.array(UnmanagedDomain) }) } } },
    async (req) => ({ items: await svc.unmanaged(req.actor) }));

  http.get('/vps', { config: { permission: P.read }, schema: { operationId: 'listVps', tags, summary: 'VPSes with live state (the user role: its own)', querystring: List, response: { 200: z.object({ items: z.array(VpsView), total: z.number() }) } } },
    async (req) => svc.list(req.actor, req.query));
  http.post('/vps', { config: { permission: P.create }, schema: { operationId: 'createVps', tags, summary: 'Create a VPS (job)', body: CreateVps, response: { 202: z.object({ job: JobSummary, vps: VpsView }) } } },
    async (req, reply) => reply.code(202).send(await svc.create(req.actor, req.body)));
  http.get('/vps/:id', { config: { permission: P.read }, schema: { operationId: 'getVps', summary: 'One VPS with its live state', tags, params: IdP, response: { 200: z.object({ vps: VpsView }) } } },
    async (req) => ({ vps: await svc.get(req.actor, req.params.id) }));
  http.delete('/vps/:id', { config: { permission: P.delete }, schema: { operationId: 'deleteVps', tags, summary: "Delete with disks, seed and address (job); body { confirm: '<hostname>' }", params: IdP, body: DeleteVps, response: { 202: z.object({ job: JobSummary }) } } },
    async (req, reply) => reply.code(202).send(await svc.remove(req.actor, req.params.id, req.body.confirm)));

  for (const action of VPS_ACTIONS) {
    http.post(`/vps/:id/${action}`, {
      config: { permission: P.operate },
      schema: { operationId: `${action}Vps`, tags, summary: action === 'shutdown' ? 'ACPI shutdown, forced off after the timeout (job)' : `${action} the VPS`, params: IdP, response: { 200: z.object({ vps: VpsView }), 202: z.object({ vps: VpsView, job: JobSummary }) } },
    }, async (req, reply) => {
      const r = await svc.action(req.actor, req.params.id, action);
      return r.job ? reply.code(202).send({ vps: r.vps, job: r.job }) : reply.send({ vps: r.vps });
    });
  }

  http.get('/vps/:id/metrics', {
    config: { permission: P.read },
    schema: { tags, operationId: 'getVpsMetrics', summary: 'Usage graphs: CPU, memory, disk and network I/O over a range (1h|6h|24h|7d|30d), and this month\'s bandwidth against the plan', params: IdP, querystring: MetricsQuery, response: { 200: VpsMetricsView } },
  }, async (req) => svc.metrics(req.actor, req.params.id, req.query.range));
  http.post('/vps/:id/resize', {
    config: { permission: P.operate },
    schema: { tags, operationId: 'resizeVps', summary: 'Resize (job): a plan, or custom sizes (staff); CPU/RAM while shut off (a running VPS is stopped and started again), the disk only grows', params: IdP, body: ResizeVps, response: { 202: z.object({ job: JobSummary, vps: VpsView }) } },
  }, async (req, reply) => reply.code(202).send(await svc.resize(req.actor, req.params.id, req.body)));
  http.post('/vps/:id/rename', {
    config: { permission: P.operate },
    schema: { tags, operationId: 'renameVps', summary: 'Rename (job): the panel\'s hostname, the domain title and the DHCP reservation', params: IdP, body: RenameVps, response: { 202: z.object({ job: JobSummary, vps: VpsView }) } },
  }, async (req, reply) => reply.code(202).send(await svc.rename(req.actor, req.params.id, req.body.hostname)));
  http.post('/vps/:id/reinstall', {
    config: { permission: P.operate },
    schema: { tags, operationId: 'reinstallVps', summary: "Reinstall from an image (job; erases the disk and its snapshots); body { imageId, confirm: '<hostname>', sshKeyIds?, userData? }", params: IdP, body: ReinstallVps, response: { 202: z.object({ job: JobSummary, vps: VpsView }) } },
  }, async (req, reply) => reply.code(202).send(await svc.reinstall(req.actor, req.params.id, req.body)));

  http.get('/vps/:id/snapshots', { config: { permission: P.read }, schema: { operationId: 'listVpsSnapshots', summary: 'A VPS\'s snapshots', tags, params: IdP, response: { 200: z.object({ items: z.array(SnapshotView) }) } } },
    async (req) => ({ items: await svc.snapshots(req.actor, req.params.id) }));
  http.post('/vps/:id/snapshots', { config: { permission: P.operate }, schema: { operationId: 'createVpsSnapshot', summary: 'Take a snapshot of a VPS', tags, params: IdP, body: SnapshotInput, response: { 201: z.object({ snapshot: SnapshotView }) } } },
    async (req, reply) => reply.code(201).send({ snapshot: await svc.snapshotCreate(req.actor, req.params.id, req.body.comment) }));
  http.post('/vps/:id/snapshots/:snapshotId/revert', { config: { permission: P.operate }, schema: { operationId: 'revertVpsSnapshot', summary: 'Revert a VPS to a snapshot', tags, params: SnapP, response: { 200: z.object({ vps: VpsView }) } } },
    async (req) => ({ vps: await svc.snapshotRevert(req.actor, req.params.id, req.params.snapshotId) }));
  http.delete('/vps/:id/snapshots/:snapshotId', { config: { permission: P.operate }, schema: { operationId: 'deleteVpsSnapshot', summary: 'Delete a snapshot', tags, params: SnapP, response: { 200: z.object({ ok: z.literal(true) }) } } },
    async (req) => {
      await svc.snapshotDelete(req.actor, req.params.id, req.params.snapshotId);
      return { ok: true as const };
    });

  http.put('/vps/:id/expiry', { config: { permission: P['expiry.manage'] }, schema: { operationId: 'setVpsExpiry', summary: 'Set when a VPS expires and what happens then', tags, params: IdP, body: ExpiryInput, response: { 200: z.object({ vps: VpsView }) } } },
    async (req) => ({ vps: await svc.setExpiry(req.actor, req.params.id, req.body) }));
  http.post('/vps/:id/expiry/renew', { config: { permission: P['expiry.manage'] }, schema: { operationId: 'renewVps', summary: 'Renew a VPS to a new expiry date', tags, params: IdP, body: RenewInput, response: { 200: z.object({ vps: VpsView }) } } },
    async (req) => ({ vps: await svc.renew(req.actor, req.params.id, req.body.expiresAt) }));
  http.delete('/vps/:id/expiry', { config: { permission: P['expiry.manage'] }, schema: { operationId: 'clearVpsExpiry', summary: 'Remove a VPS\'s expiry', tags, params: IdP, response: { 200: z.object({ vps: VpsView }) } } },
    async (req) => ({ vps: await svc.clearExpiry(req.actor, req.params.id) }));

  // ---- consoles (WebSocket): authorised before the upgrade, so refusals are plain 401/403/404/409 ----
  const sessions = new Map<string, () => void>();
  for (const kind of ['serial', 'vnc'] as const) {
    http.get(`/vps/:id/console/${kind}`, {
      websocket: true,
      config: { permission: P.operate },
      schema: { operationId: `${kind === 'serial' ? 'openVpsSerialConsole' : 'openVpsVncConsole'}`, description: kind === 'serial' ? 'Binary frames both ways: the serial console bytes. One serial session per VPS; a newer one closes the older.' : 'Binary frames both ways: the RFB (VNC) protocol, for noVNC.', tags, summary: `${kind === 'serial' ? 'Serial' : 'VNC'} console (WebSocket, binary frames)`, params: IdP },
      preHandler: async (req) => {
        const target = await svc.consoleTarget(req.actor, (req.params as { id: string }).id, kind);
        // A remote host's console is opened before the upgrade too (a failure is a plain error), and closed if no socket takes it.
        let stream: Duplex | undefined;
        if (target.open) {
          try {
            stream = await target.open();
          } catch (e) {
            throw new ConflictError(`The console of this VPS cannot be reached: ${(e as Error).message.slice(0, 200)}`);
          }
          const s = stream;
          setTimeout(() => { if (!(s as { slipwayTaken?: boolean }).slipwayTaken) s.destroy(); }, 15_000).unref();
        }
        (req as unknown as { vpsConsole: unknown }).vpsConsole = { ...target, stream };
      },
    }, (socket, req) => {
      const target = (req as unknown as { vpsConsole: Awaited<ReturnType<VpsService['consoleTarget']>> & { stream?: Duplex } }).vpsConsole;
      const actor = req.actor;
      const key = `${kind}:${target.vps.id}`;
      void svc.auditConsole(actor, target.vps, kind, 'open', { ip: req.ip }).catch(() => {});
      const onClose = (info: Record<string, unknown>) => {
        if (sessions.get(key) === close) sessions.delete(key);
        void svc.auditConsole(actor, target.vps, kind, 'close', info).catch(() => {});
      };
      let close: () => void;
      try {
        if (target.stream) (target.stream as { slipwayTaken?: boolean }).slipwayTaken = true;
        close = target.stream ? bridgeStream(socket, target.stream, { idleMs: o.consoleIdleMs, onClose }) : kind === 'serial' ? bridgeSerial(socket, target.pty!, { idleMs: o.consoleIdleMs, onClose }) : bridgeVnc(socket, target.port!, { idleMs: o.consoleIdleMs, onClose });
      } catch (e) {
        socket.close(1011, 'console unavailable');
        void svc.auditConsole(actor, target.vps, kind, 'close', { reason: (e as Error).message }).catch(() => {});
        return;
      }
      // One serial session per VPS (input from two would interleave): the newer one wins.
      if (kind === 'serial') sessions.get(key)?.();
      sessions.set(key, close);
    });
  }
}
