import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  jobsFinished: Counter<'type' | 'state'>;
  jobsRunning: Gauge;
}

/** Prometheus metrics served at /metrics: HTTP, jobs and the process itself. Modules add their own. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'slipway_' });
  return {
    registry,
    httpRequests: new Counter({ name: 'slipway_http_requests_total', help: 'HTTP requests', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    httpDuration: new Histogram({ name: 'slipway_http_request_duration_seconds', help: 'HTTP request duration', labelNames: ['method', 'route'], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5], registers: [registry] }),
    jobsFinished: new Counter({ name: 'slipway_jobs_finished_total', help: 'Jobs that reached a final state', labelNames: ['type', 'state'], registers: [registry] }),
    jobsRunning: new Gauge({ name: 'slipway_jobs_running', help: 'Jobs running now', registers: [registry] }),
  };
}

/**
 * Counts every response and observes its duration. The labelled children are looked up once per
 * (route, method[, status]) and kept: prom-client would otherwise hash the label object on every
 * request (issue 16). The values are the same; only the lookup is cached.
 */
export function installHttpMetrics(app: FastifyInstance, m: Metrics): void {
  type Children = { duration: ReturnType<Metrics['httpDuration']['labels']>; byStatus: Map<number, ReturnType<Metrics['httpRequests']['labels']>> };
  const byRoute = new Map<string, Map<string, Children>>();
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    let methods = byRoute.get(route);
    if (!methods) byRoute.set(route, (methods = new Map()));
    let c = methods.get(req.method);
    if (!c) methods.set(req.method, (c = { duration: m.httpDuration.labels({ method: req.method, route }), byStatus: new Map() }));
    const status = reply.statusCode;
    let counter = c.byStatus.get(status);
    if (!counter) c.byStatus.set(status, (counter = m.httpRequests.labels({ method: req.method, route, status: String(status) })));
    counter.inc();
    c.duration.observe(reply.elapsedTime / 1000);
    done();
  });
}
