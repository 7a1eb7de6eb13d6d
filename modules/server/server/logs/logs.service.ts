import { access } from 'node:fs/promises';
import { ExecError } from '../../../../server/src/infra/exec-error.js';
import type { ProcessRunner, StreamHandle } from '../../../../server/src/infra/process-runner.js';
import { NotFoundError, UnavailableError } from '../../../../server/src/platform/errors.js';
import { LOCAL_HOST_ID, type HostRegistry } from '../../../../server/src/platform/hosts/host-registry.js';
import { requirePermission, type Actor } from '../../../../server/src/platform/rbac/permissions.js';
import { serverPermissions } from '../server.permissions.js';
import type { ServicesService } from '../services/services.service.js';
import { FileFollower, tailFile } from './file-follower.js';
import type { LogDelivery } from './log-delivery.js';
import { journalLine, lineMatcher, textLine, type LineFilter, type LogLine } from './log-line.js';

/** A log file fixed in configuration; requests name it by id, never by path. */
export interface FileLogSource { id: string; title: string; path: string }

export interface LogSourceView {
  id: string;
  title: string;
  kind: 'file' | 'journal';
  /** Shown to operators so they know what they read; never accepted from a request. */
  path?: string;
  unit?: string;
  available: boolean;
}

/** Only a lookup key (never a path): file sources match by exact id, journals by allow-listed unit. */
export const SOURCE_ID = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$/;
export const JOURNAL_PREFIX = 'journal-';

/** Other modules add their own log files (a site's access log, …); ids must be unique and match SOURCE_ID. */
export type LogSourceProvider = (hostId: string) => Promise<FileLogSource[]> | FileLogSource[];
const providers: LogSourceProvider[] = [];
/** Returns the function that removes the provider again (call it when the registering app closes). */
export function registerLogSources(provider: LogSourceProvider): () => void {
  providers.push(provider);
  return () => {
    const i = providers.indexOf(provider);
    if (i >= 0) providers.splice(i, 1);
  };
}

type Resolved =
  | { kind: 'file'; id: string; path: string; runner: ProcessRunner; local: boolean }
  | { kind: 'journal'; id: string; unit: string; runner: ProcessRunner };

/**
 * Allow-listed log sources per host: the configured files, and each allow-listed unit's journal
 * (`journal-<unit>`) where journald runs. Tails and follows them with a bounded delivery per client.
 */
export class LogsService {
  constructor(
    private readonly hosts: HostRegistry,
    private readonly services: ServicesService,
    private readonly fileSources: () => FileLogSource[],
    private readonly maxTailLines: number,
  ) {}

  async list(actor: Actor, hostId: string): Promise<LogSourceView[]> {
    requirePermission(actor, serverPermissions['logs.read']);
    const runner = await this.hosts.runner(hostId);
    const files = await this.allFileSources(hostId);
    const present = await this.existing(hostId, runner, files.map((f) => f.path));
    const out: LogSourceView[] = files.map((f) => ({ id: f.id, title: f.title, kind: 'file', path: f.path, available: present.has(f.path) }));
    const units = await this.services.allowedUnits(hostId).catch(() => []);
    for (const unit of units) {
      const short = unit.replace(/\.service$/, '');
      out.push({ id: `${JOURNAL_PREFIX}${short}`, title: `${short} (journal)`, kind: 'journal', unit, available: true });
    }
    return out;
  }

