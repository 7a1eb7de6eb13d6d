import { ExecError, type ProcessRunner } from '../../../server/src/sdk.js';
import { LABEL_MANAGED, LABEL_SERVICE, type ContainerSummary, type StatsSample } from './docker.client.js';

/** The Docker Engine inspect document, as `docker inspect` prints it (the API's own JSON). */
interface InspectDoc {
  Id: string;
  Name: string;
  Created: string;
  Config: { Image: string; Labels: Record<string, string> | null; Env?: string[] };
  State: { Status: string; Running: boolean; Paused: boolean; ExitCode: number; StartedAt: string; Health?: { Status: string } };
  NetworkSettings: { Ports: Record<string, { HostIp: string; HostPort: string }[] | null> | null };
}

/**
 * The `docker` CLI driven through a host's process runner (argv only; ids after `--`): how Slipway
 * reaches Docker on a remote host over its SSH connection. Output is the Engine's inspect JSON.
 */
export class DockerCli {
  constructor(private readonly run: ProcessRunner) {}

  private async json<T>(args: string[]): Promise<T> {
    const r = await this.run.exec('docker', args, { timeoutMs: 30_000 });
    return JSON.parse(r.stdout || 'null') as T;
  }

  async listContainers(): Promise<ContainerSummary[]> {
    const ids = (await this.run.exec('docker', ['ps', '--all', '--quiet', '--no-trunc'], { timeoutMs: 30_000 })).stdout.split('\n').map((s) => s.trim()).filter(Boolean);
    if (!ids.length) return [];
    const docs = await this.json<InspectDoc[]>(['container', 'inspect', '--', ...ids]);
    return docs.map((d) => {
      const labels = d.Config.Labels ?? {};
      const ports = Object.entries(d.NetworkSettings.Ports ?? {}).flatMap(([key, binds]) => {
        const [port, protocol] = key.split('/') as [string, string];
        const list = binds?.length ? binds : [null];
        return list.map((b) => ({ containerPort: Number(port), hostPort: b ? Number(b.HostPort) : null, hostIp: b?.HostIp ?? null, protocol }));
      });
      return {
        id: d.Id,
        name: d.Name.replace(/^\//, ''),
        image: d.Config.Image,
        state: d.State.Status,
        status: d.State.Running ? `Up since ${d.State.StartedAt}` : `${d.State.Status} (${d.State.ExitCode})`,
        createdAt: Date.parse(d.Created),
        ports,
        labels,
        managed: labels[LABEL_MANAGED] === 'true',
        serviceId: labels[LABEL_SERVICE] ?? null,
      };
    });
  }

  async listImages(): Promise<{ id: string; tags: string[]; sizeBytes: number; createdAt: number }[]> {
    const ids = [...new Set((await this.run.exec('docker', ['image', 'ls', '--quiet', '--no-trunc'], { timeoutMs: 30_000 })).stdout.split('\n').map((s) => s.trim()).filter(Boolean))];
    if (!ids.length) return [];
    const docs = await this.json<{ Id: string; RepoTags: string[] | null; Size: number; Created: string }[]>(['image', 'inspect', '--', ...ids]);
    return docs.map((i) => ({ id: i.Id, tags: i.RepoTags ?? [], sizeBytes: i.Size, createdAt: Date.parse(i.Created) }));
  }

  /** null when there is no such container. */
  async inspect(idOrName: string): Promise<{ id: string; name: string; running: boolean; raw: InspectDoc } | null> {
    try {
      const [d] = await this.json<InspectDoc[]>(['container', 'inspect', '--', idOrName]);
      return d ? { id: d.Id, name: d.Name.replace(/^\//, ''), running: d.State.Running, raw: d } : null;
    } catch (e) {
      if (e instanceof ExecError && /no such (container|object)/i.test(e.stderr)) return null;
      throw e;
    }
  }

  async inspectRaw(idOrName: string): Promise<InspectDoc> {
    const d = await this.inspect(idOrName);
    if (!d) throw new Error(`no such container ${idOrName}`);
    return d.raw;
  }

  async start(id: string): Promise<void> {
    await this.run.exec('docker', ['container', 'start', '--', id], { timeoutMs: 60_000 });
  }

  async stop(id: string, timeoutSeconds = 10): Promise<void> {
    await this.run.exec('docker', ['container', 'stop', '--time', String(timeoutSeconds), '--', id], { timeoutMs: (timeoutSeconds + 30) * 1000 });
  }

  async restart(id: string): Promise<void> {
    await this.run.exec('docker', ['container', 'restart', '--', id], { timeoutMs: 90_000 });
  }

  async logs(id: string, opts: { follow: boolean; tail?: number | 'all'; since?: string }, onLine: (l: { stream: 'stdout' | 'stderr'; line: string }) => void): Promise<{ stop(): void; done: Promise<void> }> {
    const since = opts.since && /^\d{1,12}(\.\d{1,9})?$/.test(opts.since) ? ['--since', opts.since] : [];
    const args = ['container', 'logs', '--timestamps', '--tail', String(opts.tail ?? 200), ...since, ...(opts.follow ? ['--follow'] : []), '--', id];
    const h = this.run.stream('docker', args);
    const done = (async () => {
      for await (const l of h.lines) onLine({ stream: l.stream, line: l.line });
    })().catch(() => {});
    return { stop: () => h.stop(), done };
  }

  /** `docker stats` prints human units (e.g. "12.5MiB / 1.9GiB"); parsed back to bytes. */
  async stats(id: string, onSample: (s: StatsSample) => void): Promise<{ stop(): void }> {
    const h = this.run.stream('docker', ['container', 'stats', '--no-trunc', '--format', '{{json .}}', '--', id]);
    void (async () => {
      for await (const l of h.lines) {
        const s = parseStatsLine(l.line);
        if (s) onSample(s);
      }
    })().catch(() => {});
    return { stop: () => h.stop() };
  }
}

const UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

export function parseSize(text: string): number {
  const m = /^([\d.]+)\s*([a-z]*)$/i.exec(text.trim());
  if (!m) return 0;
  return Math.round(Number(m[1]) * (UNITS[(m[2] || 'b').toLowerCase()] ?? 1));
}

export function parseStatsLine(line: string): StatsSample | null {
  // `docker stats` redraws with terminal escapes before each frame; the JSON follows them.
  const start = line.indexOf('{');
  if (start < 0) return null;
  try {
    const j = JSON.parse(line.slice(start)) as { CPUPerc: string; MemUsage: string; NetIO: string };
    const [mem = '0B', limit = '0B'] = j.MemUsage.split('/');
    const [rx = '0B', tx = '0B'] = j.NetIO.split('/');
    return { at: Date.now(), cpuPercent: Number.parseFloat(j.CPUPerc) || 0, memoryBytes: parseSize(mem), memoryLimitBytes: parseSize(limit), networkRxBytes: parseSize(rx), networkTxBytes: parseSize(tx) };
  } catch {
    return null;
  }
}
