import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { Client as SshClient, ClientChannel, ConnectConfig } from 'ssh2';
import { DomainRuleError, UnavailableError } from '../platform/errors.js';
import type { HostRecord, RemoteRunnerFactory } from '../platform/hosts/host-registry.js';
import { ExecError } from './exec-error.js';
import { assertArgv, lineSplitter, type ExecOptions, type ExecResult, type OutputStream, type ProcessRunner, type StreamHandle } from './process-runner.js';

const { Client, utils } = ssh2;

/** The remote host presented a different key than the one pinned: possibly an impostor. */
export class HostKeyMismatchError extends DomainRuleError {
  constructor(readonly host: string, readonly expected: string, readonly got: string) {
    super(
      `Host key of ${host} changed: expected ${expected}, got ${got}. Refusing to connect; re-pin the key only if you know why it changed.`,
      'host_key_mismatch',
      { host, expected, got },
    );
  }
}

/** No key is pinned for the host yet: the operator must confirm the fingerprint first. */
export class HostKeyNotPinnedError extends DomainRuleError {
  constructor(readonly host: string, readonly got: string | null) {
    super(`No host key is pinned for ${host}${got ? `; it presents ${got}` : ''}. Confirm and pin the fingerprint first.`, 'host_key_not_pinned', { host, got });
  }
}

// ---------------------------------------------------------------------------------------------
// Keys and fingerprints

/** OpenSSH-style fingerprint of a public key blob: `SHA256:` + unpadded base64 of its SHA-256. */
export function sshFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The algorithm name at the start of an SSH public key blob (e.g. `ssh-ed25519`). */
function keyType(blob: Buffer): string {
  const len = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  return blob.subarray(4, 4 + len).toString('latin1');
}

export interface PanelKey {
  /** OpenSSH private key (never logged, never sent anywhere). */
  privateKey: string;
  /** One `authorized_keys` line for operators to install on their hosts. */
  publicKey: string;
  fingerprint: string;
  path: string;
}

export const PANEL_KEY_DIR = 'ssh';
export const PANEL_KEY_FILE = 'id_ed25519';

/** The panel's own ed25519 key pair in `<dataDir>/ssh/`, generated (0600) on first use. */
/**
 * About 1 in 200 ed25519 keys that ssh2 generates are refused by its own parser ("Malformed OpenSSH
 * private key"; seen on Node 20 and 24 alike): a panel key is kept only once ssh2 can read it back.
 */
export function generateParsableEd25519(comment: string): { private: string; public: string } {
  for (let attempt = 0; attempt < 20; attempt++) {
    const pair = utils.generateKeyPairSync('ed25519', { comment });
    if (!(utils.parseKey(pair.private) instanceof Error)) return pair;
  }
  throw new Error('could not generate an SSH key that ssh2 can read');
}

export function loadOrCreatePanelKey(dataDir: string): PanelKey {
  const dir = path.join(dataDir, PANEL_KEY_DIR);
  const file = path.join(dir, PANEL_KEY_FILE);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(file)) {
    const pair = generateParsableEd25519(`slipway@${hostname()}`);
    writeFileSync(file, pair.private, { mode: 0o600, flag: 'wx' });
    writeFileSync(`${file}.pub`, `${pair.public.trim()}\n`, { mode: 0o644 });
  }
  chmodSync(file, 0o600);
  const privateKey = readFileSync(file, 'utf8');
  const parsed = utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new Error(`panel SSH key ${file} is unreadable: ${parsed.message}`);
  const blob = parsed.getPublicSSH();
  const publicKey = existsSync(`${file}.pub`)
    ? readFileSync(`${file}.pub`, 'utf8').trim()
    : `${parsed.type} ${blob.toString('base64')} slipway@${hostname()}`;
  return { privateKey, publicKey, fingerprint: sshFingerprint(blob), path: file };
}

// ---------------------------------------------------------------------------------------------
// Quoting

