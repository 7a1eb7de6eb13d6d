import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { LoadedConfig } from './config.js';
import { moduleEnvKey } from './config.js';
import { ConfigError, fastifyTrustProxy } from './config.js';
import { migrate, type Database, type NamedMigrations } from './db/database.js';
import { installAuthHook, WS_PROTOCOL } from './http/auth-hook.js';
import { installErrorHandler } from './http/error-handler.js';
import { installSecurityHeaders } from './http/security-headers.js';
import { serializerCompiler } from './http/serializer.js';
import { registerModulesRoutes } from './http/modules.routes.js';
import { registerPlatformRoutes } from './http/platform.routes.js';
import { installHttpMetrics, type Metrics, createMetrics } from './http/metrics.js';
import { installOpenapiChecks, markModuleRoutes, openapiOptions } from './http/openapi.js';
import { AUDIT_HEAD_FILE, AuditLog } from './platform/audit/audit.service.js';
import { createAuth, type AuthServices } from './platform/auth/index.js';
import { Cluster, panelVersion } from './platform/cluster/cluster.js';
import { registerClusterRoutes } from './platform/cluster/cluster.routes.js';
import { ScheduleLeases } from './platform/schedule/leases.js';
import { ModuleRuntime } from './platform/engines/module-status.js';
import { ModuleUnavailableError } from './platform/errors.js';
import { EventBus } from './platform/events/event-bus.js';
import { LogSources } from './platform/extensions/log-sources.js';
import { CapabilityRegistry } from './platform/extensions/capabilities.js';
import { OverviewCounts } from './platform/extensions/overview.js';
import { HostRegistry } from './platform/hosts/host-registry.js';
import { createHostsPlatform, type HostsPlatform } from './platform/hosts/index.js';
import { createJobService, type JobRunner } from './platform/jobs/index.js';
import { HostnameClaims, panelHostnames } from './platform/names/hostname-claims.js';
import type { HttpApp, ModuleDefinition } from './platform/module.js';
import { buildPermissionRegistry, type PermissionRegistry } from './platform/rbac/registry.js';
import { Scheduler } from './platform/schedule/scheduler.js';
import { auditChainKey, type Secrets } from './platform/secrets.js';
import { SecretBox } from './platform/secret-box.js';
import type { PlatformWarning } from './platform/auth/proxy-guard.js';
import { LocalProcessRunner } from './infra/process-runner.js';

export interface AppDeps {
  config: LoadedConfig;
  database: Database;
  secrets: Secrets;
  modules: ModuleDefinition[];
  logger?: FastifyBaseLogger | boolean | object;
  /** Start the job workers and module background work (false in some unit tests). */
  startBackground?: boolean;
}

export interface Services {
  audit: AuditLog;
  events: EventBus;
  hosts: HostRegistry;
  jobs: JobRunner;
  auth: AuthServices;
  metrics: Metrics;
  database: Database;
  config: LoadedConfig;
  /** Each enabled module's engines and status (GET /api/v1/modules, /ready, the 503 gate). */
  modules: ModuleRuntime;
  scheduler: Scheduler;
  /** This replica among the panel processes on the database (issue 15): bus, heartbeat, local duties. */
  cluster: Cluster;
  logSources: LogSources;
  overview: OverviewCounts;
  hostsPlatform: HostsPlatform;
  /** Hostname ownership across modules (`ctx.hostnames`). */
  hostnames: HostnameClaims;
  /** Platform-level problems (e.g. `proxy_untrusted`) for /ready and /modules. */
  warnings(): PlatformWarning[];
  /** This app's permissions: the core's and each enabled module's (routes, /roles, /auth/me, /modules). */
  permissions: PermissionRegistry;
}

