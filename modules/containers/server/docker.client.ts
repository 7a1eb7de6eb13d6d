import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import { lineSplitter } from '../../../server/src/sdk.js';
import type { ContainerSpec } from './containers.schema.js';

/** Labels Slipway puts on what it creates; it never touches or prunes anything without them. */
export const LABEL_MANAGED = 'slipway.managed';
export const LABEL_NAMESPACE = 'slipway.namespace';
export const LABEL_SERVICE = 'slipway.service';
export const LABEL_CONTAINER = 'slipway.container';

export interface ContainerSummary {
  id: string;
  name: string;
  image: string;
  state: string;
  status: string;
  createdAt: number;
  ports: { containerPort: number; hostPort: number | null; hostIp: string | null; protocol: string }[];
  labels: Record<string, string>;
  /** Created by Slipway (carries its label). */
  managed: boolean;
  serviceId: string | null;
}

export interface ContainerState {
  id: string;
  name: string;
  running: boolean;
  paused: boolean;
  status: string;
  exitCode: number;
  error: string;
  health: string | null;
  startedAt: string;
  /** Host port published for a container port (tcp), when running. */
  hostPort(containerPort: number): number | null;
  labels: Record<string, string>;
  /** What is mounted: `bind` (a host path) or `volume` (with its Docker volume name). */
  mounts: { type: string; source: string; name: string | null; destination: string }[];
}

export interface StatsSample {
  at: number;
  cpuPercent: number;
  memoryBytes: number;
  memoryLimitBytes: number;
  networkRxBytes: number;
  networkTxBytes: number;
}

export interface CreateContainerInput {
  name: string;
  spec: ContainerSpec;
  network: string;
  /** The port visitors reach through Caddy: published on 127.0.0.1 at httpHostPort (else a port Docker chooses). */
  httpPort?: number;
  httpHostPort?: number;
  restartPolicy: string;
  labels: Record<string, string>;
  /** Resolved by the jobs: Docker volume names (namespaced) or checked host paths. */
  mounts: { type: 'volume' | 'bind'; source: string; target: string; readOnly: boolean }[];
  limits: { memoryMb: number; cpus: number; pids: number };
  /** Capabilities added back after dropping ALL. */
  capAdd: string[];
}

/** Docker Engine API adapter (dockerode). The local socket today; one instance per host. */
export class DockerClient {
  readonly docker: Docker;
  constructor(opts: { socketPath: string }) {
    this.docker = new Docker({ socketPath: opts.socketPath });
  }

  async ping(): Promise<void> {
    await this.docker.ping();
  }

