import { z } from 'zod';
import { assertStreamCapacity, ErrorResponse, type HttpApp, JobAccepted, JobSummary, openSse } from '../../../server/src/sdk.js';
import { sitesPermissions } from './sites.permissions.js';
import {
  CertAlert, CreateSite, DeleteSite, DomainParams, HostQuery, ListSitesQuery, LogsQuery, SiteList, SiteView, UpdateSite,
} from './sites.schema.js';
import type { SitesService } from './sites.service.js';

const errors = { 400: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 422: ErrorResponse };
const tags = ['sites'];

/** Thin routes: parse, call one service method, present. */
export function registerSitesRoutes(app: HttpApp, sites: SitesService): void {
  app.get('/sites', {
    config: { permission: sitesPermissions.read },
    schema: { operationId: 'listSites', tags, summary: 'List sites from the inventory (filters, search, pagination)', querystring: ListSitesQuery, response: { 200: SiteList, ...errors } },
  }, async (req) => sites.list(req.actor!, req.query));

  app.get('/sites/alerts', {
    config: { permission: sitesPermissions.read },
    schema: { operationId: 'listSiteAlerts', tags, summary: 'Active certificate alerts (expiring within the warning window, expired, renewal failed)', response: { 200: z.object({ items: z.array(CertAlert) }), ...errors } },
  }, async (req) => ({ items: await sites.alerts(req.actor!) }));

  app.post('/sites/refresh', {
    config: { permission: sitesPermissions.refresh },
    schema: {
      operationId: 'refreshSites',
      tags, summary: 'Refresh the inventory, certificates and disk use now',
      response: {
        200: z.object({
          reports: z.array(z.object({ host: z.string(), sites: z.number(), removed: z.number(), failed: z.number(), durationMs: z.number() })),
          /** Hosts that could not be refreshed (a refresh of no host at all answers 503). */
          failures: z.array(z.object({ host: z.string(), reason: z.string() })),
        }),
        ...errors,
      },
    },
  }, async (req) => sites.refreshNow(req.actor!));

  app.post('/sites', {
    config: { permission: sitesPermissions.create },
    schema: { operationId: 'createSite', tags, summary: 'Create a site (runs as a job)', body: CreateSite, response: { 202: JobAccepted, ...errors } },
  }, async (req, reply) => reply.code(202).send({ job: await sites.create(req.actor!, req.body) }));

  app.get('/sites/:domain', {
    config: { permission: sitesPermissions.read },
    schema: { operationId: 'getSite', tags, summary: 'One site', params: DomainParams, querystring: HostQuery, response: { 200: z.object({ site: SiteView }), ...errors } },
  }, async (req) => ({ site: await sites.get(req.actor!, req.query.host, req.params.domain) }));

  app.get('/sites/:domain/jobs', {
    config: { permission: sitesPermissions.read },
    schema: { operationId: 'listSiteJobs', tags, summary: 'The site\'s job history', params: DomainParams, querystring: HostQuery, response: { 200: z.object({ items: z.array(JobSummary) }), ...errors } },
  }, async (req) => ({ items: await sites.history(req.actor!, req.query.host, req.params.domain) }));

  app.put('/sites/:domain', {
    config: { permission: sitesPermissions.update },
    schema: { operationId: 'updateSite', tags, summary: 'Switch PHP version, cache, SSL, HSTS; enable or disable (runs as a job)', params: DomainParams, body: UpdateSite, response: { 202: JobAccepted, ...errors } },
  }, async (req, reply) => reply.code(202).send({ job: await sites.update(req.actor!, req.params.domain, req.body) }));

  app.delete('/sites/:domain', {
    config: { permission: sitesPermissions.delete },
    schema: { operationId: 'deleteSite', tags, summary: 'Delete a site; `confirm` must repeat the domain (runs as a job)', params: DomainParams, body: DeleteSite, response: { 202: JobAccepted, ...errors } },
  }, async (req, reply) => reply.code(202).send({ job: await sites.delete(req.actor!, req.params.domain, req.body) }));

  app.get('/sites/:domain/logs', {
    config: { permission: sitesPermissions.logs },
    schema: {
      operationId: 'readSiteLog', 'x-sse': { line: 'one log line `{ line }`', state: 'where the log stands: `{ state: "missing", message }` when the file does not exist yet (nginx writes it on the first request or error)', notice: 'rotation, truncation, a refused link or the file appearing `{ message }`', skipped: 'lines dropped because the client fell behind `{ count }`' },
      tags, summary: 'Tail the site\'s access or error log; `follow=true` streams it (SSE `line` events)',
      params: DomainParams, querystring: LogsQuery, response: { 200: z.object({ kind: z.string(), lines: z.array(z.string()) }), ...errors },
    },
  }, async (req, reply) => {
    const { host, kind, lines, follow } = req.query;
    if (!follow) return { kind, lines: await sites.tailLogs(req.actor!, host, req.params.domain, kind, lines) };
    assertStreamCapacity(req);
    // The follower starts (and a log that is a link is refused with 422) before the SSE response.
    let sse: ReturnType<typeof openSse> | null = null;
    const early: string[] = [];
    let seq = 0;
    let skipped = 0;
    const send = (line: string) => {
      if (!sse) return void early.push(line);
      if (sse.closed) return;
      // A client that cannot keep up loses lines (counted, then said once), never the panel's memory.
      if (skipped) return void skipped++;
      if (!sse.send({ id: ++seq, event: 'line', data: { line } })) {
        skipped = 1;
        void sse.drained().then(() => {
          if (sse && !sse.closed && skipped > 1) sse.send({ event: 'skipped', data: { count: skipped - 1 } });
          skipped = 0;
        });
      }
    };
    const handle = await sites.followLogs(req.actor!, host, req.params.domain, kind, lines, {
      onLines: (ls) => ls.forEach(send),
      // rotation, truncation or a refused link: said as a notice, never as a log line
      onNotice: (message) => void (sse && !sse.closed && sse.send({ event: 'notice', data: { message } })),
    });
    try {
      sse = openSse(req, reply);
    } catch (e) {
      await handle.stop();
      throw e;
    }
    sse.onClose(() => void handle.stop());
    for (const l of early.splice(0)) send(l);
    // A log file that is not there yet is said as such (the platform live-log `state` event), never
    // left as a silent stream: nginx creates it on the site's first request (access) or error.
    if (!seq && !(await sites.logExists(req.actor!, host, req.params.domain, kind).catch(() => true)) && !sse.closed) {
      sse.send({ event: 'state', data: { state: 'missing', message: kind === 'access'
        ? 'The access log does not exist yet: nginx writes it on the site\'s first request. It shows here as soon as it appears.'
        : 'The error log does not exist yet: nginx writes it when the site first logs an error. It shows here as soon as it appears.' } });
    }
    return reply;
  });
}
