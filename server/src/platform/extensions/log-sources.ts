/** A log file fixed in configuration or by a module; requests name it by id, never by path. */
export interface FileLogSource {
  id: string;
  title: string;
  path: string;
  /** The directory the file is read under, with no link followed below it (default: its own directory). */
  root?: string;
}

/** A module's log files on one host (a site's access log, an app's output …). */
export type LogSourceProvider = (hostId: string) => Promise<FileLogSource[]> | FileLogSource[];

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

  /** Every provider's sources for the host; a provider that fails contributes nothing. */
  async forHost(hostId: string): Promise<FileLogSource[]> {
    const lists = await Promise.all(this.providers.map(async (p) => {
      try {
        return await p(hostId);
      } catch {
        return [] as FileLogSource[];
      }
    }));
    return lists.flat();
  }
}
