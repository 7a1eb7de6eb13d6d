import { z } from 'zod';

/** Allow-lists for everything a user sends: none of it can become an option or a path escape. */
export const ServiceName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,40}$/, 'lowercase letters, digits and dashes; starts with a letter or digit');
export const ContainerName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/, 'lowercase letters, digits and dashes');
export const Hostname = z
  .string()
  .max(253)
  .regex(/^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/, 'a lowercase DNS name such as app.example.com');
export const ImageRef = z.string().max(255).regex(/^[a-z0-9][a-z0-9._/:@-]*$/i, 'an image reference such as nginx:1.25 or registry/app@sha256:…');
export const EnvVar = z.object({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/),
  value: z.string().max(8192),
  /** Shown masked in every read. */
  secret: z.boolean().default(false),
});
export const PortMapping = z.object({
  containerPort: z.number().int().min(1).max(65535),
  protocol: z.enum(['tcp', 'udp']).default('tcp'),
  /** Published on loopback unless hostIp says otherwise. */
  hostPort: z.number().int().min(1).max(65535),
  hostIp: z.enum(['127.0.0.1', '0.0.0.0', '::1', '::']).default('127.0.0.1'),
});
export const VolumeMount = z.object({
  /**
   * A volume name of this service (the Docker volume is `slw-<serviceId>-<name>`, so no two services
   * share one) or, for admins only, an absolute host path under SLIPWAY_CONTAINERS_HOST_PATH_ROOTS.
   */
  source: z.string().max(255).regex(/^(?:[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}|\/[A-Za-z0-9_./-]*)$/, 'a volume name (letters, digits, _ . -; at most 63) or an absolute host path').refine((s) => !s.includes('..'), 'no ..'),
  target: z.string().max(255).regex(/^\/[A-Za-z0-9_./-]*$/).refine((s) => !s.includes('..'), 'no ..'),
  readOnly: z.boolean().default(false),
});
export const HealthCheck = z.discriminatedUnion('type', [
  /** Ready when GET <path> on the HTTP port answers below 500. */
  z.object({ type: z.literal('http'), path: z.string().max(512).regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$/).default('/') }),
  /** Ready when Docker reports the container healthy (its own HEALTHCHECK). */
  z.object({
    type: z.literal('docker'),
    test: z.array(z.string().max(1024)).min(1).max(32),
    intervalMs: z.number().int().min(100).max(600_000).default(1000),
    retries: z.number().int().min(1).max(100).default(30),
  }),
  /** Ready as soon as the container runs. */
  z.object({ type: z.literal('running') }),
]);
export const ContainerSpec = z.object({
  name: ContainerName,
  image: ImageRef,
  command: z.array(z.string().max(4096)).max(64).optional(),
  env: z.array(EnvVar).max(200).default([]),
  ports: z.array(PortMapping).max(20).default([]),
  volumes: z.array(VolumeMount).max(20).default([]),
  labels: z.record(z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._/-]{0,127}$/).refine((k) => !k.startsWith('slipway.'), 'slipway.* labels are reserved'), z.string().max(1024)).default({}),
  healthCheck: HealthCheck.optional(),
  /** Containers of the same service started before this one. */
  dependsOn: z.array(ContainerName).max(10).default([]),
  /** Limits of this container; unset ones take the panel's defaults, all bounded by its maxima. */
  resources: z.object({
    memoryMb: z.number().int().min(6).max(1_048_576).optional(),
    cpus: z.number().min(0.01).max(1024).optional(),
    pids: z.number().int().min(16).max(4_194_304).optional(),
  }).optional(),
});
export const SleepPolicy = z.object({
  mode: z.enum(['stop', 'pause', 'always-on']).default('stop'),
  idleTimeoutSeconds: z.number().int().min(1).max(7 * 86400).default(900),
});
export const RestartPolicy = z.enum(['no', 'on-failure', 'unless-stopped', 'always']);