/**
 * POSIX single-quoting: inside '…' every byte is literal; a single quote is written as '\''.
 * Any string thus arrives as exactly one argument through the remote user's (POSIX) shell.
 */
export function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * One remote command line for an argv. `exec` replaces the remote shell by the program so a
 * signal sent over the channel reaches the program itself.
 */
export function remoteCommandLine(command: string, args: readonly string[], opts: { env?: Record<string, string>; cwd?: string } = {}): string {
  assertArgv(command, args);
  const parts = ['exec'];
  const env = Object.entries(opts.env ?? {});
  if (env.length) {
    parts.push('env');
    for (const [k, v] of env) {
      if (!ENV_NAME.test(k)) throw new TypeError(`refusing environment variable name ${JSON.stringify(k)}`);
      if (v.includes('\0')) throw new TypeError('environment values must not contain NUL bytes');
      parts.push(shellQuote(`${k}=${v}`));
    }
  }
  parts.push(shellQuote(command), ...args.map(shellQuote));
  const line = parts.join(' ');
  if (opts.cwd === undefined) return line;
  if (opts.cwd.includes('\0')) throw new TypeError('cwd must not contain NUL bytes');
  return `cd -- ${shellQuote(opts.cwd)} && ${line}`;
}

// ---------------------------------------------------------------------------------------------
// Connections

export interface SshTarget {
  /** Name shown in errors and ExecError.host. */
  name: string;
  address: string;
  port: number;
  username: string;
  /** Pinned host key (`SHA256:…`); null only when `trustOnFirstUse` is set. */
  hostKeyFingerprint: string | null;
  /** A per-host private key; the panel key otherwise. */
  privateKey?: string;
}

export interface SshConnectionOptions {
  readyTimeoutMs?: number;
  /** Accept an unpinned host (the seen key is reported through `onHostKey`). */
  trustOnFirstUse?: boolean;
  onHostKey?: (fingerprint: string) => void;
}

// OpenSSH allows 10 sessions per connection by default (MaxSessions); stay below it.
const MAX_CHANNELS = 8;

/** One SSH connection to one host, opened lazily and reopened after it drops. */
export class SshConnection {
  private client: SshClient | null = null;
  private connecting: Promise<SshClient> | null = null;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private closed = false;

  constructor(
    readonly target: SshTarget,
    private readonly defaultKey: () => string,
    private readonly opts: SshConnectionOptions = {},
  ) {}

  get connected(): boolean {
    return this.client !== null;
  }

  private connect(): Promise<SshClient> {
    if (this.client) return Promise.resolve(this.client);
    if (this.connecting) return this.connecting;
    const t = this.target;
    this.connecting = new Promise<SshClient>((resolve, reject) => {
      const c = new Client();
      let keyProblem: Error | null = null;
      const config: ConnectConfig = {
        host: t.address,
        port: t.port,
        username: t.username,
        privateKey: t.privateKey ?? this.defaultKey(),
        readyTimeout: this.opts.readyTimeoutMs ?? 10000,
        keepaliveInterval: 15000,
        keepaliveCountMax: 3,
        // Key auth only: no password, no keyboard-interactive, no agent.
        tryKeyboard: false,
        hostVerifier: (key: Buffer) => {
          const got = sshFingerprint(key);
          this.opts.onHostKey?.(got);
          if (t.hostKeyFingerprint) {
            if (t.hostKeyFingerprint === got) return true;
            keyProblem = new HostKeyMismatchError(t.name, t.hostKeyFingerprint, got);
            return false;
          }
          if (this.opts.trustOnFirstUse) return true;
          keyProblem = new HostKeyNotPinnedError(t.name, got);
          return false;
        },
      };
      c.on('ready', () => {
        this.client = c;
        this.connecting = null;
        resolve(c);
      });
      c.on('error', (e: Error) => {
        if (this.client === c) this.client = null;
        if (this.connecting) {
          this.connecting = null;
          reject(keyProblem ?? new UnavailableError(`SSH connection to ${t.name} (${t.username}@${t.address}:${t.port}) failed: ${e.message}`));
        }
      });
      c.on('close', () => {
        if (this.client === c) this.client = null;
        if (this.connecting) {
          this.connecting = null;
          reject(keyProblem ?? new UnavailableError(`SSH connection to ${t.name} closed during the handshake`));
        }
      });
      c.connect(config);
    });
    return this.connecting;
  }

