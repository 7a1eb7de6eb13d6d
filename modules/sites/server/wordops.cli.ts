import { ExecError, type ExecResult, type JobExecOptions, type ProcessRunner, redactSecrets, redactSecretsText } from '../../../server/src/sdk.js';
import type { CacheType, Domain, PhpVersion, SiteType } from './sites.schema.js';

/**
 * The only file that knows `wo`'s argv and output (WordOps, github.com/WordOps/WordOps,
 * wo/cli/plugins/site*.py). Values reach argv only as typed, allow-listed data: the domain is a
 * validated `Domain` (never starting with `-`) placed where WordOps' own tests put it, and every
 * option value is glued to its option (`--user=…`) so it can never be read as another option.
 */

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

/** WordOps colours everything (wo/core/logging.py); progress steps rewrite the line with `\r`. */
export function cleanLine(raw: string): string {
  const parts = raw.replace(ANSI, '').split('\r').filter((p) => p.trim() !== '');
  return (parts.pop() ?? '').trimEnd();
}

export function stripAnsi(text: string): string {
  return text.split('\n').map(cleanLine).join('\n');
}

/*
 * Secrets WordOps prints: `WordPress admin password : …` (site_create.py 534), `HTTP Auth
 * Password : …` on a fresh stack (stack_pref.py 398-404), `DB_PASS\t\t\t …` in `wo site info`,
 * and whatever a future version adds: redacted by the platform's pattern (`redactSecrets`), never
 * by known message.
 */

export interface WoSiteInfo {
  domain: Domain;
  type: string;
  cache: string | null;
  enabled: boolean;
  php: string | null;
  ssl: boolean;
  sslProvider: string | null;
  /** `SSL EXPIRY DATE` in `wo site info` is a number of days (sslutils.py getexpirationdays), -1 once expired. */
  sslDaysLeft: number | null;
  accessLog: string | null;
  errorLog: string | null;
  webroot: string | null;
  dbName: string | null;
}

/** `wo site list [--enabled|--disabled]`: one site name per line (site.py 454-484). */
export function parseSiteList(stdout: string): Domain[] {
  return stripAnsi(stdout).split('\n').map((l) => l.trim()).filter((l) => /^[a-z0-9.-]+\.[a-z0-9-]+$/.test(l)) as Domain[];
}

/** PHP sites created with a bare `--php83` are recorded by WordOps with type "php83". */
export function normalizeSiteType(t: string): string {
  return /^php\d\d$/.test(t) ? 'php' : t;
}

/** `wo site info <domain>`: templates/siteinfo.mustache rendered by site.py 124-176. */
export function parseSiteInfo(domain: Domain, stdout: string): WoSiteInfo {
  const fields = new Map<string, string>();
  for (const raw of stripAnsi(stdout).split('\n')) {
    const m = /^([A-Za-z_][A-Za-z_ ]*?)\t+\s?(.*)$/.exec(raw);
    if (m) fields.set(m[1]!.trim(), m[2]!.trim());
  }
  const nginx = fields.get('Nginx configuration');
  if (!nginx) throw new WordOpsOutputError(`unexpected \`wo site info\` output for ${domain}`, stdout);
  const nm = /^(\S+)\s+(\S*)\s*\((enabled|disabled)\)/.exec(nginx);
  if (!nm) throw new WordOpsOutputError(`unexpected "Nginx configuration" value: ${nginx}`, stdout);
  const orNull = (k: string) => {
    const v = fields.get(k);
    return v && v !== 'None' && v !== 'deleted' ? v : null;
  };
  const expiry = orNull('SSL EXPIRY DATE');
  return {
    domain,
    type: normalizeSiteType(nm[1]!),
    cache: nm[2] ? nm[2] : null,
    enabled: nm[3] === 'enabled',
    php: orNull('PHP Version'),
    ssl: fields.get('SSL') === 'enabled',
    sslProvider: orNull('SSL PROVIDER'),
    sslDaysLeft: expiry !== null && /^-?\d+$/.test(expiry) ? Number(expiry) : null,
    accessLog: orNull('access_log'),
    errorLog: orNull('error_log'),
    webroot: orNull('Webroot'),
    dbName: orNull('DB_NAME'),
  };
}

// ---- typed failures -----------------------------------------------------------------------

