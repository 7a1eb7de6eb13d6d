import { execa } from 'execa';
import { ExecError } from './exec-error.js';

export type OutputStream = 'stdout' | 'stderr';

export interface ExecOptions {
  timeoutMs?: number;
  /** Aborting kills the command (SIGTERM, then SIGKILL) and rejects with reason 'cancelled'. */
  signal?: AbortSignal;
  /** Each output line as it arrives (e.g. into a job log). */
  onLine?: (line: string, stream: OutputStream) => void;
  input?: string;
  env?: Record<string, string>;
  cwd?: string;
  /** Exit codes that are not failures (default: only 0). */
  okExitCodes?: readonly number[];
  /** How a job's runner (`JobContext.runner`) shows and ends this command; other runners ignore it. */
  job?: JobExecOptions;
}

/**
 * An adapter's say in how a job's runner treats one command. Without it every output line goes
 * to the job log as it is (after the log's own redaction) and cancelling the job kills the command.
 */
export interface JobExecOptions {
  /** Logged (stream `info`) before the command runs, e.g. the adapter's redacted `$ argv`. */
  announce?: string;
  /** What each output line becomes in the job log (cleaned, redacted with values the adapter knows), or null to leave it out. */
  logLine?: (line: string, stream: OutputStream) => string | null;
  /**
   * Cancelling the job does not kill the command: the caller ends it through `signal` (Dokku's
   * deploy: `builds:cancel` first, the kill seconds later).
   */
  ownCancel?: boolean;
}

export interface ExecResult {
  argv: readonly string[];
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** A long-running command whose output is consumed line by line (journalctl -f, tail -F …). */
export interface StreamHandle {
  lines: AsyncIterable<{ line: string; stream: OutputStream }>;
  stop(): void;
  done: Promise<number | null>;
}

/**
 * Runs programs with argv arrays only: never a shell string. Implemented locally (execa) and over
 * SSH (ssh.ts), so every adapter works the same against the local machine and a remote host.
 */
export interface ProcessRunner {
  /** 'local' or the host's name */
  readonly host: string;
  exec(command: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  stream(command: string, args: readonly string[], opts?: Omit<ExecOptions, 'onLine' | 'timeoutMs'>): StreamHandle;
  /**
   * Remote runners only (consoles proxied by the panel): a byte stream to `127.0.0.1:port` on the
   * host, and a program run on a pseudo-terminal there with its bytes both ways. Ending the
   * stream (`destroy()`) closes the channel.
   */
  openTcp?(port: number): Promise<import('node:stream').Duplex>;
  openInteractive?(command: string, args: readonly string[]): Promise<import('node:stream').Duplex>;
}

const COMMAND = /^[A-Za-z0-9_][A-Za-z0-9_.+/-]*$/;

/** A command name is a program, never an option or a shell fragment; arguments cannot carry NUL. */
export function assertArgv(command: string, args: readonly string[]): void {
  if (!COMMAND.test(command) || command.includes('..')) throw new TypeError(`refusing to run command ${JSON.stringify(command)}`);
  for (const a of args) {
    if (typeof a !== 'string') throw new TypeError('arguments must be strings');
    if (a.includes('\0')) throw new TypeError('arguments must not contain NUL bytes');
  }
}

/** Splits a chunked text stream into lines, calling `emit` for each complete one. */
export function lineSplitter(emit: (line: string) => void): { push(chunk: string): void; end(): void } {
  let rest = '';
  return {
    push(chunk) {
      const parts = (rest + chunk).split(/\r?\n/);
      rest = parts.pop() ?? '';
      for (const p of parts) emit(p);
    },
    end() {
      if (rest) emit(rest);
      rest = '';
    },
  };
}

export class LocalProcessRunner implements ProcessRunner {
  readonly host = 'local';

  async exec(command: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    assertArgv(command, args);
    const started = Date.now();
    const argv = [command, ...args];
    const sub = execa(command, args, {
      reject: false,
      shell: false,
      stripFinalNewline: false,
      timeout: opts.timeoutMs,
      cancelSignal: opts.signal,
      forceKillAfterDelay: 3000,
      input: opts.input,
      env: opts.env,
      extendEnv: true,
      cwd: opts.cwd,
      stdin: opts.input === undefined ? 'ignore' : undefined,
      maxBuffer: 64 * 1024 * 1024,
    });
    if (opts.onLine) {
      const onLine = opts.onLine;
      for (const stream of ['stdout', 'stderr'] as const) {
        const split = lineSplitter((l) => onLine(l, stream));
        sub[stream]?.setEncoding('utf8');
        sub[stream]?.on('data', (c: string) => split.push(c));
        sub[stream]?.on('end', () => split.end());
      }
    }
    const r = await sub;
    const stdout = String(r.stdout ?? '');
    const stderr = String(r.stderr ?? '');
    if (r.timedOut) throw new ExecError(argv, null, stderr, 'timeout');
    if (r.isCanceled) throw new ExecError(argv, null, stderr, 'cancelled');
    if (r.failed && r.exitCode === undefined) throw new ExecError(argv, null, r.shortMessage ?? stderr, 'spawn');
    const exitCode = r.exitCode ?? -1;
    if (!(opts.okExitCodes ?? [0]).includes(exitCode)) throw new ExecError(argv, exitCode, stderr);
    return { argv, exitCode, stdout, stderr, durationMs: Date.now() - started };
  }

  stream(command: string, args: readonly string[], opts: Omit<ExecOptions, 'onLine' | 'timeoutMs'> = {}): StreamHandle {
    assertArgv(command, args);
    const sub = execa(command, args, { reject: false, shell: false, cancelSignal: opts.signal, env: opts.env, cwd: opts.cwd, buffer: false, stdin: 'ignore' });
    const queue: { line: string; stream: OutputStream }[] = [];
    let wake: (() => void) | null = null;
    let ended = 0;
    for (const stream of ['stdout', 'stderr'] as const) {
      const split = lineSplitter((line) => {
        queue.push({ line, stream });
        wake?.();
      });
      sub[stream]?.setEncoding('utf8');
      sub[stream]?.on('data', (c: string) => split.push(c));
      sub[stream]?.on('end', () => {
        split.end();
        ended++;
        wake?.();
      });
    }
    const done = sub.then((r) => r.exitCode ?? null);
    async function* lines() {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        if (ended >= 2) return;
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    }
    return { lines: lines(), stop: () => sub.kill('SIGTERM'), done };
  }
}
