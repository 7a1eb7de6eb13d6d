export { getJson, sendJson } from '@slipway/web';

/** Shapes of the containers API (see /api/docs, tag "containers"). */
export type ServiceState = 'creating' | 'sleeping' | 'waking' | 'running' | 'stopping' | 'failed' | 'deleting';

export interface EnvVar { name: string; value: string; secret: boolean }
export interface ContainerSpec {
  name: string;
  image: string;
  command?: string[];
  env: EnvVar[];
  ports: { containerPort: number; protocol: 'tcp' | 'udp'; hostPort: number; hostIp: string }[];
  volumes: { source: string; target: string; readOnly: boolean }[];
  labels: Record<string, string>;
  healthCheck?: { type: 'http'; path: string } | { type: 'running' } | { type: 'docker'; test: string[]; intervalMs: number; retries: number };
  dependsOn: string[];
  resources?: { memoryMb?: number; cpus?: number; pids?: number };
}
export interface Service {
  id: string;
  name: string;
  hostId: string;
  ownerId: string | null;
  hostnames: string[];
  containers: ContainerSpec[];
  http: { container: string; port: number };
  restartPolicy: 'no' | 'on-failure' | 'unless-stopped' | 'always';
  sleep: { mode: 'stop' | 'pause' | 'always-on'; idleTimeoutSeconds: number };
  startTimeoutSeconds: number;
  stopTimeoutSeconds: number;
  state: ServiceState;
  lastError: string | null;
  wakeCount: number;
  sleepCount: number;
  lastActivityAt: number | null;
  lastWakeAt: number | null;
  lastColdStart: { firstByteMs: number | null; startToReadyMs: number } | null;
  createdAt: number;
  updatedAt: number;
}
export interface WakeRecord { at: number; trigger: string; outcome: 'ready' | 'failed'; startToReadyMs: number | null; firstByteMs: number | null; error: string | null }
export interface DockerContainer {
  id: string; name: string; image: string; state: string; status: string; createdAt: number;
  ports: { containerPort: number; hostPort: number | null; hostIp: string | null; protocol: string }[];
  labels: Record<string, string>; managed: boolean; serviceId: string | null;
}
export interface DockerImage { id: string; tags: string[]; sizeBytes: number; createdAt: number }
export interface StatsSample { at: number; cpuPercent: number; memoryBytes: number; memoryLimitBytes: number; networkRxBytes: number; networkTxBytes: number }
export interface JobRef { job: { id: string; title: string } }


/** Badge colour per service state (StatusBadge knows running/sleeping/failed; the rest here). */
export const STATE_LABEL: Record<ServiceState, string> = {
  creating: 'creating', sleeping: 'sleeping', waking: 'waking…', running: 'running', stopping: 'going to sleep…', failed: 'failed', deleting: 'deleting',
};
