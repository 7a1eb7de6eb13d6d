import path from 'node:path';
import type { ProcessRunner } from '../../../../server/src/infra/process-runner.js';
import { NotFoundError, UnavailableError } from '../../../../server/src/platform/errors.js';
import { FileMissingError, HostFiles } from '../../../../server/src/platform/hosts/host-files.js';
import { LOCAL_HOST_ID, type HostRegistry } from '../../../../server/src/platform/hosts/host-registry.js';
import { requirePermission, type Actor } from '../../../../server/src/platform/rbac/permissions.js';
import { serverPermissions } from '../server.permissions.js';
import type { ServicesService } from '../services/services.service.js';
import type { LogDelivery } from './log-delivery.js';
import { journalLine, lineMatcher, textLine, type LineFilter, type LogLine } from './log-line.js';

/**
 * A log file fixed in configuration or by a module's records; requests name it by id, never by
 * path. `root`: the directory it is read under (default: its own directory); no link is followed below it.
 */
export interface FileLogSource { id: string; title: string; path: string; root?: string }

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

/** Other modules add their own log files (a site's access log, …) through `ctx.logSources.add`; ids must be unique and match SOURCE_ID. */
export interface ModuleLogSources { forHost(hostId: string): Promise<FileLogSource[]> }

type Resolved =
  | { kind: 'file'; id: string; path: string; files: HostFiles }
  | { kind: 'journal'; id: string; unit: string; files: HostFiles };

/**
 * Allow-listed log sources per host: the configured files, and each allow-listed unit's journal
 * (`journal-<unit>`) where journald runs. Tails and follows them with a bounded delivery per client.
 * Every read goes through the platform's host-files adapter: no-follow opens under the source's
 * directory (or the root its provider names), never inside the panel's data dir, so a log that a
 * tenant turned into a link to /etc/shadow or secrets.json is refused (422 `unsafe_file`).
 */
export class LogsService {
  private readonly deny: readonly string[];

  constructor(
    private readonly hosts: HostRegistry,
    private readonly services: ServicesService,
    private readonly fileSources: () => FileLogSource[],
    private readonly maxTailLines: number,
    private readonly opts: {
      /** Sources other modules add (`ctx.logSources`). */
      forHost?: ModuleLogSources['forHost'];
      /** Never read at or under these (the panel's data dir); default: none. */
      deny?: readonly string[];
    } = {},
  ) {
    this.deny = opts.deny ?? [];
  }

  async list(actor: Actor, hostId: string): Promise<LogSourceView[]> {
    requirePermission(actor, serverPermissions['logs.read']);
    const runner = await this.hosts.runner(hostId);
    const files = await this.allFileSources(hostId);
    // One check per root (one `find` over SSH for all of a root's files, not one per file).
    const byRoot = new Map<string, FileLogSource[]>();
    for (const f of files) {
      const root = this.rootOf(f);
      byRoot.set(root, [...(byRoot.get(root) ?? []), f]);
    }
    const present = new Set<string>();
    await Promise.all([...byRoot.values()].map(async (group) => {
      const ok = await this.filesFor(runner, hostId, group[0]!).available(group.map((f) => f.path)).catch(() => new Set<string>());
      for (const p of ok) present.add(p);
    }));
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
    if (src.kind === 'file') {
      all = (await src.files.tail(src.path, scan).catch((e: unknown) => {
        if (e instanceof FileMissingError) throw new NotFoundError('Log file of source', sourceId);
        throw e;
      })).map(textLine);
    } else {
      all = (await src.files.journal(src.unit, scan)).map(journalLine).filter((l): l is LogLine => !!l);
    }
    return all.filter(match).slice(-n);
  }

  /** Checks access, that the source exists and that its file is safe to read, so a stream can answer 403/404/422 before it opens. */
  async check(actor: Actor, hostId: string, sourceId: string): Promise<void> {
    requirePermission(actor, serverPermissions['logs.read']);
    const src = await this.resolve(hostId, sourceId);
    if (src.kind === 'file') await src.files.check(src.path);
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
    const parse = src.kind === 'file' ? textLine : journalLine;
    const deliver = (lines: string[]) => {
      const out: LogLine[] = [];
      for (const t of lines) {
        const l = parse(t);
        if (l && match(l)) out.push(l);
      }
      delivery.push(out);
    };
    const ev = { onLines: deliver, onNotice: (m: string) => delivery.notice(m), onError: (e: Error) => delivery.notice(`read error: ${e.message}`) };
    if (src.kind === 'file') {
      // With a filter the first batch is the last matching lines of a longer scan.
      if (filter.q || filter.level) {
        const initial = n ? (await src.files.tail(src.path, this.maxTailLines).catch((e: unknown) => {
          if (e instanceof FileMissingError) return [] as string[];
          throw e;
        })).map(textLine).filter(match).slice(-n) : [];
        const h = await src.files.follow(src.path, 0, ev);
        delivery.push(initial);
        return () => h.stop();
      }
      const h = await src.files.follow(src.path, n, ev);
      return () => h.stop();
    }
    const h = src.files.followJournal(src.unit, n, ev);
    return () => h.stop();
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
      return { kind: 'journal', id: sourceId, unit, files: new HostFiles(runner, { roots: [], deny: this.deny }) };
    }
    const file = (await this.allFileSources(hostId)).find((f) => f.id === sourceId);
    if (!file) throw new NotFoundError('Log source', sourceId);
    return { kind: 'file', id: sourceId, path: file.path, files: this.filesFor(runner, hostId, file) };
  }

  /** The source's own directory is its root unless its provider names a wider one it owns (nginx's log dir). */
  private rootOf(f: FileLogSource): string {
    return f.root && f.path.startsWith(`${f.root.replace(/\/+$/, '')}/`) ? f.root.replace(/\/+$/, '') : path.posix.dirname(f.path);
  }

  private filesFor(runner: ProcessRunner, hostId: string, f: FileLogSource): HostFiles {
    // The panel's data dir is on the local machine only.
    return new HostFiles(runner, { roots: [this.rootOf(f)], deny: hostId === LOCAL_HOST_ID ? this.deny : [] });
  }

  private async allFileSources(hostId: string): Promise<FileLogSource[]> {
    const extra = this.opts.forHost ? await this.opts.forHost(hostId).catch(() => [] as FileLogSource[]) : [];
    const safe = extra.filter((f) => SOURCE_ID.test(f.id) && f.path.startsWith('/') && !f.path.split('/').includes('..'));
    return [...this.fileSources(), ...safe];
  }
}