declare module 'fastify' {
  interface FastifyInstance {
    slipway: Services;
  }
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** Finds the built web console (dist/web); absent in a dev checkout that never ran the build. */
function webRoot(config: LoadedConfig): string | undefined {
  const candidates = [config.core.webDir, path.resolve(here, '../../web'), path.resolve(here, '../../dist/web'), path.resolve(here, '../../../dist/web')];
  // The source folder web/ also has an index.html (Vite's entry): skip it, it is not a build.
  return candidates.find((d): d is string => !!d && existsSync(path.join(d, 'index.html')) && !existsSync(path.join(d, 'vite.config.ts')));
}

/** Validates every module's config (file section, then SLIPWAY_<ID>_* keys); all problems at once. */
export function resolveModuleConfigs(modules: readonly ModuleDefinition[], config: LoadedConfig): Map<string, unknown> {
  const moduleConfigs = new Map<string, unknown>();
  const problems: string[] = [];
  for (const m of modules) {
    if (!m.config) continue;
    const raw: Record<string, unknown> = { ...((config.file?.[m.id] as object | undefined) ?? {}) };
    const envRaw = config.moduleRaw[m.id] ?? {};
    const shape = (m.config as unknown as { shape?: Record<string, unknown> }).shape ?? {};
    for (const key of Object.keys(shape)) {
      const envKey = moduleEnvKey(m.id, key);
      if (envRaw[envKey] !== undefined) raw[key] = envRaw[envKey];
    }
    for (const envKey of Object.keys(envRaw)) {
      if (!Object.keys(shape).some((k) => moduleEnvKey(m.id, k) === envKey)) problems.push(`${envKey}: unknown setting`);
    }
    const parsed = m.config.safeParse(raw);
    if (parsed.success) moduleConfigs.set(m.id, parsed.data);
    else for (const i of parsed.error.issues) problems.push(`${moduleEnvKey(m.id, String(i.path[0] ?? ''))}: ${i.message}`);
  }
  if (problems.length) throw new ConfigError(problems);
  return moduleConfigs;
}

export async function buildApp(deps: AppDeps): Promise<HttpApp> {
  const { config, database, secrets } = deps;
  const app = Fastify({
    logger: deps.logger ?? { level: config.core.logLevel, redact: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["sec-websocket-protocol"]'] },
    trustProxy: fastifyTrustProxy(config.core),
    bodyLimit: 1024 * 1024,
    // No per-request log lines: HTTP traffic is counted in /metrics and changes are in the audit log.
    logController: new LogController({ disableRequestLogging: true }),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  // Responses: a writer compiled from each zod schema, zod's own for what it does not cover (issue 16).
  app.setSerializerCompiler(serializerCompiler);

  // Validate every module's config up front so all bad keys are reported together.
  const moduleConfigs = resolveModuleConfigs(deps.modules, config);
  // Per app instance: the core's permissions and each enabled module's `permissions` field.
  const permissions = buildPermissionRegistry(deps.modules);
  for (const m of deps.modules) if (m.navPermission) permissions.assertRegistered(m.navPermission, `module ${m.id} (navPermission)`);

  const moduleMigrations: NamedMigrations = Object.assign({}, ...deps.modules.map((m) => m.migrations ?? {}));
  await migrate(database.db, moduleMigrations);

  const events = new EventBus();
  // Replicas: on PostgreSQL every event, revocation and live job line reaches the other panel
  // processes through LISTEN/NOTIFY; on SQLite the cluster is this process alone.
  const cluster = new Cluster({ database, log: app.log, address: config.core.replicaAddress ?? config.core.listen, version: panelVersion(), heartbeatMs: config.core.clusterHeartbeatMs });
  if (cluster.shared) {
    events.relayTo((m) => void cluster.send('event', m));
    cluster.on('event', (data) => {
      const m = data as { event: Parameters<EventBus['receive']>[0]; at: number; id: number };
      events.receive(m.event, m.at, m.id);
    });
  }
  // Keyed chain; its head is published to the head file and the log after every append (issue 9, finding 12).
  const audit = new AuditLog(database.db, database.dialect, events, { key: auditChainKey(secrets), headFile: path.join(config.core.dataDir, AUDIT_HEAD_FILE), log: app.log });
  const hosts = new HostRegistry(database.db);
  const hostsPlatform = createHostsPlatform({ db: database.db, hosts, audit, events, dataDir: config.core.dataDir, log: app.log });
  const metrics = createMetrics();
  const jobs = createJobService({ db: database.db, dialect: database.dialect, events, audit, hosts, log: app.log, workers: config.core.jobWorkers, metrics, dataDir: config.core.dataDir, cluster },
    { leaseMs: config.core.jobLeaseMs, heartbeatMs: Math.max(200, Math.floor(config.core.jobLeaseMs / 6)) });
  const auth = createAuth({ db: database.db, dialect: database.dialect, audit, events, secrets, config: config.core, log: app.log, permissions, cluster });
  const scheduler = new Scheduler(app.log, cluster.shared ? new ScheduleLeases(database.db, cluster.replicaId) : undefined);
  // Exactly-once housekeeping of the replicas' tables (old payloads, replicas gone for a day).
  scheduler.define('platform', 'cluster-housekeeping', config.core.clusterHeartbeatMs * 12, () => cluster.housekeeping());
  const hostnames = new HostnameClaims(database.db, { reserved: panelHostnames(config.core) });
  const logSources = new LogSources();
  const overview = new OverviewCounts();
  // a module that is not usable (required engine missing) provides nothing: ctx.use says why
  const capabilities = new CapabilityRegistry((id) => ({ ok: runtime.isUsable(id), reason: runtime.get(id)?.reason ?? null }));
  const runtime = new ModuleRuntime({ retryMs: config.core.engineRetryMs, recheckMs: config.core.engineRecheckMs, log: app.log });
  runtime.onChange((m) => events.publish({ type: 'module.status', resource: { type: 'module', id: m.id }, data: { status: m.status } }));
  const services: Services = { audit, events, hosts, jobs, auth, metrics, database, config, modules: runtime, scheduler, cluster, logSources, overview, hostsPlatform, hostnames, warnings: () => auth.proxyGuard.warnings(), permissions };
  app.decorate('slipway', services);

  // Helmet's headers, computed once and set by one hook (issue 16: the plugin rebuilt them per request).
  await installSecurityHeaders(app, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
  });
  await app.register(formbody);
  await app.register(websocket, {
    options: {
      maxPayload: 64 * 1024,
      // Echo our protocol so browsers accept the upgrade; the bearer entry is only a carrier.
      handleProtocols: (protocols: Set<string>) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
    },
  });
  // The API contract: info, servers, security and error responses (http/openapi.ts).
  await app.register(swagger, openapiOptions({ publicUrl: config.core.publicUrl }));
  await app.register(swaggerUi, { routePrefix: '/api/docs', uiConfig: { persistAuthorization: false } });

  installErrorHandler(app);
  installAuthHook(app, auth.authenticator, { streams: auth.streams, proxyGuard: auth.proxyGuard, permissions });
  // After the access check, so a route's missing access rule is reported first.
  installOpenapiChecks(app);
  installHttpMetrics(app, metrics);

  app.get('/api/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());

  const closers: (() => Promise<void> | void)[] = [];
  const localRunner = new LocalProcessRunner();

  await app.register(
    async (api) => {
      const http = api.withTypeProvider<ZodTypeProvider>();
      registerPlatformRoutes(http, services);
      registerModulesRoutes(http, services);
      registerClusterRoutes(http, cluster, scheduler);
      hostsPlatform.registerRoutes(http);
      // Cookies (the refresh token) are the auth routes' alone: parsed there, not on every request (issue 16).
      await http.register(async (scope) => {
        await scope.register(cookie);
        auth.registerRoutes(scope.withTypeProvider<ZodTypeProvider>());
      });
      jobs.registerRoutes(http);
      for (const m of deps.modules) {
        const readies: (() => Promise<void> | void)[] = [];
        let started = 0;
        const moduleConfig = moduleConfigs.get(m.id);
        runtime.add({
          id: m.id, title: m.title, navPermission: m.navPermission, engines: (m.engines ?? []) as never[],
          probeContext: { config: moduleConfig, core: config.core, runner: localRunner, timeoutMs: config.core.engineProbeTimeoutMs },
          // Background work starts once the engines answer; after a failure it goes on from the step that failed.
          activate: async () => {
            for (; started < readies.length; started++) await readies[started]!();
            scheduler.start(m.id);
          },
        });
        await http.register(async (scoped) => {
          markModuleRoutes(scoped, m.id);
          // After the auth hook (401/403 first): a module whose required engine is missing answers 503.
          // A callback hook: the usable case costs no promise (issue 16).
          scoped.addHook('preHandler', (req, _reply, done) => {
            if (runtime.isUsable(m.id)) return done();
            const st = runtime.get(m.id)!;
            // Staff learn what is missing and how to fix it; a tenant or an anonymous caller of a
            // public route (the iPXE scripts) only that it is unavailable.
            const staff = !!req.actor && req.actor.role !== 'user';
            done(new ModuleUnavailableError(
              staff ? (st.reason ?? `${m.title} is unavailable`) : `${m.title} is not available right now; the panel's operators have been told why`,
              { module: m.id, fix: staff ? st.fix : null },
            ));
          });
          await m.register({
            http: scoped.withTypeProvider<ZodTypeProvider>(),
            db: database.db,
            dialect: database.dialect,
            jobs,
            audit,
            events,
            hosts,
            hostnames,
            secretBox: (purpose) => new SecretBox(secrets.dataKey, purpose),
            log: app.log.child({ module: m.id }),
            config: moduleConfig as never,
            core: config.core,
            onClose: (fn) => closers.push(fn),
            onReady: (fn) => readies.push(fn),
            schedule: (name, everyMs, fn, opts) => scheduler.define(m.id, name, everyMs, fn, opts),
            localDuty: (name, description) => cluster.declareLocalDuty({ module: m.id, name, description }),
            logSources: { add: (p) => { const remove = logSources.add(p); closers.push(remove); return remove; } },
            overview: { count: (c) => { const remove = overview.add({ ...c, moduleId: m.id }); closers.push(remove); return remove; } },
            provide: (name, impl) => { const remove = capabilities.provide(m.id, name, impl); closers.push(remove); return remove; },
            use: (name) => capabilities.use(name),
            status: () => runtime.get(m.id)!,
          });
        });
      }
    },
    { prefix: '/api/v1' },
  );

  app.get('/metrics', { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
    const token = config.core.metricsToken;
    const loopback = ['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(req.socket.remoteAddress ?? '');
    const given = req.headers.authorization?.replace(/^Bearer /, '');
    // Behind a reverse proxy every caller arrives from loopback: only the token can tell them apart.
    if (!token && auth.proxyGuard.behindProxy) {
      return reply.code(403).send({ error: { code: 'forbidden', message: 'The panel is behind a reverse proxy: /metrics requires SLIPWAY_METRICS_TOKEN' } });
    }
    if (token ? !auth.constantTimeEquals(given ?? '', token) : !loopback) {
      return reply.code(token ? 401 : 403).send({ error: { code: token ? 'unauthorized' : 'forbidden', message: token ? 'Metrics token required' : 'Metrics are served to loopback only; set SLIPWAY_METRICS_TOKEN' } });
    }
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  const web = webRoot(config);
  if (web) {
    await app.register(fastifyStatic, { root: web, serve: false, decorateReply: true, index: false, serveDotFiles: false });
    // Client-side routes: any non-API GET serves the console's index.html.
    app.get('/*', { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
      const url = req.url.split('?')[0]!;
      if (url.startsWith('/api/')) return reply.callNotFound();
      const file = url.slice(1);
      if (file && existsSync(path.join(web, file)) && !file.includes('..')) return reply.sendFile(file);
      return reply.header('cache-control', 'no-cache').sendFile('index.html');
    });
  } else {
    app.get('/', { config: { public: true }, schema: { hide: true } }, async (_req, reply) =>
      reply.type('text/plain').send('Slipway API is running. The web console is not built: run `npm run build:web`.\nAPI docs: /api/docs\n'),
    );
  }

  app.addHook('onReady', async () => {
    // Streams of credentials revoked by another process (the CLI, a second panel) end within seconds.
    auth.startStreamGuard();
    await cluster.start();
    if (deps.startBackground === false) {
      // Statuses are known (routes of a module without its engine answer 503), no work starts.
      await runtime.start(false);
      return;
    }
    await jobs.start();
    scheduler.start('platform');
    hostsPlatform.start();
    // Never throws: a module whose engine is missing, or whose start fails, is reported, not fatal.
    await runtime.start(true);
  });
  app.addHook('onClose', async () => {
    auth.stop();
    audit.flushHead();
    await runtime.close();
    await scheduler.close();
    for (const fn of closers.reverse()) await fn();
    await jobs.stop();
    hostsPlatform.close();
    await cluster.stop();
  });

  return app;
}
