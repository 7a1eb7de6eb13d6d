import {
  ConflictError, DomainRuleError, ExecError, type ExecResult, NotFoundError,
  type OutputStream, type ProcessRunner, redactLine as redactCommon, type SshConnection, SshProcessRunner, type StreamHandle,
} from '../../../server/src/sdk.js';
import {
  APP_NAME_RE, type AppName, type BuildId, type EnvKey, type GitRef, type GitRepoUrl, type Hostname, type ImageRef, type PortMap,
  type ProcessType,
} from './apps.schema.js';

/**
 * The only file that knows `dokku` (github.com/dokku/dokku v0.38.x; the letsencrypt plugin from
 * github.com/dokku/dokku-letsencrypt). It builds argv from branded, validated values only, reads
 * Dokku's `--format json` reports and its prefixed output, and maps its exit codes:
 *   20  -> the app does not exist (common/functions verify_app_name, common.go AppDoesNotExist.ExitCode)
 *   1 + ` !     ` line on stderr -> Dokku refused; the message is that line (dokku_log_fail / LogFailWithError)
 * Output lines are cleaned (ANSI colours and cursor moves stripped, `\r`-rewritten progress reduced
 * to its last state) and redacted (secret-looking text by pattern, and every value the caller
 * marked secret) before anyone sees them.
 */

// ---- output cleaning ------------------------------------------------------------------------

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1b[=>78]/g;
// eslint-disable-next-line no-control-regex
const OTHER_CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;

/** One raw output line as a user should read it: no colours, only the last `\r` state. */
export function cleanLine(raw: string): string {
  const parts = raw.split('\r').map((p) => p.replace(ANSI, '').replace(OTHER_CONTROL, '')).filter((p) => p.trim() !== '');
  return (parts.pop() ?? '').trimEnd();
}

const MIN_SECRET_LEN = 4;
/** A line with secret-looking text and every known secret value (and its base64) replaced. */
export function redact(line: string, secrets: readonly string[] = []): string {
  let out = redactCommon(line)
    .replace(/\b((?:[A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|CREDENTIALS?|AUTH)[A-Z0-9_]*)\s*[:=]\s*)\S.*$/gi, '$1[redacted]')
    .replace(/\b(postgres(?:ql)?|mysql|mariadb|redis|rediss|amqps?|mongodb(?:\+srv)?):\/\/([^:/@\s]+):[^@\s]+@/gi, '$1://$2:[redacted]@');
  for (const s of secrets) {
    if (s.length < MIN_SECRET_LEN) continue;
    for (const form of [s, Buffer.from(s).toString('base64'), ...s.split('\n').filter((p) => p.length >= 8)]) out = out.split(form).join('[redacted]');
  }
  return out;
}

/** The text of Dokku's ` !     ` lines (stderr), in order. */
export function failureLines(stderr: string): string[] {
  return stderr.split('\n').map(cleanLine).filter((l) => l.startsWith(' !')).map((l) => l.replace(/^ !\s+/, '').trim()).filter(Boolean);
}

// ---- errors ---------------------------------------------------------------------------------

/** Exit 20: Dokku says the app does not exist. */
export class DokkuAppNotFoundError extends NotFoundError {
  constructor(readonly app: string) {
    super('App', app);
  }
}
/** Dokku refused (exit 1 with a ` !` line): the message is Dokku's own. */
export class DokkuRefusedError extends DomainRuleError {
  constructor(message: string, readonly exitCode: number | null, readonly lines: string[] = [], code = 'dokku_refused') {
    super(message, code, { exitCode, lines });
  }
}
/** git_receive_app takes the deploy lock "exclusive": a second deploy of the app fails at once. */
export class DokkuDeployLockedError extends ConflictError {
  constructor(readonly app: string) {
    super(`${app} currently has a deploy lock in place`, { app });
  }
}
/** check-deploy: "Could not start due to N failed checks (…)"; the previous release stays live. */
export class DokkuChecksFailedError extends DokkuRefusedError {
  constructor(message: string, exitCode: number | null, lines: string[]) {
    super(message, exitCode, lines, 'checks_failed');
  }
}
/** Dokku printed something the adapter cannot read. */
export class DokkuOutputError extends Error {
  constructor(message: string, readonly output: string) {
    super(message);
    this.name = 'DokkuOutputError';
  }
}

// ---- argv -----------------------------------------------------------------------------------