  private async acquire(): Promise<void> {
    if (this.active < MAX_CHANNELS) {
      this.active++;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
  }

  private release(): void {
    this.active--;
    this.waiting.shift()?.();
  }

  /** Opens an exec channel; `release` must be called once the channel has closed. */
  exec(commandLine: string): Promise<{ channel: ClientChannel; release: () => void }> {
    return this.openChannel(
      (client) => new Promise<ClientChannel>((resolve, reject) => client.exec(commandLine, (err, ch) => (err ? reject(err) : resolve(ch)))),
    );
  }

  /**
   * Opens a channel (an exec, a TCP forward, a program on a pty) under the connection's channel
   * limit, reconnecting once when a pooled connection died; `release` must be called once it has closed.
   */
  async openChannel(open: (client: SshClient) => Promise<ClientChannel>): Promise<{ channel: ClientChannel; release: () => void }> {
    if (this.closed) throw new UnavailableError(`SSH connection to ${this.target.name} is closed`);
    await this.acquire();
    let released = false;
    const release = () => {
      if (!released) this.release();
      released = true;
    };
    try {
      const reused = this.client;
      const client = await this.connect();
      try {
        return { channel: await open(client), release };
      } catch (e) {
        if (client !== reused || !/not connected|no response|ECONNRESET|EPIPE|socket/i.test((e as Error).message)) throw e;
        // A pooled connection that died quietly (host rebooted, NAT dropped it): reconnect once.
        if (this.client === client) this.client = null;
        client.end();
        return { channel: await open(await this.connect()), release };
      }
    } catch (e) {
      release();
      throw e;
    }
  }

  close(): void {
    this.closed = true;
    this.client?.end();
    this.client = null;
  }
}

/** One pooled connection per host (keyed by where and how we connect). */
export class SshConnectionPool {
  private readonly connections = new Map<string, SshConnection>();

  constructor(private readonly defaultKey: () => string) {}

  get(target: SshTarget, opts?: SshConnectionOptions): SshConnection {
    const key = JSON.stringify([target.name, target.username, target.address, target.port, target.hostKeyFingerprint, target.privateKey ?? '']);
    let c = this.connections.get(key);
    if (!c) {
      // The host's address, user or pinned key changed: its old connection is not wanted any more.
      for (const [k, old] of this.connections) {
        if (old.target.name === target.name) {
          old.close();
          this.connections.delete(k);
        }
      }
      c = new SshConnection(target, this.defaultKey, opts);
      this.connections.set(key, c);
    }
    return c;
  }

