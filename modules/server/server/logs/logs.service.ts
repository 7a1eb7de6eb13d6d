import path from 'node:path';
import {
  type Actor, authorize, channelSource, collectLiveLog, type CommandLogSource, FileMissingError, filterSource,
  HostFiles, type HostRegistry, isCommandSource, type LiveLogRecord, type LiveLogSource, LOCAL_HOST_ID,
  logSourceVisible, type ModuleLogSource, NotFoundError, type ProcessRunner, UnavailableError,
} from '../../../../server/src/sdk.js';
import { serverPermissions } from '../server.permissions.js';
import type { ServicesService } from '../services/services.service.js';
import { journalEntry, journalLine, lineMatcher, textLine, type LineFilter, type LogLine } from './log-line.js';

/**
 * A log file fixed in configuration or by a module's records; requests name it by id, never by
 * path. `root`: the directory it is read under (default: its own directory); no link is followed below it.
 */
export interface FileLogSource { id: string; title: string; path: string; root?: string }

export interface LogSourceView {
  id: string;
  title: string;
  kind: 'file' | 'journal' | 'command';
  /** Shown to operators so they know what they read; never accepted from a request. */
  path?: string;
  unit?: string;
  command?: string;
  available: boolean;
}

/** Only a lookup key (never a path): file sources match by exact id, journals by allow-listed unit. */
export const SOURCE_ID = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$/;
export const JOURNAL_PREFIX = 'journal-';

/**
 * Other modules add their own log files (a site's access log, …) and command streams (an app's
 * `dokku logs -t`) through `ctx.logSources.add`; ids must be unique and match SOURCE_ID.
 */
export interface ModuleLogSources { forHost(hostId: string, actor?: Actor): Promise<ModuleLogSource[]> }

type Resolved =
  | { kind: 'file'; id: string; path: string; files: HostFiles }
  | { kind: 'journal'; id: string; unit: string; files: HostFiles }
  | { kind: 'command'; id: string; source: CommandLogSource };

