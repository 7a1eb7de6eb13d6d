import { randomBytes } from 'node:crypto';
import {
  type ExecOptions, type ExecResult, LocalProcessRunner, type ProcessRunner, type StreamHandle,
} from '../../../../server/src/testing/index.js';

/** Records every command, then runs it for real (or answers from `fake` when given). */
export class SpyRunner implements ProcessRunner {
  readonly host = 'local';
  readonly calls: { command: string; args: readonly string[] }[] = [];
  private readonly local = new LocalProcessRunner();
  constructor(private readonly fake?: (command: string, args: readonly string[]) => Partial<ExecResult> | Error) {}

  async exec(command: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    this.calls.push({ command, args: [...args] });
    if (!this.fake) return this.local.exec(command, args, opts);
    const r = this.fake(command, args);
    if (r instanceof Error) throw r;
    return { argv: [command, ...args], exitCode: 0, stdout: '', stderr: '', durationMs: 0, ...r };
  }

  stream(command: string, args: readonly string[]): StreamHandle {
    this.calls.push({ command, args: [...args] });
    return this.local.stream(command, args);
  }

  commands(name: string) {
    return this.calls.filter((c) => c.command === name);
  }
}

/** A tid range and name prefix no other test run uses at the same time. */
export function uniqueTestIds(): { tidMin: number; tidMax: number; tag: string } {
  const tidMin = 20_000 + (randomBytes(2).readUInt16BE() % 4000) * 10;
  return { tidMin, tidMax: tidMin + 9, tag: `t${randomBytes(3).toString('hex')}` };
}

/** SLIPWAY_NETBOOT_* settings of a test panel: its own tid range and IQN prefix, no space reserve. */
export function netbootTestEnv(ids: { tidMin: number; tidMax: number; tag: string }, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SLIPWAY_NETBOOT_TID_MIN: String(ids.tidMin), SLIPWAY_NETBOOT_TID_MAX: String(ids.tidMax), SLIPWAY_NETBOOT_IQN_PREFIX: `iqn.2026-01.io.slipway.test:${ids.tag}`,
    SLIPWAY_NETBOOT_FREE_SPACE_RESERVE_BYTES: '0', SLIPWAY_NETBOOT_UPLOAD_MAX_BYTES: String(32 * 1024 * 1024),
    SLIPWAY_NETBOOT_SESSION_POLL_MS: '0', SLIPWAY_NETBOOT_SCRIPT_WAIT_MS: '20000', ...extra,
  };
}