  closeAll(): void {
    for (const c of this.connections.values()) c.close();
    this.connections.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// The runner

const KILL_GRACE_MS = 2000;
const PID_MARKER = 'slipway-pid:';
/**
 * Printed by the remote shell before it execs the program (same pid). sshd makes each session's
 * shell a process-group leader, so this pid also names the group that `kill -SIG -pid` ends.
 */
const PID_ANNOUNCE = `echo "${PID_MARKER}$$" >&2`;

/**
 * Takes the pid announcement out of the stderr stream (anything a login script printed before
 * it passes through untouched).
 */
function pidMarkerFilter(onPid: (pid: number) => void): { push(chunk: string): string; end(): string } {
  let pending = '';
  let found = false;
  return {
    push(chunk) {
      if (found) return chunk;
      pending += chunk;
      const m = new RegExp(`(^|\\n)${PID_MARKER}(\\d+)\\n`).exec(pending);
      if (!m) {
        if (pending.length <= 65536) return '';
        found = true; // no announcement after 64 KiB: stop looking
        const out = pending;
        pending = '';
        return out;
      }
      found = true;
      onPid(Number(m[2]));
      const out = pending.slice(0, m.index + m[1]!.length) + pending.slice(m.index + m[0].length);
      pending = '';
      return out;
    },
    end() {
      const out = pending;
      pending = '';
      return out;
    },
  };
}

/**
 * One remote program on its own channel. Ending it cannot rely on SSH signal requests: OpenSSH
 * refuses them for root logins ("session signalling requires privilege separation"), so the
 * process group is signalled with `kill` over a second channel, and the request is sent as well.
 */
class RemoteProcess {
  private pid: number | null = null;
  private exitCode: number | null = null;
  private terminating = false;
  private closed = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly connection: SshConnection,
    private readonly channel: ClientChannel,
    private readonly release: () => void,
    on: { stdout(chunk: string): void; stderr(chunk: string): void; close(exitCode: number | null): void },
    input?: string,
    announced = true,
  ) {
    const marker = announced
      ? pidMarkerFilter((pid) => {
        this.pid = pid;
        if (this.terminating) this.kill('TERM');
      })
      : { push: (c: string) => c, end: () => '' };
    channel.setEncoding('utf8');
    channel.stderr.setEncoding('utf8');
    channel.on('data', (c: string) => on.stdout(c));
    channel.stderr.on('data', (c: string) => {
      const out = marker.push(c);
      if (out) on.stderr(out);
    });
    channel.on('exit', (code: number | null) => {
      this.exitCode = typeof code === 'number' ? code : null;
    });
    const finish = () => {
      if (this.closed) return;
      this.closed = true;
      for (const t of this.timers) clearTimeout(t);
      const rest = marker.end();
      if (rest) on.stderr(rest);
      this.release();
      on.close(this.exitCode);
    };
    channel.on('close', finish);
    this.giveUp = finish;
    if (input !== undefined) channel.end(input);
    else channel.end();
  }

  private readonly giveUp: () => void;

  /**
   * `raw`: the line goes to the login as it is (a forced command reads it as SSH_ORIGINAL_COMMAND,
   * no shell runs it), so there is no pid announcement and ending it is by signal request and
   * closing the channel only.
   */
  static async start(connection: SshConnection, commandLine: string, on: ConstructorParameters<typeof RemoteProcess>[3], input?: string, raw = false): Promise<RemoteProcess> {
    const { channel, release } = await connection.exec(raw ? commandLine : `${PID_ANNOUNCE}; ${commandLine}`);
    return new RemoteProcess(connection, channel, release, on, input, !raw);
  }

  /** SIGTERM now; SIGKILL and closing the channel after a grace period; give up after another. */
  terminate(): void {
    if (this.terminating || this.closed) return;
    this.terminating = true;
    this.kill('TERM');
    this.timers.push(
      setTimeout(() => {
        this.kill('KILL');
        this.channel.close();
        this.timers.push(setTimeout(() => this.giveUp(), KILL_GRACE_MS));
      }, KILL_GRACE_MS),
    );
  }

  private kill(sig: 'TERM' | 'KILL'): void {
    if (this.closed) return;
    sendSignalRequest(this.channel, sig);
    if (this.pid === null) return; // sent as soon as the pid is announced
    const pid = Math.trunc(this.pid);
    // Built from a validated integer and constants only: no user value reaches this line.
    const line = `kill -${sig} -${pid} 2>/dev/null || kill -${sig} ${pid} 2>/dev/null`;
    this.connection
      .exec(line)
      .then(({ channel, release }) => {
        channel.on('close', release);
        channel.resume();
        channel.stderr.resume();
        channel.end();
      })
      .catch(() => {
        /* connection gone: the channel close ends the wait */
      });
  }
}

/**
 * Sends a signal request (RFC 4254 6.9) on a session channel. ssh2's `channel.signal()` stays
 * silent once our side sent EOF (we do right away so programs see an empty stdin), so the
 * request goes through the channel's protocol handle while the channel is open.
 */
function sendSignalRequest(channel: ClientChannel, name: 'TERM' | 'KILL'): void {
  const ch = channel as unknown as { outgoing?: { id: number; state: string }; _client?: { _protocol?: { signal(id: number, s: string): void } } };
  if (ch.outgoing?.state !== 'open' && ch.outgoing?.state !== 'eof') return;
  try {
    ch._client?._protocol?.signal(ch.outgoing.id, name);
  } catch {
    /* connection already gone */
  }
}

/**
 * Builds the line sent to a login whose authorized_keys entry forces a command (sshcommand's
 * `command="dokku $SSH_ORIGINAL_COMMAND"` for the dokku user): the forced command receives it as
 * SSH_ORIGINAL_COMMAND and re-splits it itself. It must validate every argument so that the
 * remote split gives back exactly the argv (throw a TypeError otherwise); no shell quoting helps there.
 */
export type ForcedCommandLine = (command: string, args: readonly string[]) => string;

export interface SshProcessRunnerOptions {
  /** The login runs a forced command: send `forcedCommand(command, args)` as the raw command line (no shell, no env, no cwd). */
  forcedCommand?: ForcedCommandLine;
}

/**
 * ProcessRunner over SSH: the same argv-only contract as the local runner. With `forcedCommand`
 * it drives a forced-command login (raw command line, see ForcedCommandLine) with the same
 * output, cancel, timeout and error handling.
 */
export class SshProcessRunner implements ProcessRunner {
  readonly host: string;

