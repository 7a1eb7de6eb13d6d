import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { LoadedConfig } from './config.js';
import { moduleEnvKey } from './config.js';
import { ConfigError } from './config.js';
import { migrate, type Database, type NamedMigrations } from './db/database.js';
import { installAuthHook, WS_PROTOCOL } from './http/auth-hook.js';
import { installErrorHandler } from './http/error-handler.js';
import { registerPlatformRoutes } from './http/platform.routes.js';
import { installHttpMetrics, type Metrics, createMetrics } from './http/metrics.js';
import { AuditLog } from './platform/audit/audit.service.js';
import { createAuth, type AuthServices } from './platform/auth/index.js';
import { EventBus } from './platform/events/event-bus.js';
import { HostRegistry } from './platform/hosts/host-registry.js';
import { createJobService, type JobRunner } from './platform/jobs/index.js';
import type { HttpApp, ModuleDefinition } from './platform/module.js';
import type { Secrets } from './platform/secrets.js';

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

export async function buildApp(deps: AppDeps): Promise<HttpApp> {
  const { config, database, secrets } = deps;
  const app = Fastify({
    logger: deps.logger ?? { level: config.core.logLevel, redact: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["sec-websocket-protocol"]'] },
    trustProxy: config.core.trustProxy ?? false,
    bodyLimit: 1024 * 1024,
    // No per-request log lines: HTTP traffic is counted in /metrics and changes are in the audit log.
    logController: new LogController({ disableRequestLogging: true }),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  // Validate every module's config up front so all bad keys are reported together.
  const moduleConfigs = new Map<string, unknown>();
  const problems: string[] = [];
  for (const m of deps.modules) {
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

  const moduleMigrations: NamedMigrations = Object.assign({}, ...deps.modules.map((m) => m.migrations ?? {}));
  await migrate(database.db, moduleMigrations);

  const events = new EventBus();
  const audit = new AuditLog(database.db, database.dialect, events);
  const hosts = new HostRegistry(database.db);
  const metrics = createMetrics();
  const jobs = createJobService({ db: database.db, dialect: database.dialect, events, audit, hosts, log: app.log, workers: config.core.jobWorkers, metrics, dataDir: config.core.dataDir });
  const auth = createAuth({ db: database.db, dialect: database.dialect, audit, events, secrets, config: config.core, log: app.log });
  const services: Services = { audit, events, hosts, jobs, auth, metrics, database, config };
  app.decorate('slipway', services);

  await app.register(helmet, {
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
  await app.register(cookie);
  await app.register(formbody);
  await app.register(websocket, {
    options: {
      maxPayload: 64 * 1024,
      // Echo our protocol so browsers accept the upgrade; the bearer entry is only a carrier.
      handleProtocols: (protocols: Set<string>) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
    },
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'Slipway API', version: '1', description: 'Control panel API. Authenticate with a Bearer access token or API token.' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          password: { type: 'oauth2', flows: { password: { tokenUrl: '/api/v1/auth/login', scopes: {} } } },
        },
      },
      security: [{ bearer: [] }, { password: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs', uiConfig: { persistAuthorization: false } });

  installErrorHandler(app);
  installAuthHook(app, auth.authenticator);
  installHttpMetrics(app, metrics);

  app.get('/api/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());

  const closers: (() => Promise<void> | void)[] = [];
  const readies: (() => Promise<void> | void)[] = [];

  await app.register(
    async (api) => {
      const http = api.withTypeProvider<ZodTypeProvider>();
      registerPlatformRoutes(http, services);
      auth.registerRoutes(http);
      jobs.registerRoutes(http);
      for (const m of deps.modules) {
        await http.register(async (scoped) => {
          await m.register({
            http: scoped.withTypeProvider<ZodTypeProvider>(),
            db: database.db,
            dialect: database.dialect,
            jobs,
            audit,
            events,
            hosts,
            log: app.log.child({ module: m.id }),
            config: moduleConfigs.get(m.id) as never,
            core: config.core,
            onClose: (fn) => closers.push(fn),
            onReady: (fn) => readies.push(fn),
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
    if (deps.startBackground === false) return;
    await jobs.start();
    for (const fn of readies) await fn();
  });
  app.addHook('onClose', async () => {
    for (const fn of closers.reverse()) await fn();
    await jobs.stop();
  });

  return app;
}
