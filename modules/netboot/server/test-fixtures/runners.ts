import { randomBytes } from 'node:crypto';
import { LocalProcessRunner, type ExecOptions, type ExecResult, type ProcessRunner, type StreamHandle } from '../../../../server/src/infra/process-runner.js';

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
