import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  assertArgv, ExecError, type ExecOptions, type ExecResult, lineSplitter, LocalProcessRunner,
  type ProcessRunner, type StreamHandle,
} from '../../../../server/src/testing/index.js';

/**
 * Test-only runner for libvirt's built-in mock hypervisor. `test:///default` keeps its state in the
 * virsh process, so separate `virsh -c test:///default …` runs never see each other's domains. This
 * runner keeps ONE interactive virsh alive and feeds it each argv (quoted for virsh's own parser),
 * using `echo MARK` / `echo --err MARK` to find where each command's stdout and stderr end. A
 * command that printed `error:` lines counts as exit code 1, as the one-shot virsh would exit.
 * Every argv is recorded in `calls`, exactly as the adapter built it.
 */
export class VirshTestSession implements ProcessRunner {
  readonly host = 'local';
  readonly calls: string[][] = [];
  private child: ChildProcessWithoutNullStreams;
  private queue: Promise<unknown> = Promise.resolve();
  private out: string[] = [];
  private err: string[] = [];
  private waiters: (() => void)[] = [];
  private seq = 0;
  private readonly local = new LocalProcessRunner();
  private dir = mkdtempSync(path.join(tmpdir(), 'slipway-virsh-'));

  constructor(readonly uri = 'test:///default') {
    // virsh block-buffers stdout on a pipe: stdbuf makes it line-buffered so each answer arrives
    this.child = spawn('stdbuf', ['-oL', '-eL', 'virsh', '-q', '-c', uri], { stdio: ['pipe', 'pipe', 'pipe'] });
    for (const [stream, sink] of [[this.child.stdout, this.out], [this.child.stderr, this.err]] as const) {
      const split = lineSplitter((l) => {
        sink.push(l);
        for (const w of this.waiters.splice(0)) w();
      });
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => split.push(c));
    }
  }

  close(): void {
    this.child.stdin.end('quit\n');
    this.child.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  exec(command: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    assertArgv(command, args);
    this.calls.push([command, ...args]);
    const run = this.queue.then(() => this.run(command, args, opts));
    this.queue = run.catch(() => {});
    return run;
  }

  stream(): StreamHandle {
    throw new Error('VirshTestSession does not stream');
  }

  private async run(command: string, args: readonly string[], opts: ExecOptions): Promise<ExecResult> {
    // helpers around virsh (mktemp/tee/rm for XML files) run for real on this machine
    if (command !== 'virsh') return this.local.exec(command, args, opts);
    let a = [...args];
    if (a[0] === '-q') a = a.slice(1);
    if (a[0] === '-c') {
      if (a[1] !== this.uri) throw new Error(`session is ${this.uri}, not ${a[1]}`);
      a = a.slice(2);
    }
    a = a.map((x) => {
      if (x.endsWith('=/dev/stdin') && opts.input !== undefined) {
        const f = path.join(this.dir, `in-${++this.seq}.xml`);
        writeFileSync(f, opts.input);
        return x.replace('/dev/stdin', f);
      }
      return x;
    });
    for (const x of a) if (/[\n\r]/.test(x)) throw new Error('arguments with newlines cannot be sent to an interactive virsh');
    const quoted = a.map((x) => `'${x.replace(/'/g, `'\\''`)}'`).join(' ');
    const mark = `__slipway_end_${++this.seq}__`;
    this.out.length = 0;
    this.err.length = 0;
    this.child.stdin.write(`${quoted}\necho ${mark}\necho --err ${mark}\n`);
    const clean = (l: string) => l.replace(/^(virsh # )+/, '');
    const isMark = (l: string) => clean(l).startsWith(mark);
    const done = () => this.out.some(isMark) && this.err.some((l) => l === `error: ${mark}`);
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    while (!done()) {
      if (Date.now() > deadline) throw new ExecError(['virsh', ...args], null, this.err.join('\n'), 'timeout');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
    // drop the echoed command lines (prompt + command) virsh prints when reading a pipe
    const stdout = this.out.slice(0, this.out.findIndex(isMark)).filter((l) => !l.startsWith('virsh # ')).join('\n');
    const errLines = this.err.slice(0, this.err.indexOf(`error: ${mark}`));
    const stderr = errLines.join('\n');
    const exitCode = errLines.some((l) => l.startsWith('error:')) ? 1 : 0;
    if (!(opts.okExitCodes ?? [0]).includes(exitCode)) throw new ExecError(['virsh', ...args], exitCode, stderr);
    return { argv: ['virsh', ...args], exitCode, stdout: stdout ? `${stdout}\n` : '', stderr, durationMs: 0 };
  }
}