export class WordOpsError extends Error {
  constructor(message: string, readonly argv: readonly string[], readonly exitCode: number | null, readonly output: string) {
    super(message);
    this.name = new.target.name;
  }
}
export class WordOpsOutputError extends Error {
  constructor(message: string, readonly output: string) {
    super(message);
    this.name = 'WordOpsOutputError';
  }
}
/** "site x does not exist" (site.py 62, 143, 348; site_update.py 190). */
export class WoSiteNotFoundError extends WordOpsError {}
/** "site x already exists" (site_create.py 170-175). */
export class WoSiteExistsError extends WordOpsError {}
/** argparse rejections and "Please provide valid options…" (site_create.py 117-120). */
export class WoInvalidOptionsError extends WordOpsError {}
/** Let's Encrypt issuance, deployment or renewal failed (acme.py 90-111, 113-140, 170-179). */
export class WoCertificateError extends WordOpsError {}
/** WordOps refused because nothing would change ("can not update…", "SSL is already configured…"). */
export class WoNoChangeError extends WordOpsError {}
/** Anything else: nginx check/reload failed, "Update site failed", unexpected exit status. */
export class WoCommandFailedError extends WordOpsError {}

const FAILURES: [RegExp, new (m: string, a: readonly string[], c: number | null, o: string) => WordOpsError][] = [
  [/^\s*site \S+ does not exist|^\s*Site \S+ does not exist\./m, WoSiteNotFoundError],
  [/^site \S+ already exists|^Nginx configuration \S+ already exists/m, WoSiteExistsError],
  [/unrecognized arguments|invalid choice|expected one argument|ignored explicit argument|Please provide valid options|should not be used with other site types|can not be used with other site types/, WoInvalidOptionsError],
  [/acme\.sh was unable to issue|DNS API credentials|Aborting SSL certificate issuance|Unable to renew certificate|Unable to deploy certificate|Issuing SSL cert with acme\.sh\s+\[KO\]/, WoCertificateError],
  [/can not update \S+|SSL is already configured|SSL is not configured|HTTPS is not configured|expire in more than 30 days|Certificate doesn't exist/, WoNoChangeError],
  [/Update site failed|service nginx reload failed|Testing Nginx configuration\s+\[KO\]|There was a serious error|\[Failed\]/, WoCommandFailedError],
];

/**
 * WordOps reports errors on stdout (Log.error uses print) and some failures exit 0
 * (site_update.py 285-288 returns 1 from a helper whose result is ignored): the output decides.
 */
export function classifyFailure(argv: readonly string[], exitCode: number, output: string): WordOpsError | null {
  // What becomes a job's error and an API message is redacted like the live log.
  const text = redactSecretsText(stripAnsi(output));
  for (const [re, Cls] of FAILURES) {
    const m = re.exec(text);
    if (m) return new Cls(summarize(text, m.index), argv, exitCode, text);
  }
  if (exitCode !== 0) return new WoCommandFailedError(summarize(text, text.length) || `wo exited with status ${exitCode}`, argv, exitCode, text);
  return null;
}

function summarize(text: string, at: number): string {
  const lines = text.slice(at).split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.slice(0, 2).join(' ').slice(0, 300) || text.trim().split('\n').slice(-2).join(' ').slice(0, 300);
}

// ---- argv ---------------------------------------------------------------------------------

const phpFlag = (v: PhpVersion) => `--php${v.replace('.', '')}`;
const cacheFlag = (c: CacheType) => (c === 'basic' ? [] : [`--${c}`]);

export interface WoCreateOptions {
  type: SiteType;
  php?: PhpVersion;
  cache?: CacheType;
  letsencrypt: 'off' | 'on' | 'subdomain' | 'wildcard';
  dnsProvider?: string;
  hsts: boolean;
  adminUser?: string;
  adminEmail?: string;
  proxy?: { host: string; port: number };
}

/** site_create.py 28-107 for the options; detSitePar (site_functions.py 1071-1375) for combinations. */
export function createArgs(domain: Domain, o: WoCreateOptions): string[] {
  const args = ['site', 'create', domain];
  const wp = o.type === 'wp' || o.type === 'wpsubdir' || o.type === 'wpsubdomain';
  switch (o.type) {
    case 'html': args.push('--html'); break;
    // `--php --php83` is not a combination detSitePar knows: a version flag alone makes a PHP site.
    case 'php': args.push(...(o.php ? [] : ['--php'])); break;
    case 'mysql': args.push('--mysql'); break;
    case 'proxy': args.push(`--proxy=${o.proxy!.host}:${o.proxy!.port}`); break;
    default: args.push(`--${o.type}`);
  }
  if (o.php && o.type !== 'html' && o.type !== 'proxy') args.push(phpFlag(o.php));
  if (wp && o.cache) args.push(...cacheFlag(o.cache));
  if (wp && o.adminUser) args.push(`--user=${o.adminUser}`);
  if (wp && o.adminEmail) args.push(`--email=${o.adminEmail}`);
  if (o.letsencrypt !== 'off') {
    args.push(`--letsencrypt=${o.letsencrypt}`);
    if (o.dnsProvider) args.push(`--dns=${o.dnsProvider}`);
    if (o.hsts) args.push('--hsts');
  }
  return args;
}

export type WoUpdate =
  | { kind: 'php'; php: PhpVersion }
  | { kind: 'cache'; siteType: SiteType; cache: CacheType }
  | { kind: 'ssl'; on: true; mode: 'on' | 'subdomain' | 'wildcard'; dnsProvider?: string }
  | { kind: 'ssl'; on: false }
  | { kind: 'hsts'; on: boolean }
  | { kind: 'renew' };

/** site_update.py 26-104. */
export function updateArgs(domain: Domain, u: WoUpdate): string[] {
  const base = ['site', 'update', domain];
  switch (u.kind) {
    case 'php': return [...base, phpFlag(u.php)];
    case 'cache': return [...base, `--${u.siteType}`, ...cacheFlag(u.cache)];
    case 'ssl': return u.on ? [...base, `--letsencrypt=${u.mode}`, ...(u.dnsProvider ? [`--dns=${u.dnsProvider}`] : [])] : [...base, '--letsencrypt=off'];
    case 'hsts': return [...base, `--hsts=${u.on ? 'on' : 'off'}`];
    case 'renew': return [...base, '--letsencrypt=renew'];
  }
}

/**
 * site.py 303-451. `--no-prompt` because there is no terminal. Keeping the database or the files
 * needs `--force`: without it WordOps keeps the site record until both are gone (site.py 431-437).
 */
export function deleteArgs(domain: Domain, o: { keepDatabase: boolean; keepFiles: boolean }): string[] {
  if (o.keepDatabase && o.keepFiles) throw new TypeError('keeping both database and files is a disable, not a delete');
  if (o.keepDatabase) return ['site', 'delete', domain, '--files', '--force'];
  if (o.keepFiles) return ['site', 'delete', domain, '--db', '--force'];
  return ['site', 'delete', domain, '--all', '--no-prompt'];
}

const STANDARD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Only for callers without a job's runner: a job step builds the adapter on `ctx.runner(hostId)`,
 * which shows the argv and each cleaned, redacted line in the job log and kills `wo` on cancel.
 */
export interface WoExecOptions {
  /** Each cleaned, redacted output line as it arrives. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  signal?: AbortSignal;
  /** The argv about to run. */
  onCommand?: (argv: readonly string[]) => void;
}

/** A job log's view of `wo`'s output: no colours, no blank lines, secrets redacted. */
function shownLine(line: string): string | null {
  const clean = cleanLine(line);
  return clean ? redactSecrets(clean) : null;
}
/** Read commands (site list/info) print nothing into a job log. */
const QUIET: JobExecOptions = { logLine: () => null };

export interface WoResult {
  argv: readonly string[];
  /** Cleaned, redacted output lines. */
  lines: string[];
  durationMs: number;
  /**
   * The WordPress admin credentials `wo site create` printed (`WordPress admin user : …` and
   * `WordPress admin password : …`, site_create.py 531-535): for the caller to seal, never to log.
   */
  wpAdmin?: { user: string; password: string };
}

/** What `wo site create` prints about the WordPress admin (before redaction). */
export function parseWpAdmin(output: string): { user: string; password: string } | undefined {
  const text = stripAnsi(output);
  const password = /^WordPress admin password\s*:\s*(\S+)\s*$/m.exec(text)?.[1];
  if (!password) return undefined;
  return { user: /^WordPress admin user\s*:\s*(\S+)\s*$/m.exec(text)?.[1] ?? 'admin', password };
}

/**
 * WordOps puts the new password into a shell command (`wp user update <user> --user_pass=<pass>`,
 * site_functions.py updatewpuserpassword): only letters and digits ever reach it.
 */
const WP_PASSWORD = /^[A-Za-z0-9]{16,64}$/;
const WP_USER = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,59}$/;

