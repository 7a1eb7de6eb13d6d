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

export function installHttpMetrics(app: FastifyInstance, m: Metrics): void {
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    m.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    m.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });
}
