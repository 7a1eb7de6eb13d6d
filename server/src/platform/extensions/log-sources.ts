import type { LiveLogEvent } from '../live-log/live-log.js';
import { listScope } from '../rbac/authorize.js';
import { can, type Actor, type Permission } from '../rbac/permissions.js';

/** A log file fixed in configuration or by a module; requests name it by id, never by path. */
export interface FileLogSource {
  id: string;
  title: string;
  kind?: 'file';
  path: string;
  /** The directory the file is read under, with no link followed below it (default: its own directory). */
  root?: string;
}

/**
 * A log read from a command a module runs (an app's `dokku logs <app> -t`, …): followed live in
 * the log viewer like a file. The module builds the command from its own records (argv only);
 * requests only name the source's id.
 */
export interface CommandLogSource {
  /** Unique per host, e.g. `app:<host>:<name>`. */
  id: string;
  title: string;
  kind: 'command';
  /** What runs, shown to operators (never executed from here). */
  command?: string;
  /**
   * Who may see it besides the log viewer's own permission: the actor needs `permission` too, and
   * when that permission is owner-scoped for the actor's role (a `user`), only the owner's
   * resource is shown. Without it the source is for everyone who may read server logs.
   */
  permission?: Permission | string;
  ownerId?: string | null;
  /**
   * Follows the log: the last `lines` lines first, or (with a cursor a previous connection
   * delivered) only what came after it; never a line twice. Ends with `end` when the command ends.
   */
  open(cursor: string | undefined, signal: AbortSignal, opts: { lines: number }): AsyncIterable<LiveLogEvent>;
}

export type ModuleLogSource = FileLogSource | CommandLogSource;

export const isCommandSource = (s: ModuleLogSource): s is CommandLogSource => s.kind === 'command';

/** A module's log sources on one host (a site's access log, an app's output …). */
export type LogSourceProvider = (hostId: string) => Promise<ModuleLogSource[]> | ModuleLogSource[];

/** Whether `actor` may see the source (file sources: everyone who reaches the viewer). */
export function logSourceVisible(actor: Actor, s: ModuleLogSource): boolean {
  if (!isCommandSource(s) || !s.permission) return true;
  if (!can(actor, s.permission)) return false;
  const owner = listScope(actor, s.permission);
  return owner === undefined || (!!s.ownerId && s.ownerId === owner);
}

/**
 * The log sources modules add for the log viewer, one registry per app instance (never a
 * file-level global): `ctx.logSources.add(provider)`. The viewer still checks every id and path.
 */
export class LogSources {
  private readonly providers: LogSourceProvider[] = [];

  /** Returns the function that removes the provider again. */
  add(provider: LogSourceProvider): () => void {
    this.providers.push(provider);
    return () => {
      const i = this.providers.indexOf(provider);
      if (i >= 0) this.providers.splice(i, 1);
    };
  }

  /** Every provider's sources for the host (only those `actor` may see, when given); a provider that fails contributes nothing. */
  async forHost(hostId: string, actor?: Actor): Promise<ModuleLogSource[]> {
    const lists = await Promise.all(this.providers.map(async (p) => {
      try {
        return await p(hostId);
      } catch {
        return [] as ModuleLogSource[];
      }
    }));
    const all = lists.flat();
    return actor ? all.filter((s) => logSourceVisible(actor, s)) : all;
  }
}
