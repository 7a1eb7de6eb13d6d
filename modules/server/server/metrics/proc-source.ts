import { readFile, statfs } from 'node:fs/promises';
import { type ProcessRunner } from '../../../../server/src/sdk.js';
import { PROC_FILES, parseDfPosix, parseMounts, snapshotFromFiles, splitTailOutput, type FsUsage, type ProcSnapshot } from './proc-parser.js';

/** Reads one snapshot of a host's /proc counters. */
export interface ProcSource {
  read(signal?: AbortSignal): Promise<ProcSnapshot>;
}

/** The panel's own machine: plain file reads and statfs(2), no processes spawned. */
export class LocalProcSource implements ProcSource {
  constructor(private readonly root = '') {}

  async read(): Promise<ProcSnapshot> {
    const at = Date.now();
    const texts = await Promise.all(PROC_FILES.map((f) => readFile(this.root + f, 'utf8')));
    const files = new Map<string, string>(PROC_FILES.map((f, i) => [f, texts[i]!]));
    const mounts = parseMounts(files.get('/proc/mounts')!);
    const filesystems = (
      await Promise.all(
        mounts.map(async (m): Promise<FsUsage | undefined> => {
          try {
            const s = await statfs(m.mount);
            return { mount: m.mount, totalBytes: s.blocks * s.bsize, usedBytes: (s.blocks - s.bfree) * s.bsize, availableBytes: s.bavail * s.bsize };
          } catch {
            return undefined; // a mount that vanished or is not readable is skipped, not fatal
          }
        }),
      )
    ).filter((f): f is FsUsage => !!f);
    return snapshotFromFiles(files, filesystems, at);
  }
}

/**
 * A remote host: one `tail -n +1 -- <proc files>` and one `df -P -k -- <mounts>` over its SSH
 * connection per tick, parsed by the same code as the local files.
 */
export class RemoteProcSource implements ProcSource {
  constructor(private readonly runner: ProcessRunner, private readonly timeoutMs = 10_000) {}

  async read(signal?: AbortSignal): Promise<ProcSnapshot> {
    const at = Date.now();
    const r = await this.runner.exec('tail', ['-n', '+1', '--', ...PROC_FILES], { timeoutMs: this.timeoutMs, signal });
    const files = splitTailOutput(r.stdout);
    const mounts = parseMounts(files.get('/proc/mounts') ?? '');
    let filesystems: FsUsage[] = [];
    if (mounts.length) {
      // df exits 1 when one mount is unreadable but still prints the rest.
      const df = await this.runner.exec('df', ['-P', '-k', '--', ...mounts.map((m) => m.mount)], { timeoutMs: this.timeoutMs, signal, okExitCodes: [0, 1] });
      filesystems = parseDfPosix(df.stdout);
    }
    return snapshotFromFiles(files, filesystems, at);
  }
}