  async tail(actor: Actor, hostId: string, sourceId: string, lines: number, filter: LineFilter = {}): Promise<LogLine[]> {
    requirePermission(actor, serverPermissions['logs.read']);
    const src = await this.resolve(hostId, sourceId);
    const n = Math.min(Math.max(lines, 0), this.maxTailLines);
    const match = lineMatcher(filter);
    // With a filter, look further back so N matching lines can be found.
    const scan = filter.q || filter.level ? this.maxTailLines : n;
    let all: LogLine[];
    if (src.kind === 'file' && src.local) {
      all = (await tailFile(src.path, scan).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') throw new NotFoundError('Log file of source', sourceId);
        throw e;
      })).map(textLine);
    } else if (src.kind === 'file') {
      const r = await src.runner.exec('tail', ['-n', String(scan), '--', src.path], { timeoutMs: 15_000 }).catch((e: unknown) => {
        if (e instanceof ExecError && e.exitCode === 1) throw new NotFoundError('Log file of source', sourceId);
        throw new UnavailableError(`Could not read the log on this host: ${(e as Error).message}`);
      });
      all = r.stdout.split('\n').filter((l, i, a) => i < a.length - 1 || l !== '').map(textLine);
    } else {
      const r = await src.runner.exec('journalctl', [`--unit=${src.unit}`, '-o', 'json', '-n', String(scan), '--no-pager'], { timeoutMs: 15_000 }).catch((e: unknown) => {
        throw new UnavailableError(`Could not read the journal on this host: ${(e as Error).message}`);
      });
      all = r.stdout.split('\n').map(journalLine).filter((l): l is LogLine => !!l);
    }
    return all.filter(match).slice(-n);
  }

  /** Checks access and that the source exists, so a stream can answer 403/404 before it opens. */
  async check(actor: Actor, hostId: string, sourceId: string): Promise<void> {
    requirePermission(actor, serverPermissions['logs.read']);
    await this.resolve(hostId, sourceId);
  }

  /**
   * Sends the last `initialLines` then follows the source into `delivery` until the returned
   * stop function is called.
   */
  async follow(actor: Actor, hostId: string, sourceId: string, filter: LineFilter, initialLines: number, delivery: LogDelivery): Promise<() => Promise<void>> {
    requirePermission(actor, serverPermissions['logs.read']);
    const src = await this.resolve(hostId, sourceId);
    const match = lineMatcher(filter);
    const n = Math.min(Math.max(initialLines, 0), this.maxTailLines);
    const deliverText = (lines: string[]) => {
      const out: LogLine[] = [];
      for (const t of lines) {
        const l = textLine(t);
        if (match(l)) out.push(l);
      }
      delivery.push(out);
    };

    if (src.kind === 'file' && src.local) {
      const follower = new FileFollower(src.path, { onLines: deliverText, onNotice: (m) => delivery.notice(m), onError: (e) => delivery.notice(`read error: ${e.message}`) });
      const startPos = await follower.start();
      const initial = n ? await tailFile(src.path, filter.q || filter.level ? this.maxTailLines : n, startPos).catch(() => []) : [];
      delivery.push(initial.map(textLine).filter(match).slice(-n));
      return () => follower.stop();
    }

    const handle: StreamHandle =
      src.kind === 'file'
        ? src.runner.stream('tail', ['-n', String(n), '-F', '--', src.path])
        : src.runner.stream('journalctl', [`--unit=${src.unit}`, '-o', 'json', '-n', String(n), '-f', '--no-pager']);
    const parse = src.kind === 'file' ? textLine : journalLine;
    void (async () => {
      // Lines arrive one by one: hand them over in batches per event-loop turn.
      let batch: LogLine[] = [];
      let scheduled = false;
      const ship = () => {
        scheduled = false;
        const b = batch;
        batch = [];
        delivery.push(b);
      };
      for await (const { line, stream } of handle.lines) {
        if (stream === 'stderr') {
          delivery.notice(line.replace(/^tail: /, ''));
          continue;
        }
        const l = parse(line);
        if (!l || !match(l)) continue;
        batch.push(l);
        if (!scheduled) {
          scheduled = true;
          setImmediate(ship);
        }
      }
      if (batch.length) ship();
    })();
    return async () => {
      handle.stop();
      await Promise.race([handle.done, new Promise((r) => setTimeout(r, 3000))]);
    };
  }

  /** Maps a source id from a request to a configured file or an allow-listed unit; anything else is 404. */
  private async resolve(hostId: string, sourceId: string): Promise<Resolved> {
    if (!SOURCE_ID.test(sourceId)) throw new NotFoundError('Log source', sourceId.slice(0, 60));
    const runner = await this.hosts.runner(hostId);
    if (sourceId.startsWith(JOURNAL_PREFIX)) {
      const units = await this.services.allowedUnits(hostId);
      const unit = units.find((u) => u === `${sourceId.slice(JOURNAL_PREFIX.length)}.service`);
      if (!unit) {
        if (!units.length) throw new UnavailableError('journald is not running on this host');
        throw new NotFoundError('Log source', sourceId);
      }
      return { kind: 'journal', id: sourceId, unit, runner };
    }
    const file = (await this.allFileSources(hostId)).find((f) => f.id === sourceId);
    if (!file) throw new NotFoundError('Log source', sourceId);
    return { kind: 'file', id: sourceId, path: file.path, runner, local: hostId === LOCAL_HOST_ID };
  }

  private async allFileSources(hostId: string): Promise<FileLogSource[]> {
    const extra = await Promise.all(providers.map(async (p) => (await (async () => p(hostId))().catch(() => [] as FileLogSource[])).filter((f) => SOURCE_ID.test(f.id) && f.path.startsWith('/') && !f.path.split('/').includes('..'))));
    return [...this.fileSources(), ...extra.flat()];
  }

  private async existing(hostId: string, runner: ProcessRunner, paths: string[]): Promise<Set<string>> {
    if (!paths.length) return new Set();
    if (hostId === LOCAL_HOST_ID) {
      const ok = await Promise.all(paths.map((p) => access(p).then(() => true, () => false)));
      return new Set(paths.filter((_p, i) => ok[i]));
    }
    const r = await runner.exec('ls', ['-d', '--', ...paths], { timeoutMs: 10_000, okExitCodes: [0, 1, 2] }).catch(() => ({ stdout: '' }));
    return new Set(r.stdout.split('\n').map((l) => l.trim()).filter(Boolean));
  }
}
