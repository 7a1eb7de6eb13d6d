import { assertPathUnder, ExecError, type ProcessRunner } from '../../../server/src/sdk.js';
import { type Iqn, type IpAddress, type Ipv4Cidr, parseIp, parseIpv4Cidr, parseIqn } from './netboot.schema.js';

/**
 * The only file that knows `tgtadm` (tgt 1.0.85, Debian's `tgt`): targets, logical units and
 * initiator ACLs of the running `tgtd`. Every value reaches argv as a branded, validated type
 * (IQN, address, tid/lun integers, a backing-store path under the export root) and always as the
 * separate argument after its option, so it can never be read as another option.
 *
 * `--op show --mode target` output: usr/target.c `tgt_target_show_all` (format reproduced in
 * test-fixtures/tgtadm-show-target.txt, recorded from tgtd here). Errors: usr/tgtadm.c
 * `tgtadm_strerror` messages on stderr, exit status 22 (EINVAL) for refused requests and 107
 * (ENOTCONN) when no tgtd listens.
 */

export interface TgtConnection {
  cid: number;
  address: string;
}
/** An I_T nexus: one initiator logged in (its connections carry the peer address). */
export interface TgtSession {
  nexus: number;
  initiator: string;
  alias: string | null;
  connections: TgtConnection[];
}
export interface TgtLun {
  lun: number;
  type: string;
  /** As tgt prints it ("Size: 4 MB"): megabytes, rounded down. */
  sizeMb: number;
  blockSize: number;
  online: boolean;
  readonly: boolean;
  backingStoreType: string;
  /** null for the controller (LUN 0), whose path tgt prints as "None". */
  backingStorePath: string | null;
  backingStoreFlags: string[];
}
export interface TgtTarget {
  tid: number;
  iqn: string;
  driver: string;
  state: string;
  sessions: TgtSession[];
  luns: TgtLun[];
  accounts: string[];
  /** Initiator addresses, networks, names or ALL, in the order they were bound. */
  acl: string[];
}

export class TgtOutputError extends Error {
  constructor(message: string, readonly output: string) {
    super(message);
    this.name = 'TgtOutputError';
  }
}

type Section = 'system' | 'nexus' | 'lun' | 'account' | 'acl' | null;

/** Parses `tgtadm --lld iscsi --op show --mode target` into typed targets. */
export function parseShowTargets(stdout: string): TgtTarget[] {
  const targets: TgtTarget[] = [];
  let t: TgtTarget | null = null;
  let section: Section = null;
  let session: TgtSession | null = null;
  let lun: TgtLun | null = null;
  let cid: number | null = null;
  for (const raw of stdout.split('\n')) {
    const line = raw.replace(/\s+$/, '');
    if (!line.trim()) continue;
    const head = /^Target (\d+): (\S+)$/.exec(line);
    if (head) {
      t = { tid: Number(head[1]), iqn: head[2]!, driver: '', state: '', sessions: [], luns: [], accounts: [], acl: [] };
      targets.push(t);
      section = null;
      session = null;
      lun = null;
      continue;
    }
    if (!t) throw new TgtOutputError(`unexpected line before any target: ${line.slice(0, 80)}`, stdout);
    const s = line.trim();
    if (/^ {4}\S/.test(line) && s.endsWith(':')) {
      section = ({ 'System information:': 'system', 'I_T nexus information:': 'nexus', 'LUN information:': 'lun', 'Account information:': 'account', 'ACL information:': 'acl' } as const)[s] ?? null;
      if (section === null) throw new TgtOutputError(`unknown section ${s}`, stdout);
      continue;
    }
    const kv = /^([A-Za-z_ /-]+?):\s?(.*)$/.exec(s);
    switch (section) {
      case 'system':
        if (kv?.[1] === 'Driver') t.driver = kv[2]!.trim();
        else if (kv?.[1] === 'State') t.state = kv[2]!.trim();
        break;
      case 'nexus': {
        let m: RegExpExecArray | null;
        if ((m = /^I_T nexus: (\d+)$/.exec(s))) {
          session = { nexus: Number(m[1]), initiator: '', alias: null, connections: [] };
          t.sessions.push(session);
          cid = null;
        } else if ((m = /^Initiator: (\S+)(?: alias: (.*))?$/.exec(s)) && session) {
          session.initiator = m[1]!;
          session.alias = m[2] && m[2] !== 'none' ? m[2] : null;
        } else if ((m = /^Connection: (\d+)$/.exec(s)) && session) {
          cid = Number(m[1]);
        } else if ((m = /^IP Address: (\S+)$/.exec(s)) && session && cid !== null) {
          session.connections.push({ cid, address: m[1]! });
        }
        break;
      }
      case 'lun': {
        if (kv?.[1] === 'LUN') {
          lun = { lun: Number(kv[2]), type: '', sizeMb: 0, blockSize: 0, online: false, readonly: false, backingStoreType: '', backingStorePath: null, backingStoreFlags: [] };
          t.luns.push(lun);
          break;
        }
        if (!lun || !kv) break;
        const v = kv[2]!.trim();
        const sz = /^(\d+) MB, Block size: (\d+)$/.exec(v);
        if (kv[1] === 'Size' && sz) {
          lun.sizeMb = Number(sz[1]);
          lun.blockSize = Number(sz[2]);
        } else if (kv[1] === 'Type') lun.type = v;
        else if (kv[1] === 'Online') lun.online = v === 'Yes';
        else if (kv[1] === 'Readonly') lun.readonly = v === 'Yes';
        else if (kv[1] === 'Backing store type') lun.backingStoreType = v;
        else if (kv[1] === 'Backing store path') lun.backingStorePath = v && v !== 'None' ? v : null;
        else if (kv[1] === 'Backing store flags') lun.backingStoreFlags = v ? v.split(/[:\s]+/).filter(Boolean) : [];
        break;
      }
      case 'account':
        t.accounts.push(s);
        break;
      case 'acl':
        t.acl.push(s);
        break;
      default:
        throw new TgtOutputError(`unexpected line outside a section: ${line.slice(0, 80)}`, stdout);
    }
  }
  return targets;
}