  async listContainers(filters?: { labels?: string[] }): Promise<ContainerSummary[]> {
    const list = await this.docker.listContainers({ all: true, ...(filters?.labels ? { filters: { label: filters.labels } } : {}) });
    return list.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      image: c.Image,
      state: c.State,
      status: c.Status,
      createdAt: c.Created * 1000,
      ports: c.Ports.map((p) => ({ containerPort: p.PrivatePort, hostPort: p.PublicPort ?? null, hostIp: p.IP ?? null, protocol: p.Type })),
      labels: c.Labels ?? {},
      managed: c.Labels?.[LABEL_MANAGED] === 'true',
      serviceId: c.Labels?.[LABEL_SERVICE] ?? null,
    }));
  }

  async listImages(): Promise<{ id: string; tags: string[]; sizeBytes: number; createdAt: number }[]> {
    const list = await this.docker.listImages();
    return list.map((i) => ({ id: i.Id, tags: i.RepoTags ?? [], sizeBytes: i.Size, createdAt: i.Created * 1000 }));
  }

  async imageExists(ref: string): Promise<boolean> {
    try {
      await this.docker.getImage(ref).inspect();
      return true;
    } catch (e) {
      if (statusOf(e) === 404) return false;
      throw e;
    }
  }

  /** Pulls an image, resolving when the pull finished (no registry is reachable in tests). */
  async pull(ref: string): Promise<void> {
    const stream = await this.docker.pull(ref);
    await new Promise<void>((resolve, reject) => this.docker.modem.followProgress(stream, (err) => (err ? reject(err) : resolve())));
  }

  async inspect(idOrName: string): Promise<ContainerState | null> {
    try {
      const i = await this.docker.getContainer(idOrName).inspect();
      const ports = i.NetworkSettings?.Ports ?? {};
      return {
        id: i.Id,
        name: i.Name.replace(/^\//, ''),
        running: i.State.Running,
        paused: i.State.Paused,
        status: i.State.Status,
        exitCode: i.State.ExitCode,
        error: i.State.Error,
        health: i.State.Health?.Status ?? null,
        startedAt: i.State.StartedAt,
        labels: i.Config.Labels ?? {},
        mounts: (i.Mounts ?? []).map((m) => ({ type: m.Type, source: m.Source, name: (m as { Name?: string }).Name ?? null, destination: m.Destination })),
        hostPort(containerPort: number) {
          const b = ports[`${containerPort}/tcp`]?.find((x) => x.HostIp === '127.0.0.1' || x.HostIp === '0.0.0.0') ?? ports[`${containerPort}/tcp`]?.[0];
          return b?.HostPort ? Number(b.HostPort) : null;
        },
      };
    } catch (e) {
      if (statusOf(e) === 404) return null;
      throw e;
    }
  }

  /** Raw inspect document (for the console's inspect view). */
  async inspectRaw(idOrName: string): Promise<Docker.ContainerInspectInfo> {
    return this.docker.getContainer(idOrName).inspect();
  }

  /** Creates the network, or checks that the one of that name carries the same `slipway.service` label. */
  async ensureNetwork(name: string, labels: Record<string, string>): Promise<void> {
    const existing = (await this.docker.listNetworks({ filters: { name: [name] } })).find((n) => n.Name === name);
    if (existing) {
      if ((existing.Labels ?? {})[LABEL_SERVICE] !== labels[LABEL_SERVICE]) throw new Error(`network ${name} exists but does not belong to this service (label ${LABEL_SERVICE}=${existing.Labels?.[LABEL_SERVICE] ?? 'missing'}); it is not used`);
      return;
    }
    await this.docker.createNetwork({ Name: name, Driver: 'bridge', Labels: labels, CheckDuplicate: true });
  }

  /** Networks carrying a label (e.g. every network of one service, whatever its name). */
  async removeNetworksLabelled(label: string): Promise<void> {
    for (const n of await this.docker.listNetworks({ filters: { label: [label] } })) await this.removeNetwork(n.Id);
  }

  /** Creates a named volume with our labels, or checks that the existing one carries the same `slipway.service`. */
  async ensureVolume(name: string, labels: Record<string, string>): Promise<void> {
    try {
      const v = await this.docker.getVolume(name).inspect();
      if ((v.Labels ?? {})[LABEL_SERVICE] !== labels[LABEL_SERVICE]) throw new Error(`volume ${name} exists but does not belong to this service (label ${LABEL_SERVICE}=${v.Labels?.[LABEL_SERVICE] ?? 'missing'}); it is not mounted`);
      return;
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
    }
    await this.docker.createVolume({ Name: name, Labels: labels });
  }

  /** Volumes carrying a label (a deleted service's own volumes). */
  async removeVolumesLabelled(label: string): Promise<string[]> {
    const { Volumes } = await this.docker.listVolumes({ filters: { label: [label] } });
    const removed: string[] = [];
    for (const v of Volumes ?? []) {
      try {
        await this.docker.getVolume(v.Name).remove();
        removed.push(v.Name);
      } catch (e) {
        if (statusOf(e) !== 404) throw e;
      }
    }
    return removed;
  }

  async rename(id: string, name: string): Promise<void> {
    await this.docker.getContainer(id).rename({ name });
  }

  async removeNetwork(name: string): Promise<void> {
    try {
      await this.docker.getNetwork(name).remove();
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
    }
  }

  async createContainer(input: CreateContainerInput): Promise<string> {
    const { spec } = input;
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    if (input.httpPort) {
      exposed[`${input.httpPort}/tcp`] = {};
      bindings[`${input.httpPort}/tcp`] = [{ HostIp: '127.0.0.1', HostPort: input.httpHostPort ? String(input.httpHostPort) : '' }];
    }
    for (const p of spec.ports) {
      const key = `${p.containerPort}/${p.protocol}`;
      exposed[key] = {};
      (bindings[key] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
    }
    const hc = spec.healthCheck?.type === 'docker' ? spec.healthCheck : undefined;
    const c = await this.docker.createContainer({
      name: input.name,
      Image: spec.image,
      ...(spec.command ? { Cmd: spec.command } : {}),
      Env: spec.env.map((e) => `${e.name}=${e.value}`),
      Labels: { ...spec.labels, ...input.labels },
      ExposedPorts: exposed,
      ...(hc ? { Healthcheck: { Test: hc.test, Interval: hc.intervalMs * 1e6, Timeout: hc.intervalMs * 1e6, Retries: hc.retries, StartPeriod: 0 } } : {}),
      HostConfig: {
        PortBindings: bindings,
        Mounts: input.mounts.map((m) => ({ Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.readOnly })),
        RestartPolicy: { Name: input.restartPolicy === 'no' ? '' : input.restartPolicy },
        NetworkMode: input.network,
        // Every container: no privilege gain through setuid/file caps, a small capability set, limits.
        SecurityOpt: ['no-new-privileges:true'],
        CapDrop: ['ALL'],
        CapAdd: input.capAdd,
        Privileged: false,
        Memory: input.limits.memoryMb * 1024 * 1024,
        MemorySwap: input.limits.memoryMb * 1024 * 1024,
        NanoCpus: Math.round(input.limits.cpus * 1e9),
        PidsLimit: input.limits.pids,
      },
      NetworkingConfig: { EndpointsConfig: { [input.network]: { Aliases: [spec.name] } } },
    });
    return c.id;
  }

  async start(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
    } catch (e) {
      if (statusOf(e) !== 304) throw e; // already started
    }
  }

  async stop(id: string, timeoutSeconds = 10): Promise<void> {
    try {
      await this.docker.getContainer(id).stop({ t: timeoutSeconds });
    } catch (e) {
      if (statusOf(e) !== 304) throw e; // already stopped
    }
  }

  async restart(id: string): Promise<void> {
    await this.docker.getContainer(id).restart();
  }

  async pause(id: string): Promise<void> {
    await this.docker.getContainer(id).pause();
  }

  async unpause(id: string): Promise<void> {
    await this.docker.getContainer(id).unpause();
  }

  async remove(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: false });
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
    }
  }

  /** Log lines (stdout/stderr demultiplexed); `follow` keeps streaming until stop(). */
  /** `since`: seconds[.nanoseconds] since the epoch, inclusive (a live log resuming at a line's timestamp). */
  async logs(id: string, opts: { follow: boolean; tail?: number | 'all'; sinceSeconds?: number; since?: string }, onLine: (l: { stream: 'stdout' | 'stderr'; line: string }) => void): Promise<{ stop(): void; done: Promise<void> }> {
    const c = this.docker.getContainer(id);
    const info = await c.inspect();
    const since = opts.since && /^\d{1,12}(\.\d{1,9})?$/.test(opts.since) ? opts.since : opts.sinceSeconds;
    const raw = (await c.logs({ follow: opts.follow as true, stdout: true, stderr: true, timestamps: true, tail: (opts.tail ?? 200) as number, ...(since ? { since: since as number } : {}) })) as unknown;
    const out = lineSplitter((line) => onLine({ stream: 'stdout', line }));
    const err = lineSplitter((line) => onLine({ stream: 'stderr', line }));
    // Frames are split in the order docker sends them, so stdout and stderr lines keep their order
    // (a live log's cursor is the line's timestamp and must not go backwards).
    const demux = info.Config.Tty ? (d: Buffer) => out.push(d.toString('utf8')) : frameDemuxer((type, chunk) => (type === 2 ? err : out).push(chunk.toString('utf8')));
    if (Buffer.isBuffer(raw)) {
      // Non-follow logs arrive as one buffer, still multiplexed unless the container has a TTY.
      demux(raw);
      out.end();
      err.end();
      return { stop() {}, done: Promise.resolve() };
    }
    const stream = raw as Readable;
    stream.on('data', (d: Buffer) => demux(d));
    const done = new Promise<void>((resolve) => {
      stream.on('end', () => resolve());
      stream.on('close', () => resolve());
      stream.on('error', () => resolve());
    }).then(() => {
      out.end();
      err.end();
    });
    return { stop: () => stream.destroy(), done };
  }

  /** Live CPU, memory and network samples (about one a second) until stop(). */
  async stats(id: string, onSample: (s: StatsSample) => void): Promise<{ stop(): void }> {
    const stream = (await this.docker.getContainer(id).stats({ stream: true })) as unknown as Readable;
    const split = lineSplitter((line) => {
      if (!line.trim()) return;
      try {
        onSample(toSample(JSON.parse(line) as DockerStats));
      } catch {
        /* a partial line: skip */
      }
    });
    stream.on('data', (d: Buffer) => split.push(d.toString('utf8')));
    return { stop: () => stream.destroy() };
  }

  /** One stats reading (Docker waits for a second CPU reading, so the CPU share is real). */
  async statsOnce(id: string): Promise<StatsSample> {
    return toSample((await this.docker.getContainer(id).stats({ stream: false })) as unknown as DockerStats);
  }

  /** Container events of Slipway's namespace (start, die, stop, pause, unpause, destroy). */
  async events(namespace: string, onEvent: (e: { action: string; id: string; labels: Record<string, string> }) => void): Promise<{ stop(): void }> {
    const stream = (await this.docker.getEvents({ filters: { type: ['container'], label: [`${LABEL_NAMESPACE}=${namespace}`] } })) as unknown as Readable;
    const split = lineSplitter((line) => {
      if (!line.trim()) return;
      try {
        const e = JSON.parse(line) as { Action: string; Actor: { ID: string; Attributes: Record<string, string> } };
        onEvent({ action: e.Action, id: e.Actor.ID, labels: e.Actor.Attributes });
      } catch {
        /* ignore */
      }
    });
    stream.on('data', (d: Buffer) => split.push(d.toString('utf8')));
    stream.on('error', () => {});
    return { stop: () => stream.destroy() };
  }
}