/**
 * Every argument is a "plain word": over sshcommand, the dokku user's forced command receives the
 * line as SSH_ORIGINAL_COMMAND, the login shell splits and globs it, and dokku re-splits it
 * (whitespace for `git*` commands, xargs quoting otherwise). A word made only of these characters
 * arrives intact under all three, so no quoting is needed and none can be abused.
 */
const PLAIN_WORD = /^[A-Za-z0-9._:/@=+,%-]+$/;
export function assertPlainArgv(args: readonly string[]): void {
  for (const a of args) {
    if (typeof a !== 'string' || !PLAIN_WORD.test(a) || a.length > 8192) {
      throw new TypeError(`refusing a dokku argument that is not a plain word: ${JSON.stringify(String(a).slice(0, 60))}`);
    }
  }
}

// ---- transports -----------------------------------------------------------------------------

/**
 * The command line for a host where the panel logs in as the `dokku` user, whose authorized_keys
 * entry (written by sshcommand) forces `dokku $SSH_ORIGINAL_COMMAND`. A shell line (what the
 * generic SSH runner sends: `echo pid; exec 'dokku' '…'`) would reach dokku as its own
 * arguments, so the line is `<args joined by spaces>` and nothing else; every argument is a plain
 * word (see assertPlainArgv), so the remote split reproduces the argv exactly.
 */
export function sshcommandLine(command: string, args: readonly string[]): string {
  if (command !== 'dokku') throw new TypeError('the dokku user can only run dokku');
  if (args.length === 0) throw new TypeError('a dokku command is required');
  assertPlainArgv(args);
  return args.join(' ');
}

/**
 * The platform's SSH runner in forced-command mode (sshcommandLine): output, timeouts and cancel
 * are the generic runner's. Cancelling sends a TERM signal request (allowed: the dokku user is
 * not root) and closes the channel; a deploy is ended on the Dokku side with `builds:cancel`.
 */
export class SshcommandRunner extends SshProcessRunner {
  constructor(connection: SshConnection) {
    super(connection, { forcedCommand: sshcommandLine });
  }
}

// ---- parsed shapes --------------------------------------------------------------------------

export type RunningState = 'true' | 'false' | 'mixed';
export interface DokkuAppReport {
  name: AppName;
  createdAt: number | null;
  /** `docker-image`, `git-sync`, `git-push`, … (git deploy-source-set); '' before the first deploy. */
  deploySource: string;
  /** The image, or `<remote>#<sha>` for git-sync. */
  deploySourceMetadata: string;
  locked: boolean;
  deployed: boolean;
  running: RunningState;
  processes: number;
  /** `--status-<type>.<n>` of ps:report: e.g. `{ 'web.1': 'running' }`. */
  containers: Record<string, string>;
  vhosts: string[];
  gitSha: string;
  sourceImage: string;
}
export interface DokkuBuild {
  id: string;
  app: string;
  kind: 'build' | 'deploy';
  pid: number;
  startedAt: number;
  finishedAt: number | null;
  status: 'running' | 'succeeded' | 'failed' | 'canceled';
  /** Build.DisplayStatus: adds `abandoned` (running record, pid gone). */
  displayStatus: 'running' | 'succeeded' | 'failed' | 'canceled' | 'abandoned';
  source: string;
  exitCode: number | null;
  duration: string;
}
export interface DokkuDeployResult {
  buildId: string | null;
  urls: string[];
  lines: string[];
}
export interface ChecksReport {
  disabled: string[];
  skipped: string[];
  waitToRetire: number | null;
  computedWaitToRetire: number | null;
}
export interface PortMapping {
  scheme: string;
  hostPort: number;
  containerPort: number;
}
export interface LetsencryptReport {
  active: boolean;
  email: string;
  /** epoch ms of the installed certificate's notAfter, null when none */
  expiresAt: number | null;
}

/**
 * A job step builds the adapter on its job's runner (`AppsService.cli(hostId, ctx)`): every
 * command then shows its redacted argv and cleaned, redacted lines in the job log (reads are
 * `quiet`) and is killed when the job is cancelled. `onLine`/`signal` are for other callers.
 */
export interface RunOptions {
  onLine?: (line: string, stream: OutputStream) => void;
  signal?: AbortSignal;
  /** Nothing in a job log: reads (reports, config:export, builds:list). */
  quiet?: boolean;
  /** A job cancel does not kill the command; the caller ends it through `signal` (a deploy: `builds:cancel` first). */
  ownCancel?: boolean;
  timeoutMs?: number;
  /** Values that must never appear in any line, error or argv the caller sees. */
  secrets?: readonly string[];
  /** Announced before the command runs, with the argv redacted. */
  onCommand?: (argv: readonly string[]) => void;
}

