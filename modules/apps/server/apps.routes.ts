import { z } from 'zod';
import { ErrorResponse, type HttpApp, JobAccepted } from '../../../server/src/sdk.js';
import { appsPermissions } from './apps.permissions.js';
import { ConfigPatch, CreateApp, DeployRequest, DestroyApp, ScaleRequest } from './apps.schema.js';
import type { AppsService } from './apps.service.js';
import {
  AppList, AppParams, AppView, AssignOwner, BuildOutputView, BuildParams, BuildView, CertAlertView, ChecksPatch, RefreshView, HostChoices, OwnerChoices, ChecksView, ConfigView, DeployView, DomainsPatch, DomainsView, HostQuery, LetsencryptPatch,
  LetsencryptView, ListAppsQuery, PortsPatch, PortsView, PsParams, ReleaseParams, ReleaseView, ScaleView,
} from './apps.views.js';

const errors = { 400: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 422: ErrorResponse };
const tags = ['apps'];
const read = { permission: appsPermissions.read };
const deploy = { permission: appsPermissions.deploy };
const configure = { permission: appsPermissions.configure };

/** Thin routes: parse, call one service method, present. Paths are the API other tools script against (issue 11). */
export function registerAppsRoutes(app: HttpApp, apps: AppsService): void {
  app.get('/apps', {
    config: read,
    schema: { operationId: 'listApps', tags, summary: 'List apps from the inventory (filters, search, pagination); never calls dokku', querystring: ListAppsQuery, response: { 200: AppList, ...errors } },
  }, async (req) => apps.list(req.actor!, req.query));

  app.post('/apps', {
    config: deploy,
    schema: { operationId: 'createApp', tags, summary: 'Create an app (`apps:create`); 409 `name_taken` when the name exists on the Dokku host', body: CreateApp, response: { 201: z.object({ app: AppView }), ...errors } },
  }, async (req, reply) => reply.code(201).send({ app: await apps.create(req.actor!, req.body) }));

  // Collection-level reads under `/apps/-/…`: `-` can never start an app name (Dokku's rule), so
  // these paths never shadow an app.
  app.get('/apps/-/hosts', {
    config: deploy,
    schema: { operationId: 'listAppHosts', tags, summary: 'Dokku hosts an app can be created on (local or over SSH), with the default', response: { 200: HostChoices, ...errors } },
  }, async (req) => apps.hostChoices(req.actor!));

  app.get('/apps/-/owners', {
    config: { permission: appsPermissions.assign },
    schema: { operationId: 'listAppOwnerChoices', tags, summary: 'Active users an ownerless app can be given to', response: { 200: OwnerChoices, ...errors } },
  }, async (req) => apps.ownerChoices(req.actor!));

  app.post('/apps/-/refresh', {
    config: { permission: appsPermissions.refresh },
    schema: {
      operationId: 'refreshApps', tags, summary: 'Read the inventory and the certificates from every Dokku host now',
      response: { 200: RefreshView, ...errors },
    },
  }, async (req) => apps.refreshNow(req.actor!));

  app.get('/apps/-/alerts', {
    config: read,
    schema: { operationId: 'listAppCertificateAlerts', tags, summary: 'Active certificate alerts of apps (Let\'s Encrypt certificate expiring within the warning window, or expired)', response: { 200: z.object({ items: z.array(CertAlertView) }), ...errors } },
  }, async (req) => ({ items: await apps.certificateAlerts(req.actor!) }));

  app.get('/apps/:name', {
    config: read,
    schema: { operationId: 'getApp', tags, summary: 'One app', params: AppParams, querystring: HostQuery, response: { 200: z.object({ app: AppView }), ...errors } },
  }, async (req) => ({ app: await apps.get(req.actor!, req.params.name, req.query.host) }));

  app.delete('/apps/:name', {
    config: { permission: appsPermissions.destroy },
    schema: { operationId: 'deleteApp', tags, summary: 'Destroy an app (`apps:destroy --force`); `confirm` must repeat the name (runs as a job)', params: AppParams, querystring: HostQuery, body: DestroyApp, response: { 202: JobAccepted, ...errors } },
  }, async (req, reply) => reply.code(202).send({ job: await apps.destroy(req.actor!, req.params.name, req.query.host, req.body.confirm) }));

  // ---- deploys and releases ----

  app.post('/apps/:name/deploys', {
    config: deploy,
    schema: {
      operationId: 'deployApp',
      tags, summary: 'Deploy from an image (`git:from-image`) or a git remote and ref (`git:sync --build`); queues behind other jobs of the app',
      params: AppParams, querystring: HostQuery, body: DeployRequest, response: { 202: JobAccepted, ...errors },
    },
  }, async (req, reply) => reply.code(202).send({ job: await apps.deploy(req.actor!, req.params.name, req.query.host, req.body) }));

  app.get('/apps/:name/deploys', {
    config: read,
    schema: { operationId: 'listAppDeploys', tags, summary: 'Queued (with position), running and past deploys, newest first, with their jobs', params: AppParams, querystring: HostQuery, response: { 200: z.object({ items: z.array(DeployView) }), ...errors } },
  }, async (req) => ({ items: await apps.deploys(req.actor!, req.params.name, req.query.host) }));

  app.get('/apps/:name/releases', {
    config: read,
    schema: { operationId: 'listAppReleases', tags, summary: 'Release history, newest first', params: AppParams, querystring: HostQuery, response: { 200: z.object({ items: z.array(ReleaseView) }), ...errors } },
  }, async (req) => ({ items: await apps.releases(req.actor!, req.params.name, req.query.host) }));

  app.post('/apps/:name/releases/:number/rollback', {
    config: deploy,
    schema: { operationId: 'rollbackAppRelease', tags, summary: 'Redeploy exactly this release\'s image or commit as a new release (runs as a job)', params: ReleaseParams, querystring: HostQuery, response: { 202: JobAccepted, ...errors } },
  }, async (req, reply) => reply.code(202).send({ job: await apps.rollback(req.actor!, req.params.name, req.query.host, req.params.number) }));

  app.get('/apps/:name/builds', {
    config: read,
    schema: { operationId: 'listAppBuilds', tags, summary: 'Dokku\'s build records of the app (`builds:list`), also builds started outside the panel', params: AppParams, querystring: HostQuery, response: { 200: z.object({ items: z.array(BuildView) }), ...errors } },
  }, async (req) => ({ items: await apps.builds(req.actor!, req.params.name, req.query.host) }));

  app.get('/apps/:name/builds/:buildId/output', {
    config: read,
    schema: { operationId: 'getAppBuildOutput', tags, summary: 'A finished build\'s output (`builds:output`), secrets redacted; 409 `build_running` while it runs (follow its job log)', params: BuildParams, querystring: HostQuery, response: { 200: BuildOutputView, ...errors } },
  }, async (req) => apps.buildOutput(req.actor!, req.params.name, req.query.host, req.params.buildId));

  app.put('/apps/:name/owner', {
    config: { permission: appsPermissions.assign },
    schema: { operationId: 'assignAppOwner', tags, summary: 'Give an ownerless app (found on a Dokku host) its owner; 409 `already_owned` when it has one', params: AppParams, querystring: HostQuery, body: AssignOwner, response: { 200: z.object({ app: AppView }), ...errors } },
  }, async (req) => ({ app: await apps.assignOwner(req.actor!, req.params.name, req.query.host, req.body.ownerId) }));

  // ---- configuration ----

  app.get('/apps/:name/config', {
    config: read,
    schema: { operationId: 'getAppConfig', tags, summary: 'Env vars; values of secret keys are never returned (null)', params: AppParams, querystring: HostQuery, response: { 200: ConfigView, ...errors } },
  }, async (req) => apps.getConfig(req.actor!, req.params.name, req.query.host));

  app.patch('/apps/:name/config', {
    config: configure,
    schema: {
      operationId: 'updateAppConfig',
      tags, summary: 'Set (optionally marking keys secret) and unset env vars; `restart: false` applies them on the next deploy (runs as a job)',
      params: AppParams, querystring: HostQuery, body: ConfigPatch, response: { 202: JobAccepted, ...errors },
    },
  }, async (req, reply) => reply.code(202).send({ job: await apps.patchConfig(req.actor!, req.params.name, req.query.host, req.body) }));

  app.get('/apps/:name/domains', {
    config: read,
    schema: { operationId: 'listAppDomains', tags, summary: 'The app\'s domains', params: AppParams, querystring: HostQuery, response: { 200: DomainsView, ...errors } },
  }, async (req) => apps.getDomains(req.actor!, req.params.name, req.query.host));

  app.patch('/apps/:name/domains', {
    config: configure,
    schema: { operationId: 'updateAppDomains', tags, summary: 'Add, remove or set domains (each claimed for the app\'s owner first)', params: AppParams, querystring: HostQuery, body: DomainsPatch, response: { 200: DomainsView, ...errors } },
  }, async (req) => apps.changeDomains(req.actor!, req.params.name, req.query.host, req.body));

  app.get('/apps/:name/letsencrypt', {
    config: read,
    schema: { operationId: 'getAppLetsEncrypt', tags, summary: 'Let\'s Encrypt state and certificate expiry', params: AppParams, querystring: HostQuery, response: { 200: LetsencryptView, ...errors } },
  }, async (req) => apps.getLetsencrypt(req.actor!, req.params.name, req.query.host));

  app.put('/apps/:name/letsencrypt', {
    config: configure,
    schema: { operationId: 'setAppLetsEncrypt', tags, summary: 'Enable or disable Let\'s Encrypt (runs as a job)', params: AppParams, querystring: HostQuery, body: LetsencryptPatch, response: { 202: JobAccepted, ...errors } },
  }, async (req, reply) => reply.code(202).send({ job: await apps.setLetsencrypt(req.actor!, req.params.name, req.query.host, req.body.enabled) }));

  app.get('/apps/:name/checks', {
    config: read,
    schema: { operationId: 'getAppChecks', tags, summary: 'Zero-downtime checks per process type, wait-to-retire', params: AppParams, querystring: HostQuery, response: { 200: ChecksView, ...errors } },
  }, async (req) => apps.getChecks(req.actor!, req.params.name, req.query.host));

  app.patch('/apps/:name/checks', {
    config: configure,
    schema: { operationId: 'updateAppChecks', tags, summary: 'Enable, disable or skip checks (an empty list means every process type); set wait-to-retire', params: AppParams, querystring: HostQuery, body: ChecksPatch, response: { 200: ChecksView, ...errors } },
  }, async (req) => apps.changeChecks(req.actor!, req.params.name, req.query.host, req.body));

  app.get('/apps/:name/ports', {
    config: read,
    schema: { operationId: 'getAppPorts', tags, summary: 'Port maps (configured and detected)', params: AppParams, querystring: HostQuery, response: { 200: PortsView, ...errors } },
  }, async (req) => apps.getPorts(req.actor!, req.params.name, req.query.host));

  app.patch('/apps/:name/ports', {
    config: configure,
    schema: { operationId: 'updateAppPorts', tags, summary: 'Set, add, remove or clear port maps (`scheme:host-port:container-port`); Dokku\'s refusals come back as 422', params: AppParams, querystring: HostQuery, body: PortsPatch, response: { 200: PortsView, ...errors } },
  }, async (req) => apps.changePorts(req.actor!, req.params.name, req.query.host, req.body));

  // ---- runtime ----

  app.get('/apps/:name/scale', {
    config: read,
    schema: { operationId: 'getAppScale', tags, summary: 'Process counts per type (from the inventory)', params: AppParams, querystring: HostQuery, response: { 200: ScaleView, ...errors } },
  }, async (req) => apps.getScale(req.actor!, req.params.name, req.query.host));

  app.put('/apps/:name/scale', {
    config: deploy,
    schema: { operationId: 'scaleApp', tags, summary: 'Scale process types (`ps:scale`; runs as a job)', params: AppParams, querystring: HostQuery, body: ScaleRequest, response: { 202: JobAccepted, ...errors } },
  }, async (req, reply) => reply.code(202).send({ job: await apps.scale(req.actor!, req.params.name, req.query.host, req.body) }));

  app.post('/apps/:name/ps/:action', {
    config: deploy,
    schema: { operationId: 'runAppProcessAction', tags, summary: 'Start, stop, restart or rebuild the app (`ps:*`; runs as a job)', params: PsParams, querystring: HostQuery, response: { 202: JobAccepted, ...errors } },
  }, async (req, reply) => reply.code(202).send({ job: await apps.ps(req.actor!, req.params.name, req.query.host, req.params.action) }));
}
