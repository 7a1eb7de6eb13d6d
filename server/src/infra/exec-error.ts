/** A command that failed: carries what ran, how it ended and what it said on stderr. */
export class ExecError extends Error {
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
  }
}