/** Cursors of the server log sources: `f<inode>.<offset>` (a local file), `r<n>` (a remote one), `j<__CURSOR>` (a journal). */
const FILE_CURSOR = /^f(\d{1,20})\.(\d{1,20})$/;
/** How many lines a command source's one-shot tail waits for, and how long it waits for quiet. */
const COMMAND_TAIL_IDLE_MS = 1500;

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
    authorize(actor, serverPermissions['logs.read']);
    const runner = await this.hosts.runner(hostId);
    const { files, commands } = await this.moduleSources(hostId, actor);
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
    for (const c of commands) out.push({ id: c.id, title: c.title, kind: 'command', ...(c.command ? { command: c.command } : {}), available: true });
    const units = await this.services.allowedUnits(hostId).catch(() => []);
    for (const unit of units) {
      const short = unit.replace(/\.service$/, '');
      out.push({ id: `${JOURNAL_PREFIX}${short}`, title: `${short} (journal)`, kind: 'journal', unit, available: true });
    }
    return out;
  }

  async tail(actor: Actor, hostId: string, sourceId: string, lines: number, filter: LineFilter = {}): Promise<LogLine[]> {
    authorize(actor, serverPermissions['logs.read']);
    const src = await this.resolve(hostId, sourceId, actor);
    const n = Math.min(Math.max(lines, 0), this.maxTailLines);
    const match = lineMatcher(filter);
    // With a filter, look further back so N matching lines can be found.
    const scan = filter.q || filter.level ? this.maxTailLines : n;
    let all: LogLine[];
    if (src.kind === 'command') {
      // A command has no "last N lines" call: read what it prints first, until it goes quiet.
      const got = await collectLiveLog({ open: (c, signal) => src.source.open(c, signal, { lines: scan }) }, { limit: scan, idleMs: COMMAND_TAIL_IDLE_MS });
      all = got.records.map((r) => ({ text: r.line, level: r.level === undefined ? textLine(r.line).level : (r.level as LogLine['level']), ...(r.at ? { at: r.at } : {}) }));
    } else if (src.kind === 'file') {
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
    authorize(actor, serverPermissions['logs.read']);
    const src = await this.resolve(hostId, sourceId, actor);
    if (src.kind === 'file') await src.files.check(src.path);
  }

  /**
   * The live log of a source for `serveLiveLog`: the last `initialLines` (matching the filter),
   * then new lines; a reconnect with the cursor of the last line delivered resumes after it
   * (local files by inode and offset, journals by `__CURSOR`, command streams by their own
   * cursor) and never re-sends a line. Checks access, existence and safety first (403/404/422).
   */
  async source(actor: Actor, hostId: string, sourceId: string, filter: LineFilter, initialLines: number, opts: { maxQueued?: number } = {}): Promise<LiveLogSource> {
    authorize(actor, serverPermissions['logs.read']);
    const src = await this.resolve(hostId, sourceId, actor);
    const match = lineMatcher(filter);
    const filtered = !!(filter.q || filter.level);
    const n = Math.min(Math.max(initialLines, 0), this.maxTailLines);
    const keep = (r: LiveLogRecord) => match({ text: r.line, level: (r.level ?? null) as LogLine['level'] });
    if (src.kind === 'command') {
      const cmd = src.source;
      const lineLevel = (r: LiveLogRecord): LiveLogRecord => (r.level === undefined ? { ...r, level: textLine(r.line).level } : r);
      const base: LiveLogSource = {
        async *open(cursor, signal) {
          for await (const ev of cmd.open(cursor, signal, { lines: n })) yield ev.type === 'log' ? { type: 'log', records: ev.records.map(lineLevel) } : ev;
        },
      };
      return filtered ? filterSource(base, keep) : base;
    }
    if (src.kind === 'file') await src.files.check(src.path);
    const maxTail = this.maxTailLines;
    return channelSource(async (ch, cursor) => {
      const notice = (m: string) => ch.state('notice', m);
      const onError = (e: Error) => ch.state('notice', `read error: ${e.message}`);
      if (src.kind === 'journal') {
        const resume = cursor?.startsWith('j') ? cursor.slice(1) : undefined;
        let last = resume ?? '';
        const h = src.files.followJournal(src.unit, resume ? 0 : n, {
          onLines: (lines) => {
            const out: LiveLogRecord[] = [];
            for (const t of lines) {
              const e = journalEntry(t);
              if (!e) continue;
              if (e.cursor) last = e.cursor;
              if (!match(e.line)) continue;
              out.push({ cursor: `j${last}`, ...(e.line.at ? { at: e.line.at } : {}), stream: 'stdout', line: e.line.text, level: e.line.level });
            }
            ch.push(...out);
          },
          onNotice: notice,
          onError,
        }, resume ? { afterCursor: resume } : {});
        return () => h.stop();
      }
      if (src.files.local) {
        const m = cursor ? FILE_CURSOR.exec(cursor) : null;
        const from = m ? { ino: Number(m[1]), offset: Number(m[2]) } : undefined;
        if (cursor && !from) notice('Reconnected with a position this log does not know: showing new lines only');
        const h = await src.files.follow(src.path, from || cursor ? 0 : n, {
          onLines: (lines, at) => {
            const out: LiveLogRecord[] = [];
            lines.forEach((t, i) => {
              const l = textLine(t);
              if (!match(l)) return;
              out.push({ cursor: at ? `f${at.ino}.${at.ends[i]}` : 'f0.0', stream: 'stdout', line: t, level: l.level });
            });
            ch.push(...out);
          },
          onNotice: notice,
          onError,
        }, { ...(from ? { from } : {}), ...(filtered ? { scan: maxTail, match: (t: string) => match(textLine(t)) } : {}) });
        return () => h.stop();
      }
      // Over SSH there is no offset to resume from: a reconnect shows new lines only, never the tail again.
      let count = cursor && /^r\d+$/.test(cursor) ? Number(cursor.slice(1)) : 0;
      const push = (texts: string[]) => {
        const out: LiveLogRecord[] = [];
        for (const t of texts) {
          const l = textLine(t);
          if (match(l)) out.push({ cursor: `r${++count}`, stream: 'stdout', line: t, level: l.level });
        }
        ch.push(...out);
      };
      if (cursor) notice('Reconnected: showing new lines only (this host\'s log cannot be resumed at a position)');
      else if (filtered && n) {
        push((await src.files.tail(src.path, maxTail).catch((e: unknown) => {
          if (e instanceof FileMissingError) return [] as string[];
          throw e;
        })).filter((t) => match(textLine(t))).slice(-n));
      }
      const h = await src.files.follow(src.path, cursor || filtered ? 0 : n, { onLines: push, onNotice: notice, onError });
      return () => h.stop();
    }, opts.maxQueued);
  }

  /** Maps a source id from a request to a configured file or an allow-listed unit; anything else is 404. */
  private async resolve(hostId: string, sourceId: string, actor: Actor): Promise<Resolved> {
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
    const { files, commands } = await this.moduleSources(hostId, actor);
    // A command source the actor may not see is as unknown as one that does not exist.
    const command = commands.find((c) => c.id === sourceId);
    if (command) return { kind: 'command', id: sourceId, source: command };
    const file = files.find((f) => f.id === sourceId);
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

  private async moduleSources(hostId: string, actor: Actor): Promise<{ files: FileLogSource[]; commands: CommandLogSource[] }> {
    const extra = this.opts.forHost ? await this.opts.forHost(hostId, actor).catch(() => [] as ModuleLogSource[]) : [];
    const visible = extra.filter((s) => SOURCE_ID.test(s.id) && logSourceVisible(actor, s));
    const commands = visible.filter(isCommandSource);
    const files = visible.filter((s): s is FileLogSource & { kind?: 'file' } => !isCommandSource(s))
      .filter((f) => typeof f.path === 'string' && f.path.startsWith('/') && !f.path.split('/').includes('..'));
    return { files: [...this.fileSources(), ...files], commands };
  }
}