const REPORT_TIMEOUT = 60_000;
const DEPLOY_TIMEOUT = 60 * 60_000;

function parseJsonObject(stdout: string, what: string): Record<string, string> {
  const line = stdout.split('\n').map((l) => l.trim()).find((l) => l.startsWith('{'));
  if (!line) throw new DokkuOutputError(`no JSON in ${what} output`, stdout.slice(0, 2000));
  try {
    const v = JSON.parse(line) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, typeof x === 'string' ? x : String(x ?? '')]));
  } catch (e) {
    throw new DokkuOutputError(`unreadable ${what} JSON: ${(e as Error).message}`, stdout.slice(0, 2000));
  }
}
function parseJsonArray(stdout: string, what: string): unknown[] {
  const line = stdout.split('\n').map((l) => l.trim()).find((l) => l.startsWith('[') || l === 'null');
  if (!line) throw new DokkuOutputError(`no JSON in ${what} output`, stdout.slice(0, 2000));
  try {
    const v = JSON.parse(line) as unknown;
    if (v === null) return [];
    if (!Array.isArray(v)) throw new Error('not an array');
    return v;
  } catch (e) {
    throw new DokkuOutputError(`unreadable ${what} JSON: ${(e as Error).message}`, stdout.slice(0, 2000));
  }
}
const bool = (s: string | undefined) => s === 'true';
const intOrNull = (s: string | undefined) => (s && /^-?\d+$/.test(s.trim()) ? Number(s.trim()) : null);
const list = (s: string | undefined, sep: RegExp) => (s ? s.split(sep).map((x) => x.trim()).filter((x) => x && x !== 'none') : []);

/** `=====> Application deployed:` followed by indented URLs (common/functions release_and_deploy). */
export function parseDeployedUrls(lines: readonly string[]): string[] {
  const i = lines.findIndex((l) => l.startsWith('=====> Application deployed:'));
  if (i < 0) return [];
  const urls: string[] = [];
  for (const l of lines.slice(i + 1)) {
    const m = /^ {7}(https?:\/\/\S+)$/.exec(l);
    if (!m) break;
    urls.push(m[1]!);
  }
  return urls;
}

export interface DokkuCliOptions {
  /** Program name on the host (default `dokku`). */
  bin?: string;
  /**
   * Run dokku in a new session (`setsid dokku …`), so `builds:cancel` — which signals the build's
   * whole process group — can never hit the panel's own group. Use it with the local runner;
   * SSH sessions already lead their own group.
   */
  newSession?: boolean;
}

export class DokkuCli {
  private readonly bin: string;
  constructor(private readonly runner: ProcessRunner, private readonly opts: DokkuCliOptions = {}) {
    this.bin = opts.bin ?? 'dokku';
  }

  get host(): string {
    return this.runner.host;
  }

  /** Runs one dokku command; every failure comes back as a domain error or a redacted ExecError. */
  async run(
    args: readonly string[],
    o: RunOptions & { okExitCodes?: number[]; app?: string; show?: { argv?: (argv: string[]) => string[]; line?: (l: string) => string } } = {},
  ): Promise<ExecResult & { lines: string[] }> {
    assertPlainArgv(args);
    const secrets = o.secrets ?? [];
    const shownArgv = [this.bin, ...args].map((a) => redact(a, secrets));
    const announced = o.show?.argv ? o.show.argv(shownArgv) : shownArgv;
    o.onCommand?.(announced);
    const [command, argv] = this.opts.newSession ? ['setsid', [this.bin, ...args]] : [this.bin, [...args]];
    const lines: string[] = [];
    const shown = (raw: string): string | null => {
      const l = redact(cleanLine(raw), secrets);
      if (!raw.trim() && !l) return null;
      return o.show?.line ? o.show.line(l) : l;
    };
    try {
      const r = await this.runner.exec(command, argv, {
        signal: o.signal,
        timeoutMs: o.timeoutMs ?? REPORT_TIMEOUT,
        okExitCodes: o.okExitCodes,
        job: o.quiet ? { logLine: () => null } : { announce: `$ ${announced.join(' ')}`, logLine: shown, ...(o.ownCancel ? { ownCancel: true } : {}) },
        onLine: (raw, stream) => {
          const l = shown(raw);
          if (l === null) return;
          lines.push(l);
          o.onLine?.(l, stream);
        },
      });
      return { ...r, argv: shownArgv, stdout: r.stdout, stderr: redact(r.stderr, secrets), lines };
    } catch (e) {
      throw this.classify(e, shownArgv, secrets, o.app);
    }
  }

