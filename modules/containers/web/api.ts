import type { ApiBody, ApiData } from '@slipway/web';

/** Shapes of the containers API, derived from the OpenAPI document (web/src/api/schema.d.ts; /api/docs, tag "containers"). */
export type Service = ApiData<'/api/v1/containers/{id}', 'get'>['service'];
export type ServiceState = Service['state'];
export type ContainerSpec = Service['containers'][number];
export type EnvVar = ContainerSpec['env'][number];
export type WakeRecord = ApiData<'/api/v1/containers/{id}/wakes', 'get'>['items'][number];
export type DockerContainer = ApiData<'/api/v1/containers/hosts/{hostId}/docker/containers', 'get'>['items'][number];
export type DockerImage = ApiData<'/api/v1/containers/hosts/{hostId}/docker/images', 'get'>['items'][number];
export type CreateServiceBody = ApiBody<'/api/v1/containers', 'post'>;

/**
 * @stream One `stats` event of GET /api/v1/containers/{id}/stats (an SSE stream, which the
 * OpenAPI document does not describe): StatsSample in modules/containers/server/docker.client.ts.
 */
export type StatsSample = { at: number; cpuPercent: number; memoryBytes: number; memoryLimitBytes: number; networkRxBytes: number; networkTxBytes: number };

/** One point of a service's usage over time (GET /api/v1/containers/{id}/stats/history; network in bytes per second). */
export type StatsPoint = ApiData<'/api/v1/containers/{id}/stats/history', 'get'>['points'][number];

/** Badge colour per service state (StatusBadge knows running/sleeping/failed; the rest here). */
export const STATE_LABEL: Record<ServiceState, string> = {
  creating: 'creating', sleeping: 'sleeping', waking: 'waking…', running: 'running', stopping: 'going to sleep…', failed: 'failed', deleting: 'deleting',
};