export class WordOpsCli {
  constructor(
    private readonly run: ProcessRunner,
    private readonly opts: { bin?: string; binDir?: string; timeoutMs?: number; readTimeoutMs?: number } = {},
  ) {}

  /**
   * WordOps installs `wo` in /usr/local/bin, which a non-login SSH session may not have on PATH:
   * `binDir` puts that directory first (also how tests point at the fake `wo`).
   */
  private get env(): Record<string, string> | undefined {
    return this.opts.binDir ? { PATH: `${this.opts.binDir}:${STANDARD_PATH}` } : undefined;
  }

  get host(): string {
    return this.run.host;
  }

  private async wo(args: string[], exec: WoExecOptions = {}, timeoutMs = this.opts.timeoutMs ?? 30 * 60_000, input?: string): Promise<WoResult> {
    const bin = this.opts.bin ?? 'wo';
    let result: ExecResult;
    exec.onCommand?.([bin, ...args]);
    try {
      result = await this.run.exec(bin, args, {
        timeoutMs,
        env: this.env,
        signal: exec.signal,
        okExitCodes: [0, 1, 2],
        ...(input !== undefined ? { input } : {}),
        job: { announce: `$ ${[bin, ...args].join(' ')}`, logLine: shownLine },
        onLine: exec.onLine ? (line, stream) => {
          const shown = shownLine(line);
          if (shown) exec.onLine!(shown, stream);
        } : undefined,
      });
    } catch (e) {
      if (e instanceof ExecError && e.reason === 'exit') {
        throw new WoCommandFailedError(redactSecretsText(e.message), e.argv, e.exitCode, redactSecretsText(e.stderr));
      }
      throw e;
    }
    const output = `${result.stdout}\n${result.stderr}`;
    const failure = classifyFailure(result.argv, result.exitCode, output);
    if (failure) throw failure;
    const lines = stripAnsi(output).split('\n').map(redactSecrets).filter((l) => l.trim() !== '');
    const wpAdmin = args[0] === 'site' && args[1] === 'create' ? parseWpAdmin(result.stdout) : undefined;
    return { argv: result.argv, lines, durationMs: result.durationMs, ...(wpAdmin ? { wpAdmin } : {}) };
  }