  private classify(e: unknown, shownArgv: string[], secrets: readonly string[], app?: string): unknown {
    if (!(e instanceof ExecError)) return e;
    const stderr = e.stderr.split('\n').map((l) => redact(cleanLine(l), secrets)).join('\n');
    const failures = failureLines(stderr);
    const appName = app ?? shownArgv[2] ?? '';
    if (e.reason === 'exit' && e.exitCode === 20) return new DokkuAppNotFoundError(appName);
    if (e.reason === 'exit' && failures.some((l) => /currently has a deploy lock in place/.test(l))) return new DokkuDeployLockedError(appName);
    if (e.reason === 'exit' && e.exitCode !== null && e.exitCode !== 127) {
      const checks = failures.find((l) => /^Could not start due to \d+ failed checks/.test(l));
      if (checks) return new DokkuChecksFailedError(checks, e.exitCode, failures);
      const last = failures.at(-1);
      if (last) return new DokkuRefusedError(last.length > 300 ? `${last.slice(0, 297)}...` : last, e.exitCode, failures);
    }
    // Unexpected: keep ExecError (the error handler answers 502/503) but never with secrets inside.
    return new ExecError(shownArgv, e.exitCode, stderr, e.reason, e.host);
  }

  // ---- apps (plugins/apps) ------------------------------------------------------------------

  /** apps:list --format json (CommandList): a JSON array of names, `[]` when there are none. */
  async listApps(): Promise<AppName[]> {
    const r = await this.run(['apps:list', '--format', 'json'], { quiet: true });
    return parseJsonArray(r.stdout, 'apps:list').filter((n): n is AppName => typeof n === 'string' && APP_NAME_RE.test(n));
  }

  async create(app: AppName, o: RunOptions = {}): Promise<void> {
    await this.run(['apps:create', app], { ...o, app });
  }

  /** apps:destroy <app> --force: parse_args sets DOKKU_APPS_FORCE_DELETE, so no confirmation is read. */
  async destroy(app: AppName, o: RunOptions = {}): Promise<void> {
    await this.run(['apps:destroy', app, '--force'], { ...o, app, timeoutMs: 10 * 60_000 });
  }

  /**
   * apps:report, ps:report, domains:report and git:report, each `--format json` (common.go
   * ReportSingleApp: flat object of strings, keys with the `--<plugin>-` prefix trimmed).
   */
  async report(app: AppName): Promise<DokkuAppReport> {
    const get = async (plugin: string) => parseJsonObject((await this.run([`${plugin}:report`, app, '--format', 'json'], { app, quiet: true })).stdout, `${plugin}:report`);
    const a = await get('apps');
    const [ps, domains, git] = await Promise.all([get('ps'), get('domains'), get('git')]);
    const containers: Record<string, string> = {};
    for (const [k, v] of Object.entries(ps)) {
      const m = /^status-(.+)$/.exec(k);
      if (m) containers[m[1]!] = v.split(' ')[0] ?? v;
    }
    const running = ps.running === 'true' || ps.running === 'mixed' ? ps.running : 'false';
    return {
      name: app,
      createdAt: intOrNull(a['created-at']) === null ? null : intOrNull(a['created-at'])! * 1000,
      deploySource: a['deploy-source'] ?? '',
      deploySourceMetadata: a['deploy-source-metadata'] ?? '',
      locked: bool(a.locked),
      deployed: bool(ps.deployed),
      running,
      processes: Math.max(0, intOrNull(ps.processes) ?? 0),
      containers,
      vhosts: list(domains['app-vhosts'], /\s+/),
      gitSha: git.sha ?? '',
      sourceImage: git['source-image'] ?? '',
    };
  }

  // ---- deploys (plugins/git, plugins/builds) ------------------------------------------------

  private deployResult(r: { lines: string[] }, buildId: string | null): DokkuDeployResult {
    return { buildId, urls: parseDeployedUrls(r.lines), lines: r.lines };
  }