const ServiceBody = z.object({
  name: ServiceName,
  hostId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('local'),
  hostnames: z.array(Hostname).min(1).max(20),
  containers: z.array(ContainerSpec).min(1).max(10),
  /** Which container and port visitors reach; defaults to the first container's port 80. */
  http: z.object({ container: ContainerName.optional(), port: z.number().int().min(1).max(65535).default(80) }).default({ port: 80 }),
  restartPolicy: RestartPolicy.default('no'),
  sleep: SleepPolicy.default({ mode: 'stop', idleTimeoutSeconds: 900 }),
  /** Seconds a start may take before the wake fails (504). */
  startTimeoutSeconds: z.number().int().min(1).max(600).default(60),
  /** Seconds Docker waits after SIGTERM before SIGKILL when the service goes to sleep. */
  stopTimeoutSeconds: z.number().int().min(0).max(300).default(10),
});

function checkGroup(s: { containers: { name: string; dependsOn: string[] }[]; http: { container?: string } }, ctx: z.RefinementCtx) {
  const names = new Set<string>();
  for (const c of s.containers) {
    if (names.has(c.name)) ctx.addIssue({ code: 'custom', message: `container name ${c.name} is used twice`, path: ['containers'] });
    names.add(c.name);
  }
  for (const c of s.containers) for (const d of c.dependsOn) if (!names.has(d) || d === c.name) ctx.addIssue({ code: 'custom', message: `${c.name} depends on unknown container ${d}`, path: ['containers'] });
  if (s.http.container && !names.has(s.http.container)) ctx.addIssue({ code: 'custom', message: `http.container ${s.http.container} is not in containers`, path: ['http', 'container'] });
  try {
    startOrder(s.containers);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message, path: ['containers'] });
  }
}

export const CreateService = ServiceBody.superRefine(checkGroup);
export type CreateService = z.output<typeof CreateService>;
export type ContainerSpec = z.output<typeof ContainerSpec>;
export type HealthCheck = z.output<typeof HealthCheck>;

/** PATCH: any field but the name and host; secrets sent as the mask keep their stored value. */
export const UpdateService = ServiceBody.omit({ name: true, hostId: true }).partial();
export type UpdateService = z.output<typeof UpdateService>;

export const SERVICE_STATES = ['creating', 'sleeping', 'waking', 'running', 'stopping', 'failed', 'deleting'] as const;
export type ServiceState = (typeof SERVICE_STATES)[number];

export const SECRET_MASK = '********';

export const ServiceView = z.object({
  id: z.string(),
  name: z.string(),
  hostId: z.string(),
  ownerId: z.string().nullable(),
  hostnames: z.array(z.string()),
  containers: z.array(ContainerSpec),
  http: z.object({ container: z.string(), port: z.number() }),
  restartPolicy: RestartPolicy,
  sleep: SleepPolicy,
  startTimeoutSeconds: z.number(),
  stopTimeoutSeconds: z.number(),
  state: z.enum(SERVICE_STATES),
  lastError: z.string().nullable(),
  wakeCount: z.number(),
  sleepCount: z.number(),
  lastActivityAt: z.number().nullable(),
  lastWakeAt: z.number().nullable(),
  lastColdStart: z.object({ firstByteMs: z.number().nullable(), startToReadyMs: z.number() }).nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type ServiceView = z.output<typeof ServiceView>;

export const WakeRecord = z.object({
  at: z.number(),
  trigger: z.string(),
  outcome: z.enum(['ready', 'failed']),
  startToReadyMs: z.number().nullable(),
  firstByteMs: z.number().nullable(),
  error: z.string().nullable(),
});
export type WakeRecord = z.output<typeof WakeRecord>;

/** Dependency order (dependencies first); throws on a cycle. */
export function startOrder<T extends { name: string; dependsOn: string[] }>(containers: T[]): T[] {
  const byName = new Map(containers.map((c) => [c.name, c]));
  const out: T[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (c: T, trail: string[]) => {
    const s = state.get(c.name);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`dependency cycle: ${[...trail, c.name].join(' -> ')}`);
    state.set(c.name, 'visiting');
    for (const d of c.dependsOn) {
      const dep = byName.get(d);
      if (dep) visit(dep, [...trail, c.name]);
    }
    state.set(c.name, 'done');
    out.push(c);
  };
  for (const c of containers) visit(c, []);
  return out;
}
