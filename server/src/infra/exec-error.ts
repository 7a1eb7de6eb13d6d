import { redactSecrets } from '../platform/redact.js';

/** @deprecated the platform's `redactSecrets` (one redaction for every tool); kept for adapters not moved yet. */
export const redactLine = redactSecrets;

/** Lines of tool chatter that say nothing about why it failed. */
const NOISE = /^(\s*|[-=*_#~.]+|\s*at .+|traceback.*|\s*file ".*|usage:.*)$/i;

/** A command that failed: carries what ran, how it ended and what it said on stderr. */
export class ExecError extends Error {
  /**
   * Why it failed, fit for a user: the last meaningful line of stderr, redacted and trimmed; never
   * the argv (which may carry names and values the caller did not choose to show). Adapters that
   * know their tool better override it (`override readonly userReason`).
   */
  readonly userReason: string;

  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly reason: 'exit' | 'timeout' | 'cancelled' | 'spawn' = 'exit',
    readonly host = 'local',
  ) {
    const what = reason === 'timeout' ? 'timed out' : reason === 'cancelled' ? 'was cancelled'
      : reason === 'spawn' ? 'could not be started' : `exited with code ${exitCode}`;
    const tail = stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 500);
    super(`${argv[0]} ${what}${host === 'local' ? '' : ` on ${host}`}${tail ? `: ${tail}` : ''}`);
    this.name = 'ExecError';
    this.userReason = userReasonOf(argv[0] ?? '', exitCode, stderr, reason, host);
  }

  /** The program that ran (argv[0]). */
  get program(): string {
    return this.argv[0] ?? '';
  }

  /** The program is not there: it could not be spawned, or the shell (SSH) answered 127. */
  get isMissingProgram(): boolean {
    return this.reason === 'spawn' || this.exitCode === 127;
  }
}

function userReasonOf(program: string, exitCode: number | null, stderr: string, reason: ExecError['reason'], host: string): string {
  if (reason === 'spawn' || exitCode === 127) return `${program} is not installed${host === 'local' ? '' : ` on ${host}`}`;
  if (reason === 'timeout') return `${program} did not finish in time`;
  if (reason === 'cancelled') return `${program} was cancelled`;
  const lines = stderr.split(/\r?\n/).map((l) => l.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').trim()).filter((l) => !NOISE.test(l));
  const last = lines.at(-1);
  if (!last) return `${program} exited with code ${exitCode}`;
  const clean = redactSecrets(last);
  return clean.length > 300 ? `${clean.slice(0, 297)}...` : clean;
}