interface DockerStats {
  read: string;
  cpu_stats: { cpu_usage: { total_usage: number; percpu_usage?: number[] }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number };
  memory_stats: { usage?: number; limit?: number; stats?: { inactive_file?: number; cache?: number } };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>;
}

function toSample(s: DockerStats): StatsSample {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const sysDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
  const cpus = s.cpu_stats.online_cpus ?? s.cpu_stats.cpu_usage.percpu_usage?.length ?? 1;
  const cache = s.memory_stats.stats?.inactive_file ?? s.memory_stats.stats?.cache ?? 0;
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    rx += n.rx_bytes;
    tx += n.tx_bytes;
  }
  return {
    at: Date.parse(s.read) || Date.now(),
    cpuPercent: sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0,
    memoryBytes: Math.max(0, (s.memory_stats.usage ?? 0) - cache),
    memoryLimitBytes: s.memory_stats.limit ?? 0,
    networkRxBytes: rx,
    networkTxBytes: tx,
  };
}

/** Docker's multiplexed log format: 8-byte header (stream, 0, 0, 0, size BE32) per frame. */
/** Docker's multiplexed stream (8-byte header: stream type, size; then the payload), frame by frame in order. */
function frameDemuxer(onFrame: (type: number, chunk: Buffer) => void): (d: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (d) => {
    pending = pending.length ? Buffer.concat([pending, d]) : d;
    let i = 0;
    while (i + 8 <= pending.length) {
      const size = pending.readUInt32BE(i + 4);
      if (i + 8 + size > pending.length) break;
      onFrame(pending[i]!, pending.subarray(i + 8, i + 8 + size));
      i += 8 + size;
    }
    pending = Buffer.from(pending.subarray(i));
  };
}

export function statusOf(e: unknown): number | undefined {
  return typeof e === 'object' && e !== null && 'statusCode' in e ? Number((e as { statusCode: unknown }).statusCode) : undefined;
}

/** A short, user-facing reason from a Docker API error. */
export function dockerReason(e: unknown): string {
  const json = (e as { json?: { message?: string } })?.json;
  return json?.message ?? (e instanceof Error ? e.message : String(e));
}