  async listSites(filter?: 'enabled' | 'disabled'): Promise<Domain[]> {
    const args = ['site', 'list', ...(filter ? [`--${filter}`] : [])];
    const r = await this.run.exec(this.opts.bin ?? 'wo', args, { timeoutMs: this.opts.readTimeoutMs ?? 60_000, env: this.env, job: QUIET });
    return parseSiteList(r.stdout);
  }

  async siteInfo(domain: Domain): Promise<WoSiteInfo> {
    const args = ['site', 'info', domain];
    const r = await this.run.exec(this.opts.bin ?? 'wo', args, { timeoutMs: this.opts.readTimeoutMs ?? 60_000, okExitCodes: [0, 1], env: this.env, job: QUIET });
    const failure = classifyFailure(r.argv, r.exitCode, `${r.stdout}\n${r.stderr}`);
    // An SSL site whose certificate file is missing still prints its info before the error.
    if (failure && !(failure instanceof WoCommandFailedError && /Nginx configuration/.test(r.stdout))) throw failure;
    return parseSiteInfo(domain, r.stdout);
  }

  createSite(domain: Domain, o: WoCreateOptions, exec?: WoExecOptions): Promise<WoResult> {
    return this.wo(createArgs(domain, o), exec);
  }

  updateSite(domain: Domain, u: WoUpdate, exec?: WoExecOptions): Promise<WoResult> {
    return this.wo(updateArgs(domain, u), exec);
  }

  setEnabled(domain: Domain, enabled: boolean, exec?: WoExecOptions): Promise<WoResult> {
    return this.wo(['site', enabled ? 'enable' : 'disable', domain], exec);
  }

  /**
   * `wo site update <domain> --password`: WordOps asks for the user name (input()) and the password
   * (getpass, which reads stdin without a terminal), so both go on stdin, never in argv.
   */
  setWpPassword(domain: Domain, user: string, password: string, exec?: WoExecOptions): Promise<WoResult> {
    if (!WP_USER.test(user)) throw new TypeError('invalid WordPress user name');
    if (!WP_PASSWORD.test(password)) throw new TypeError('the WordPress password must be 16-64 letters and digits');
    return this.wo(['site', 'update', domain, '--password'], exec, this.opts.timeoutMs ?? 5 * 60_000, `${user}\n${password}\n`);
  }

  deleteSite(domain: Domain, o: { keepDatabase: boolean; keepFiles: boolean }, exec?: WoExecOptions): Promise<WoResult> {
    return this.wo(deleteArgs(domain, o), exec);
  }
}