  /** git:from-image <app> <image> (cmd-git-from-image): a build + deploy under the app's deploy lock. */
  async deployFromImage(app: AppName, image: ImageRef, o: RunOptions = {}): Promise<DokkuDeployResult> {
    const r = await this.run(['git:from-image', app, image], { ...o, app, timeoutMs: o.timeoutMs ?? DEPLOY_TIMEOUT });
    return this.deployResult(r, null);
  }

  /** git:sync --build <app> <repo> <ref> (cmd-git-sync): clone/fetch, then receive-app. */
  async syncFromGit(app: AppName, repo: GitRepoUrl, ref: GitRef, o: RunOptions = {}): Promise<DokkuDeployResult> {
    const r = await this.run(['git:sync', '--build', app, repo, ref], { ...o, app, timeoutMs: o.timeoutMs ?? DEPLOY_TIMEOUT });
    return this.deployResult(r, null);
  }

  /** builds:cancel <app> (CommandCancel): SIGQUIT to the running build's group; "App not currently deploying" is success. */
  async cancelBuild(app: AppName): Promise<{ cancelled: boolean; message: string }> {
    const r = await this.run(['builds:cancel', app], { app, quiet: true });
    const message = r.lines.map((l) => l.replace(/^-----> /, '')).join(' ').trim();
    return { cancelled: /Killing app deploy|marking failed/.test(message), message };
  }

  /** builds:list <app> --format json (CommandList, listView): newest first, running ones on top. */
  async listBuilds(app: AppName): Promise<DokkuBuild[]> {
    const r = await this.run(['builds:list', app, '--format', 'json'], { app, quiet: true });
    return parseJsonArray(r.stdout, 'builds:list').map((raw) => {
      const b = raw as Record<string, unknown>;
      const t = (v: unknown) => (typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? Date.parse(v) : null);
      return {
        id: String(b.id ?? ''), app: String(b.app ?? app), kind: b.kind === 'deploy' ? 'deploy' : 'build', pid: Number(b.pid ?? 0),
        startedAt: t(b.started_at) ?? 0, finishedAt: t(b.finished_at), status: String(b.status ?? 'running') as DokkuBuild['status'],
        displayStatus: String(b.display_status ?? b.status ?? 'running') as DokkuBuild['displayStatus'], source: String(b.source ?? 'unknown'),
        exitCode: typeof b.exit_code === 'number' ? b.exit_code : null, duration: String(b.duration ?? ''),
      };
    });
  }

  /** builds:output <app> <id> (CommandOutput): the build's log, cleaned and redacted. */
  async buildOutput(app: AppName, id: BuildId, o: RunOptions = {}): Promise<string[]> {
    const r = await this.run(['builds:output', app, id], { ...o, app, timeoutMs: 120_000 });
    return r.lines;
  }

  // ---- processes (plugins/ps) ---------------------------------------------------------------

  async ps(action: 'start' | 'stop' | 'restart' | 'rebuild', app: AppName, o: RunOptions = {}): Promise<string[]> {
    return (await this.run([`ps:${action}`, app], { ...o, app, timeoutMs: o.timeoutMs ?? DEPLOY_TIMEOUT })).lines;
  }

  /** ps:scale <app> --format json (scaleReport): `[{process_type, quantity}]`. */
  async scaleReport(app: AppName): Promise<Record<string, number>> {
    const r = await this.run(['ps:scale', app, '--format', 'json'], { app, quiet: true });
    const out: Record<string, number> = {};
    for (const f of parseJsonArray(r.stdout, 'ps:scale') as { process_type?: unknown; quantity?: unknown }[]) {
      if (typeof f.process_type === 'string' && typeof f.quantity === 'number') out[f.process_type] = f.quantity;
    }
    return out;
  }

  async scale(app: AppName, entries: readonly (readonly [ProcessType, number])[], o: RunOptions & { skipDeploy?: boolean } = {}): Promise<string[]> {
    const tuples = entries.map(([p, n]) => {
      if (!Number.isInteger(n) || n < 0) throw new TypeError('a process count is a non-negative integer');
      return `${p}=${n}`;
    });
    return (await this.run(['ps:scale', ...(o.skipDeploy ? ['--skip-deploy'] : []), app, ...tuples], { ...o, app, timeoutMs: o.timeoutMs ?? DEPLOY_TIMEOUT })).lines;
  }

  // ---- config (plugins/config) --------------------------------------------------------------

