import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { appendFile, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { redactTokens } from './dnsmasq.config.js';

/**
 * The only place that runs dnsmasq: one supervised child on the generated config. `dnsmasq --test`
 * comes first (a broken config never replaces a running one); the child runs in the foreground
 * (`--keep-in-foreground`, logging to stderr), is restarted with a doubling backoff when it dies,
 * and is stopped on close. Its output goes to a log file with every boot token redacted.
 */

export type DnsmasqState = 'stopped' | 'starting' | 'running' | 'backoff' | 'failed';
export interface DnsmasqStatus {
  state: DnsmasqState;
  pid: number | null;
  restarts: number;
  /** Why it is not running (the config test's output, the last exit). */
  reason: string | null;
  since: number | null;
}

export interface DnsmasqSupervisorOptions {
  confPath: string;
  logPath: string;
  pidPath: string;
  binary?: string;
  /** First restart delay and its cap (doubling in between); a child that ran `stableMs` resets it. */
  backoffMs?: number;
  backoffMaxMs?: number;
  stableMs?: number;
  /** Extra argv for tests (never from a request). */
  extraArgs?: readonly string[];
  warn?: (msg: string, details?: Record<string, unknown>) => void;
}

export class DnsmasqSupervisor {
  private child: ChildProcess | null = null;
  private timer: NodeJS.Timeout | null = null;
  private wanted = false;
  private delay: number;
  private st: DnsmasqStatus = { state: 'stopped', pid: null, restarts: 0, reason: null, since: null };
  private exited: Promise<void> = Promise.resolve();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: DnsmasqSupervisorOptions) {
    this.delay = o.backoffMs ?? 1000;
  }

  status(): DnsmasqStatus {
    return { ...this.st };
  }

  /** `dnsmasq --test` on the config file: null when it passes, else dnsmasq's own words. */
  test(): Promise<string | null> {
    return new Promise((resolve) => {
      execFile(this.o.binary ?? 'dnsmasq', ['--test', `--conf-file=${this.o.confPath}`], { timeout: 10_000 }, (err, stdout, stderr) => {
        resolve(err ? redactTokens(`${stderr || stdout || err.message}`.trim()).slice(0, 500) : null);
      });
    });
  }

  /** (Re)starts dnsmasq on the current config; a config that fails the test leaves the state `failed` (and a running child untouched). */
  start(): Promise<DnsmasqStatus> {
    return this.serial(async () => {
      this.wanted = true;
      const problem = await this.test();
      if (problem !== null) {
        this.st = { ...this.st, reason: `dnsmasq --test refused the config: ${problem}`, ...(this.child ? {} : { state: 'failed' as const, pid: null }) };
        return this.status();
      }
      await this.kill();
      this.spawnChild();
      return this.status();
    });
  }

  /** Stops the child and any pending restart. */
  stop(): Promise<void> {
    return this.serial(async () => {
      this.wanted = false;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      await this.kill();
      this.st = { ...this.st, state: 'stopped', pid: null, since: null };
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private spawnChild(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const args = ['--keep-in-foreground', '--log-facility=-', `--conf-file=${this.o.confPath}`, `--pid-file=${this.o.pidPath}`, ...(this.o.extraArgs ?? [])];
    const child = spawn(this.o.binary ?? 'dnsmasq', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const startedAt = Date.now();
    this.st = { ...this.st, state: 'running', pid: child.pid ?? null, since: startedAt, reason: null };
    const log = (line: string) => void appendFile(this.o.logPath, `${new Date().toISOString()} ${redactTokens(line)}\n`, { mode: 0o600 }).catch(() => undefined);
    for (const s of [child.stdout, child.stderr]) if (s) createInterface({ input: s }).on('line', log);
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        this.st = { ...this.st, reason: err.message };
      });
      child.once('close', (code, signal) => {
        resolve();
        if (this.child !== child) return;
        this.child = null;
        const why = `dnsmasq exited (${signal ?? `code ${code}`})`;
        log(why);
        if (!this.wanted) return;
        if (Date.now() - startedAt >= (this.o.stableMs ?? 60_000)) this.delay = this.o.backoffMs ?? 1000;
        const wait = this.delay;
        this.delay = Math.min(this.delay * 2, this.o.backoffMaxMs ?? 60_000);
        this.st = { ...this.st, state: 'backoff', pid: null, reason: `${why}; restarting in ${wait} ms`, since: null };
        this.o.warn?.('netboot: dnsmasq died, restarting', { code, signal, waitMs: wait });
        this.timer = setTimeout(() => {
          this.timer = null;
          void this.serial(async () => {
            if (!this.wanted || this.child) return;
            // the file may have changed since the last start: a restart runs only a config that passes the test
            const problem = await this.test();
            if (problem !== null) {
              this.st = { ...this.st, state: 'failed', pid: null, reason: `dnsmasq --test refused the config: ${problem}` };
              return;
            }
            this.st = { ...this.st, restarts: this.st.restarts + 1 };
            this.spawnChild();
          });
        }, wait);
        this.timer.unref?.();
      });
    });
  }

  private async kill(): Promise<void> {
    const c = this.child;
    if (!c) return;
    this.child = null;
    const gone = this.exited;
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(t);
    await rm(this.o.pidPath, { force: true }).catch(() => undefined);
  }
}