  constructor(private readonly connection: SshConnection, private readonly opts: SshProcessRunnerOptions = {}) {
    this.host = connection.target.name;
  }

  private line(command: string, args: readonly string[], opts: { env?: Record<string, string> | undefined; cwd?: string | undefined }): string {
    const forced = this.opts.forcedCommand;
    if (!forced) return remoteCommandLine(command, args, { env: opts.env, cwd: opts.cwd });
    if ((opts.env && Object.keys(opts.env).length) || opts.cwd !== undefined) throw new TypeError('a forced command receives no environment or working directory');
    assertArgv(command, args);
    return forced(command, args);
  }

  async exec(command: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const line = this.line(command, args, opts);
    const argv = [command, ...args];
    const started = Date.now();
    if (opts.signal?.aborted) throw new ExecError(argv, null, '', 'cancelled', this.host);
    let stdout = '';
    let stderr = '';
    let ended: 'timeout' | 'cancelled' | null = null;
    const outSplit = lineSplitter((l) => opts.onLine?.(l, 'stdout'));
    const errSplit = lineSplitter((l) => opts.onLine?.(l, 'stderr'));
    let closed!: (exitCode: number | null) => void;
    const exited = new Promise<number | null>((r) => (closed = r));
    let proc: RemoteProcess;
    try {
      proc = await RemoteProcess.start(
        this.connection,
        line,
        {
          stdout: (c) => {
            stdout += c;
            if (opts.onLine) outSplit.push(c);
          },
          stderr: (c) => {
            stderr += c;
            if (opts.onLine) errSplit.push(c);
          },
          close: (code) => closed(code),
        },
        opts.input,
        !!this.opts.forcedCommand,
      );
    } catch (e) {
      if (e instanceof DomainRuleError) throw e;
      throw new ExecError(argv, null, (e as Error).message, 'spawn', this.host);
    }
    const stop = (why: 'timeout' | 'cancelled') => {
      ended ??= why;
      proc.terminate();
    };
    const timer = opts.timeoutMs ? setTimeout(() => stop('timeout'), opts.timeoutMs) : null;
    const onAbort = () => stop('cancelled');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) onAbort();
    const exitCode = await exited;
    if (timer) clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    if (opts.onLine) {
      outSplit.end();
      errSplit.end();
    }
    if (ended) throw new ExecError(argv, null, stderr, ended, this.host);
    if (exitCode === null) throw new ExecError(argv, null, stderr || 'the connection was lost or the program was killed by a signal', 'exit', this.host);
    if (!(opts.okExitCodes ?? [0]).includes(exitCode)) throw new ExecError(argv, exitCode, stderr, 'exit', this.host);
    return { argv, exitCode, stdout, stderr, durationMs: Date.now() - started };
  }