  /** config:export <app> --format json (Env.JSONString): the app's own variables. Values are secrets until the caller decides. */
  async configExport(app: AppName): Promise<Record<string, string>> {
    const r = await this.run(['config:export', app, '--format', 'json'], { app, quiet: true });
    return parseJsonObject(r.stdout.trim() === '' ? '{}' : r.stdout, 'config:export');
  }

  /** config:keys <app>: names only, for callers that must not read values. */
  async configKeys(app: AppName): Promise<string[]> {
    return Object.keys(await this.configExport(app)).sort();
  }

  /**
   * config:set [--no-restart] --encoded <app> KEY=base64… (SubSet decodes with base64.StdEncoding):
   * values of any content become plain words. Dokku prints the values it set (SetMany,
   * prettyPrintEnvEntries), so all of them are redacted from the lines.
   */
  async configSet(app: AppName, set: Readonly<Record<EnvKey, string>>, o: RunOptions & { restart: boolean }): Promise<string[]> {
    const pairs = Object.entries(set) as [EnvKey, string][];
    if (!pairs.length) return [];
    const values = pairs.map(([, v]) => v);
    const args = ['config:set', ...(o.restart ? [] : ['--no-restart']), '--encoded', app, ...pairs.map(([k, v]) => `${k}=${Buffer.from(v, 'utf8').toString('base64')}`)];
    const hide = valueHider(new Set(pairs.map(([k]) => k as string)));
    const secrets = [...(o.secrets ?? []), ...values];
    const r = await this.run(args, {
      ...o, app, secrets, timeoutMs: o.timeoutMs ?? DEPLOY_TIMEOUT,
      show: { argv: (argv) => argv.map((a) => (/^[A-Za-z_][A-Za-z0-9_]*=/.test(a) ? `${a.split('=')[0]}=[redacted]` : a)), line: hide },
    });
    return r.lines;
  }

  /** config:unset [--no-restart] <app> KEY… (SubUnset/UnsetMany). */
  async configUnset(app: AppName, keys: readonly EnvKey[], o: RunOptions & { restart: boolean }): Promise<string[]> {
    if (!keys.length) return [];
    return (await this.run(['config:unset', ...(o.restart ? [] : ['--no-restart']), app, ...keys], { ...o, app, timeoutMs: o.timeoutMs ?? DEPLOY_TIMEOUT })).lines;
  }

  // ---- domains (plugins/domains) ------------------------------------------------------------

  async domains(app: AppName): Promise<string[]> {
    return (await this.report(app)).vhosts;
  }
  async domainsChange(action: 'add' | 'remove' | 'set', app: AppName, domains: readonly Hostname[], o: RunOptions = {}): Promise<string[]> {
    if (!domains.length) throw new TypeError('at least one domain');
    return (await this.run([`domains:${action}`, app, ...domains], { ...o, app, timeoutMs: 5 * 60_000 })).lines;
  }

  // ---- letsencrypt (dokku-letsencrypt) ------------------------------------------------------

