import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface ContainersMetrics {
  wakes: Counter<'service' | 'outcome'>;
  sleeps: Counter<'service'>;
  coldStart: Histogram<'phase'>;
  services: Gauge<'state'>;
}

/** Prometheus metrics of the containers module, on the panel's registry. */
export function createContainersMetrics(registry: Registry): ContainersMetrics {
  const existing = registry.getSingleMetric('slipway_containers_wakes_total');
  if (existing) {
    return {
      wakes: existing as Counter<'service' | 'outcome'>,
      sleeps: registry.getSingleMetric('slipway_containers_sleeps_total') as Counter<'service'>,
      coldStart: registry.getSingleMetric('slipway_containers_cold_start_seconds') as Histogram<'phase'>,
      services: registry.getSingleMetric('slipway_containers_services') as Gauge<'state'>,
    };
  }
  return {
    wakes: new Counter({ name: 'slipway_containers_wakes_total', help: 'Service wakes by outcome (ready, failed)', labelNames: ['service', 'outcome'], registers: [registry] }),
    sleeps: new Counter({ name: 'slipway_containers_sleeps_total', help: 'Services put to sleep', labelNames: ['service'], registers: [registry] }),
    coldStart: new Histogram({
      name: 'slipway_containers_cold_start_seconds',
      help: 'Cold start: container start to ready (start_to_ready) and first request to first byte (first_byte)',
      labelNames: ['phase'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers: [registry],
    }),
    services: new Gauge({ name: 'slipway_containers_services', help: 'Services by state', labelNames: ['state'], registers: [registry] }),
  };
}