  /** A direct-tcpip channel to 127.0.0.1:`port` on the host (consoles the panel proxies). */
  async openTcp(port: number): Promise<ClientChannel> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError('invalid port');
    const { channel, release } = await this.connection.openChannel((c) => new Promise((resolve, reject) => c.forwardOut('127.0.0.1', 0, '127.0.0.1', port, (err, ch) => (err ? reject(err) : resolve(ch)))));
    channel.once('close', release);
    return channel;
  }

  /** `command args…` on a pseudo-terminal of the host (an interactive console), bytes both ways. */
  async openInteractive(command: string, args: readonly string[]): Promise<ClientChannel> {
    if (this.opts.forcedCommand) throw new TypeError('a forced-command login runs no interactive programs');
    const line = remoteCommandLine(command, args);
    const { channel, release } = await this.connection.openChannel((c) => new Promise((resolve, reject) => c.exec(line, { pty: { term: 'vt100', rows: 24, cols: 80 } }, (err, ch) => (err ? reject(err) : resolve(ch)))));
    channel.once('close', release);
    return channel;
  }

  stream(command: string, args: readonly string[], opts: Omit<ExecOptions, 'onLine' | 'timeoutMs'> = {}): StreamHandle {
    const line = this.line(command, args, opts);
    const queue: { line: string; stream: OutputStream }[] = [];
    let wake: (() => void) | null = null;
    let finished = false;
    let stopped = false;
    let proc: RemoteProcess | null = null;
    const notify = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    const stop = () => {
      stopped = true;
      proc?.terminate();
    };
    opts.signal?.addEventListener('abort', stop, { once: true });
    const splits = (['stdout', 'stderr'] as const).map((stream) =>
      lineSplitter((l) => {
        queue.push({ line: l, stream });
        notify();
      }),
    );

    const done = (async (): Promise<number | null> => {
      try {
        let closed!: (exitCode: number | null) => void;
        const exited = new Promise<number | null>((r) => (closed = r));
        proc = await RemoteProcess.start(
          this.connection,
          line,
          { stdout: (c) => splits[0]!.push(c), stderr: (c) => splits[1]!.push(c), close: (code) => closed(code) },
          opts.input,
          !!this.opts.forcedCommand,
        );
        if (stopped || opts.signal?.aborted) proc.terminate();
        return await exited;
      } catch (e) {
        queue.push({ line: `slipway: ${(e as Error).message}`, stream: 'stderr' });
        return null;
      } finally {
        for (const s of splits) s.end();
        finished = true;
        opts.signal?.removeEventListener('abort', stop);
        notify();
      }
    })();

    async function* lines() {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        if (finished) return;
        await new Promise<void>((r) => (wake = r));
      }
    }
    return { lines: lines(), stop, done };
  }
}

// ---------------------------------------------------------------------------------------------
// What the rest of the panel uses

export interface SshRunnerFactory extends RemoteRunnerFactory {
  readonly pool: SshConnectionPool;
  /** The panel's public key, for operators to add to `authorized_keys`. */
  publicKey(): PanelKey['publicKey'];
  close(): void;
}

/**
 * The builder for `HostRegistry.setRemoteRunnerFactory`. Hosts must have a pinned host key;
 * `privateKeyFor` may supply a per-host key (the panel key is used otherwise).
 */