  /** letsencrypt:report <app> --format json (fn-letsencrypt-report-emit-json); expiration is epoch seconds. */
  async letsencryptReport(app: AppName): Promise<LetsencryptReport> {
    const r = parseJsonObject((await this.run(['letsencrypt:report', app, '--format', 'json'], { app, quiet: true })).stdout, 'letsencrypt:report');
    const exp = intOrNull(r.expiration);
    return { active: bool(r.active), email: r['computed-email'] ?? r.email ?? '', expiresAt: exp === null ? null : exp * 1000 };
  }
  async letsencryptSetEmail(app: AppName, email: string): Promise<void> {
    if (!/^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}@[A-Za-z0-9][A-Za-z0-9.-]{0,252}\.[A-Za-z]{2,}$/.test(email)) throw new TypeError('not an e-mail address');
    await this.run(['letsencrypt:set', app, 'email', email], { app, quiet: true });
  }
  async letsencryptEnable(app: AppName, o: RunOptions = {}): Promise<string[]> {
    return (await this.run(['letsencrypt:enable', app], { ...o, app, timeoutMs: 10 * 60_000 })).lines;
  }
  async letsencryptDisable(app: AppName, o: RunOptions = {}): Promise<string[]> {
    return (await this.run(['letsencrypt:disable', app], { ...o, app, timeoutMs: 5 * 60_000 })).lines;
  }

  // ---- checks (plugins/checks) --------------------------------------------------------------

  /** checks:report <app> --format json: `disabled-list`/`skipped-list` are comma lists (`none` when empty; `_all_` = every type). */
  async checksReport(app: AppName): Promise<ChecksReport> {
    const r = parseJsonObject((await this.run(['checks:report', app, '--format', 'json'], { app, quiet: true })).stdout, 'checks:report');
    return {
      disabled: list(r['disabled-list'], /,/), skipped: list(r['skipped-list'], /,/),
      waitToRetire: intOrNull(r['wait-to-retire']), computedWaitToRetire: intOrNull(r['computed-wait-to-retire']),
    };
  }
  async checksChange(action: 'enable' | 'disable' | 'skip', app: AppName, processTypes: readonly ProcessType[] = []): Promise<string[]> {
    return (await this.run([`checks:${action}`, app, ...(processTypes.length ? [processTypes.join(',')] : [])], { app })).lines;
  }
  async checksSetWaitToRetire(app: AppName, seconds: number | null): Promise<void> {
    if (seconds !== null && (!Number.isInteger(seconds) || seconds < 0 || seconds > 86_400)) throw new TypeError('wait-to-retire is 0-86400 seconds');
    await this.run(['checks:set', app, 'wait-to-retire', ...(seconds === null ? [] : [String(seconds)])], { app });
  }

  // ---- ports (plugins/ports) ----------------------------------------------------------------

  /** ports:report <app> --format json: `map-json` / `map-detected-json` hold `[{container_port, host_port, scheme}]`. */
  async portsReport(app: AppName): Promise<{ map: PortMapping[]; detected: PortMapping[] }> {
    const r = parseJsonObject((await this.run(['ports:report', app, '--format', 'json'], { app, quiet: true })).stdout, 'ports:report');
    const maps = (s: string | undefined): PortMapping[] => {
      if (!s) return [];
      try {
        const v = JSON.parse(s) as unknown;
        if (!Array.isArray(v)) return [];
        return v.map((m: Record<string, unknown>) => ({ scheme: String(m.scheme), hostPort: Number(m.host_port), containerPort: Number(m.container_port) }));
      } catch {
        throw new DokkuOutputError('unreadable ports map JSON', s);
      }
    };
    return { map: maps(r['map-json']), detected: maps(r['map-detected-json']) };
  }
  async portsChange(action: 'add' | 'set' | 'remove', app: AppName, maps: readonly PortMap[]): Promise<string[]> {
    if (!maps.length) throw new TypeError('at least one port map');
    return (await this.run([`ports:${action}`, app, ...maps], { app })).lines;
  }
  async portsClear(app: AppName): Promise<void> {
    await this.run(['ports:clear', app], { app });
  }

  // ---- logs (plugins/logs) ------------------------------------------------------------------

  /** logs <app> --tail --num N: a live stream of the app's log lines, cleaned and redacted. */
  logs(app: AppName, o: { lines?: number; signal?: AbortSignal; secrets?: readonly string[] } = {}): StreamHandle {
    const n = Math.min(Math.max(Math.trunc(o.lines ?? 100), 0), 10_000);
    const args = ['logs', app, '--tail', '--num', String(n)];
    assertPlainArgv(args);
    const h = this.opts.newSession ? this.runner.stream('setsid', [this.bin, ...args], { signal: o.signal }) : this.runner.stream(this.bin, args, { signal: o.signal });
    const secrets = o.secrets ?? [];
    async function* cleaned() {
      for await (const { line, stream } of h.lines) yield { line: redact(cleanLine(line), secrets), stream };
    }
    return { lines: cleaned(), stop: h.stop, done: h.done };
  }
}

/**
 * config:set prints `       KEY:   value` for each key it set (SetMany, prettyPrintEnvEntries),
 * a multi-line value continuing on the following lines: every value line of the block is hidden.
 */
function valueHider(keys: ReadonlySet<string>): (line: string) => string {
  let inBlock = false;
  return (line) => {
    if (/^(-----|=====)> /.test(line)) {
      inBlock = line === '-----> Setting config vars';
      return line;
    }
    if (!inBlock) return line;
    const m = /^(\s+)([A-Za-z_][A-Za-z0-9_]*):(\s+)(.*)$/.exec(line);
    if (m && keys.has(m[2]!)) return `${m[1]}${m[2]}:${m[3]}[redacted]`;
    return line.trim() === '' ? line : '       [redacted]';
  };
}