// ---- typed failures -----------------------------------------------------------------------

export type TgtErrorKind =
  | 'no_target' | 'no_lun' | 'target_exists' | 'lun_exists' | 'acl_exists' | 'acl_missing'
  | 'target_active' | 'account_exists' | 'no_account' | 'daemon_down' | 'invalid_request' | 'other';

const KINDS: [RegExp, TgtErrorKind][] = [
  [/can't find the target/, 'no_target'],
  [/can't find the logical unit/, 'no_lun'],
  [/this target already exists/, 'target_exists'],
  [/this logical unit number already exists/, 'lun_exists'],
  [/this access control rule already exists/, 'acl_exists'],
  [/this access control rule does not exist/, 'acl_missing'],
  [/this target is still active/, 'target_active'],
  [/this account already exists/, 'account_exists'],
  [/can't find the account/, 'no_account'],
  [/failed to send request hdr to tgt daemon|can't connect to the tgt daemon|Transport endpoint is not connected|Connection refused/, 'daemon_down'],
  [/invalid request|invalid argument|unknown parameter/i, 'invalid_request'],
];

/** A refused or failed tgtadm request: the ExecError (argv, exit code, stderr) with its kind. */
export class TgtError extends ExecError {
  constructor(readonly kind: TgtErrorKind, e: ExecError) {
    super(e.argv, e.exitCode, e.stderr, e.reason, e.host);
    this.name = 'TgtError';
  }
}

export function classifyTgtError(e: ExecError): TgtError {
  const kind = KINDS.find(([re]) => re.test(e.stderr))?.[1] ?? 'other';
  return new TgtError(kind, e);
}

// ---- the adapter --------------------------------------------------------------------------

export interface TgtCliOptions {
  /** Backing stores must be files under this directory (the writeback exports). */
  backingRoot: string;
  /** Target ids this panel allocates from (inclusive). Other tids are never touched. */
  tidMin?: number;
  tidMax?: number;
  timeoutMs?: number;
}

function assertId(what: string, n: number, min: number, max: number): void {
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new RangeError(`${what} must be an integer ${min}-${max}, got ${String(n)}`);
}

export class TgtCli {
  readonly tidMin: number;
  readonly tidMax: number;
  private lock: Promise<unknown> = Promise.resolve();

  constructor(private readonly run: ProcessRunner, private readonly opts: TgtCliOptions) {
    this.tidMin = opts.tidMin ?? 1000;
    this.tidMax = opts.tidMax ?? 1999;
    assertId('tidMin', this.tidMin, 1, 0x7fffffff);
    assertId('tidMax', this.tidMax, this.tidMin, 0x7fffffff);
  }

  /**
   * `secret`: a value of argv (a CHAP password) that never leaves this method: a failure's argv
   * and stderr carry `[redacted]` in its place (they reach job logs and API errors).
   */
  private async tgtadm(args: string[], secret?: string): Promise<string> {
    try {
      return (await this.run.exec('tgtadm', ['--lld', 'iscsi', ...args], { timeoutMs: this.opts.timeoutMs ?? 15_000 })).stdout;
    } catch (e) {
      if (e instanceof ExecError) {
        const hide = (x: string) => (secret ? x.split(secret).join('[redacted]') : x);
        const clean = secret ? new ExecError(e.argv.map(hide), e.exitCode, hide(e.stderr), e.reason, e.host) : e;
        if (e.reason === 'exit') throw classifyTgtError(clean);
        throw clean;
      }
      throw e;
    }
  }

  private tid(tid: number): string {
    assertId('tid', tid, this.tidMin, this.tidMax);
    return String(tid);
  }

  /** Every target tgtd has (including ones outside this panel's tid range). */
  async listTargets(): Promise<TgtTarget[]> {
    return parseShowTargets(await this.tgtadm(['--mode', 'target', '--op', 'show']));
  }

  /** Targets in this panel's tid range only. */
  async listOwnTargets(): Promise<TgtTarget[]> {
    return (await this.listTargets()).filter((t) => t.tid >= this.tidMin && t.tid <= this.tidMax);
  }

  async findTarget(iqn: Iqn): Promise<TgtTarget | null> {
    parseIqn(iqn);
    return (await this.listTargets()).find((t) => t.iqn === iqn) ?? null;
  }

  /**
   * Creates a target with the lowest free tid of the range. tgtd itself is the record of which tids
   * are taken, so allocation needs no state of the panel's own and survives its restarts; calls are
   * serialised here, and a tid taken meanwhile by another process is skipped. An IQN already served
   * (in any tid) is a 'target_exists' TgtError.
   */
  async createTarget(iqn: Iqn): Promise<{ tid: number }> {
    parseIqn(iqn);
    const next = this.lock.then(async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const all = await this.listTargets();
        if (all.some((t) => t.iqn === iqn)) {
          throw new TgtError('target_exists', new ExecError(['tgtadm', '--op', 'new', '--targetname', iqn], 22, 'tgtadm: this target already exists'));
        }
        const used = new Set(all.map((t) => t.tid));
        let tid = this.tidMin;
        while (used.has(tid) && tid <= this.tidMax) tid++;
        if (tid > this.tidMax) throw new RangeError(`no free iSCSI target id in ${this.tidMin}-${this.tidMax}`);
        try {
          await this.tgtadm(['--mode', 'target', '--op', 'new', '--tid', this.tid(tid), '--targetname', iqn]);
          return { tid };
        } catch (e) {
          if (e instanceof TgtError && e.kind === 'target_exists') continue; // raced: look again
          throw e;
        }
      }
      throw new Error('could not allocate an iSCSI target id (contention)');
    });
    this.lock = next.catch(() => undefined);
    return next;
  }

  /** With `force`, also when initiators are still logged in (their sessions are dropped). */
  async deleteTarget(tid: number, o: { force?: boolean } = {}): Promise<void> {
    await this.tgtadm(['--mode', 'target', '--op', 'delete', ...(o.force ? ['--force'] : []), '--tid', this.tid(tid)]);
  }

  /**
   * A disk LUN backed by a file under the backing root (LUN 0 is tgt's controller, so machines
   * boot LUN 1). `bstype rdwr` is tgt's plain file backend.
   */
  async addLun(tid: number, backingStore: string, o: { lun?: number; readonly?: boolean } = {}): Promise<void> {
    const lun = o.lun ?? 1;
    assertId('lun', lun, 1, 255);
    const path = assertPathUnder(this.opts.backingRoot, backingStore);
    await this.tgtadm(['--mode', 'logicalunit', '--op', 'new', '--tid', this.tid(tid), '--lun', String(lun), '--backing-store', path, '--bstype', 'rdwr']);
    if (o.readonly) {
      await this.tgtadm(['--mode', 'logicalunit', '--op', 'update', '--tid', this.tid(tid), '--lun', String(lun), '--params', 'readonly=1']);
    }
  }

  async deleteLun(tid: number, lun = 1): Promise<void> {
    assertId('lun', lun, 1, 255);
    await this.tgtadm(['--mode', 'logicalunit', '--op', 'delete', '--tid', this.tid(tid), '--lun', String(lun)]);
  }

  /** Lets one initiator address (or an IPv4 network) log in. ALL is never bound by this adapter. */
  async bindAddress(tid: number, address: IpAddress | Ipv4Cidr): Promise<void> {
    await this.tgtadm(['--mode', 'target', '--op', 'bind', '--tid', this.tid(tid), '--initiator-address', addressOrNetwork(address)]);
  }

  async unbindAddress(tid: number, address: IpAddress | Ipv4Cidr): Promise<void> {
    await this.tgtadm(['--mode', 'target', '--op', 'unbind', '--tid', this.tid(tid), '--initiator-address', addressOrNetwork(address)]);
  }

  /** Lets the initiator announcing this IQN log in (iPXE's `set initiator-iqn`). */
  async bindInitiator(tid: number, iqn: Iqn): Promise<void> {
    await this.tgtadm(['--mode', 'target', '--op', 'bind', '--tid', this.tid(tid), '--initiator-name', parseIqn(iqn)]);
  }

  async unbindInitiator(tid: number, iqn: Iqn): Promise<void> {
    await this.tgtadm(['--mode', 'target', '--op', 'unbind', '--tid', this.tid(tid), '--initiator-name', parseIqn(iqn)]);
  }

  // ---- incoming CHAP accounts (tgt keeps them globally; a bound account makes CHAP required on that target) ----

  /** The user names of every CHAP account tgtd has (`--mode account --op show`: "Account list:" then one per line). */
  async listAccounts(): Promise<string[]> {
    const out = await this.tgtadm(['--mode', 'account', '--op', 'show']);
    return out.split('\n').slice(1).map((l) => l.trim()).filter(Boolean);
  }

  /**
   * A new account. tgtadm takes the password only as an argument (no stdin or file option), so it
   * is on this short-lived process's command line (root-only host services; see SECURITY.md) and
   * never in an error, log or audit entry.
   */
  async createAccount(user: string, password: string): Promise<void> {
    const secret = parseChapSecret(password);
    await this.tgtadm(['--mode', 'account', '--op', 'new', '--user', parseChapUser(user), '--password', secret], secret);
  }

  /** Deletes an account (also unbinds it from every target). false: there was none. */
  async deleteAccount(user: string): Promise<boolean> {
    try {
      await this.tgtadm(['--mode', 'account', '--op', 'delete', '--user', parseChapUser(user)]);
      return true;
    } catch (e) {
      if (e instanceof TgtError && e.kind === 'no_account') return false;
      throw e;
    }
  }

  /** Binds an incoming account to a target: from then on a login needs that user's CHAP secret. */
  async bindAccount(tid: number, user: string): Promise<void> {
    await this.tgtadm(['--mode', 'account', '--op', 'bind', '--tid', this.tid(tid), '--user', parseChapUser(user)]);
  }
}

/**
 * An incoming CHAP user name: what tgt stores and the initiator sends. Letters, digits, `.`, `-`,
 * 1-64 characters, starting with a letter (it is also placed in an iPXE script).
 */
export function parseChapUser(u: unknown): string {
  if (typeof u !== 'string' || !/^[a-z][a-z0-9.-]{0,63}$/.test(u)) throw new RangeError('a CHAP user is 1-64 lower-case letters, digits, dots or dashes, starting with a letter');
  return u;
}

/** A CHAP secret: 16-64 hex digits or letters (RFC 3720 §8.2.1 wants at least 12 bytes; iPXE and tgt take these as typed). */
export function parseChapSecret(p: unknown): string {
  if (typeof p !== 'string' || !/^[A-Za-z0-9]{16,64}$/.test(p)) throw new RangeError('a CHAP secret is 16-64 letters or digits');
  return p;
}

function addressOrNetwork(a: string): string {
  return a.includes('/') ? parseIpv4Cidr(a) : parseIp(a);
}