export function createSshRunnerFactory(opts: { dataDir: string; privateKeyFor?: (host: HostRecord) => string | undefined }): SshRunnerFactory {
  let key: PanelKey | null = null;
  const panel = () => (key ??= loadOrCreatePanelKey(opts.dataDir));
  const pool = new SshConnectionPool(() => panel().privateKey);
  const factory = async (host: HostRecord): Promise<ProcessRunner> => {
    if (host.kind !== 'ssh' || !host.address) throw new DomainRuleError(`Host ${host.name} is not reachable over SSH`, 'not_ssh_host');
    if (!host.hostKeyFingerprint) throw new HostKeyNotPinnedError(host.name, null);
    const target: SshTarget = {
      name: host.name,
      address: host.address,
      port: host.port ?? 22,
      username: host.username ?? 'root',
      hostKeyFingerprint: host.hostKeyFingerprint,
      privateKey: opts.privateKeyFor?.(host),
    };
    return new SshProcessRunner(pool.get(target));
  };
  return Object.assign(factory, { pool, publicKey: () => panel().publicKey, close: () => pool.closeAll() });
}

/**
 * Learns a host's key without authenticating: the operator compares this fingerprint with the
 * host's own (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`) before pinning it.
 */
export function probeHostKey(address: string, port = 22, opts: { timeoutMs?: number } = {}): Promise<{ fingerprint: string; keyType: string }> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    let seen: { fingerprint: string; keyType: string } | null = null;
    const finish = () => {
      c.end();
      if (seen) resolve(seen);
      else reject(new UnavailableError(`No SSH server answered at ${address}:${port}`));
    };
    c.on('error', finish);
    c.on('close', finish);
    c.connect({
      host: address,
      port,
      username: 'slipway-probe',
      readyTimeout: opts.timeoutMs ?? 10000,
      hostVerifier: (key: Buffer) => {
        seen = { fingerprint: sshFingerprint(key), keyType: keyType(key) };
        return false; // we only wanted the key
      },
    });
  });
}

export interface ConnectionTestResult {
  ok: boolean;
  hostKeyFingerprint: string | null;
  /** null when no key was pinned yet (the caller should ask the operator to confirm it). */
  hostKeyMatches: boolean | null;
  latencyMs: number;
  /** `uname -srm` of the host when the login worked. */
  system?: string;
  error?: { code: string; message: string };
}

/** Connects, authenticates and runs `uname -srm`: what the hosts page shows for "Test connection". */
export async function connectionTest(
  target: Omit<SshTarget, 'name'> & { name?: string },
  opts: { dataDir?: string; privateKey?: string; timeoutMs?: number } = {},
): Promise<ConnectionTestResult> {
  const started = Date.now();
  const privateKey = target.privateKey ?? opts.privateKey ?? (opts.dataDir ? loadOrCreatePanelKey(opts.dataDir).privateKey : undefined);
  if (!privateKey) throw new TypeError('connectionTest needs a private key or the data dir holding the panel key');
  let seen: string | null = null;
  const conn = new SshConnection({ ...target, name: target.name ?? `${target.address}:${target.port}` }, () => privateKey, {
    readyTimeoutMs: opts.timeoutMs,
    trustOnFirstUse: true,
    onHostKey: (fp) => (seen = fp),
  });
  const runner = new SshProcessRunner(conn);
  const matches = () => (target.hostKeyFingerprint && seen ? target.hostKeyFingerprint === seen : null);
  try {
    const r = await runner.exec('uname', ['-srm'], { timeoutMs: opts.timeoutMs ?? 10000 });
    return { ok: true, hostKeyFingerprint: seen, hostKeyMatches: matches(), latencyMs: Date.now() - started, system: r.stdout.trim() };
  } catch (e) {
    const msg = (e as Error).message;
    const code = e instanceof DomainRuleError ? e.code
      : e instanceof ExecError && e.reason !== 'spawn' ? 'command_failed'
      : /authentication/i.test(msg) ? 'auth_failed' : 'unreachable';
    return { ok: false, hostKeyFingerprint: seen, hostKeyMatches: matches(), latencyMs: Date.now() - started, error: { code, message: msg } };
  } finally {
    conn.close();
  }
}
