import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DomainRuleError, ExecError, type ExecOptions, type ProcessRunner, type StreamHandle, ValidationError,
} from '../../../server/src/sdk.js';
import { DOMAIN_NAME, NAME_PREFIX, NETWORK_NAME, buildDhcpHostXml, parseDomainXml, type DomainDescription, type DomainMetadata } from './domain-xml.js';

/**
 * The only file that knows `virsh` (libvirt 9.0 on Debian 12). Every call is an argv array run
 * through the host's process runner: locally, or the same command over the host's SSH runner.
 * User-influenced values are passed as `--option=value` (virsh never reads them as options) and are
 * validated by allow-list first; XML documents go in on stdin (`/dev/stdin`), never on a command line
 * that a shell could see.
 *
 * Ownership: a domain is Slipway's when its XML carries our `<metadata>` (domain-xml.ts) with the
 * expected VPS id. Every mutating call first reads the domain's XML, checks that, and then acts on
 * the domain's UUID (so a domain renamed or swapped in between is never the one touched).
 * Unmanaged domains are listed read-only. Networks and pools have no metadata in libvirt 9.0: ours
 * are the ones named `slipway-…`, and only those are changed.
 *
 * Output formats parsed here come from virsh's own source (tools/virsh-domain-monitor.c for
 * `list`, `domstate`, `dominfo`, `domstats --raw`; tools/virsh-domain-event.c for `event`;
 * tools/virsh-snapshot.c for `snapshot-list`) and were checked against the real virsh.
 */

export type DomainState = 'running' | 'idle' | 'paused' | 'in shutdown' | 'shut off' | 'crashed' | 'pmsuspended' | 'blocked' | 'dying' | 'unknown';
const STATES: readonly DomainState[] = ['running', 'idle', 'paused', 'in shutdown', 'shut off', 'crashed', 'pmsuspended', 'blocked', 'dying'];

export interface DomainListing {
  /** libvirt's runtime id (null when not running) */
  id: number | null;
  name: string;
  state: DomainState;
}

export interface DescribedDomain extends DomainListing {
  managed: boolean;
  description: DomainDescription;
}

export type LibvirtErrorKind = 'not_found' | 'already_running' | 'not_running' | 'exists' | 'unavailable' | 'unsupported' | 'failed';

/** A failed virsh call, with the last libvirt error line as a reason a user can read. */
export class LibvirtError extends ExecError {
  constructor(cause: ExecError, readonly kind: LibvirtErrorKind, override readonly userReason: string) {
    super(cause.argv, cause.exitCode, cause.stderr, cause.reason, cause.host);
    this.name = 'LibvirtError';
    this.message = `libvirt: ${userReason}`;
  }
}

/** The domain exists but Slipway does not own it (or it belongs to another VPS). */
export class UnmanagedDomainError extends DomainRuleError {
  constructor(name: string, detail: string) {
    super(`Domain '${name}' is not managed by Slipway${detail ? ` (${detail})` : ''}; it is listed read-only`, 'domain_unmanaged', { domain: name });
  }
}

export interface LifecycleEvent {
  at: number | null;
  domain: string;
  /** 'lifecycle' events carry type/detail, e.g. Started/Booted, Stopped/Destroyed. */
  event: string;
  type: string | null;
  detail: string | null;
}

export interface VirshOptions {
  /** Default qemu:///system (the same URI on a remote host, run there over SSH). */
  uri?: string;
  timeoutMs?: number;
  /** `undefine --nvram`; the test:/// driver rejects the flag. */
  undefineNvram?: boolean;
}

const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const POOL_NAME = NETWORK_NAME;
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const ABS_PATH = /^\/[A-Za-z0-9._/-]{1,4000}$/;
const URI = /^(qemu|test):\/\/\/(system|session|default)$/;

function check(re: RegExp, v: unknown, what: string): string {
  if (typeof v !== 'string' || !re.test(v)) throw new ValidationError(`Invalid ${what}: ${JSON.stringify(v)}`);
  return v;
}

function description(v: string): string {
  if (typeof v !== 'string' || v.length > 500 || /[\u0000-\u001f\u007f]/.test(v)) throw new ValidationError('Snapshot comment must be at most 500 characters without control characters');
  return v;
}

/** The last `error: …` line of virsh's stderr, and what kind of failure it is. */
export function classifyVirshError(stderr: string): { kind: LibvirtErrorKind; reason: string } {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const errs = lines.filter((l) => l.startsWith('error:')).map((l) => l.replace(/^error:\s*/, ''));
  const reason = (errs.at(-1) ?? lines.at(-1) ?? 'virsh failed').slice(0, 300);
  const all = errs.join(' ');
  const kind: LibvirtErrorKind = /failed to connect to the hypervisor|Failed to connect socket|no connection driver/i.test(all)
    ? 'unavailable'
    : /(Domain|Network|Storage pool|Storage volume|Domain snapshot) not found|no (domain|network|storage pool|storage vol|snapshot) with matching|^failed to get (domain|network|pool|vol|snapshot) '[^']*'$/im.test(all)
      ? 'not_found'
      : /already (active|running)/i.test(all)
        ? 'already_running'
        : /not (running|active)/i.test(all)
          ? 'not_running'
          : /already exists/i.test(all)
            ? 'exists'
            : /unsupported|not supported/i.test(all)
              ? 'unsupported'
              : 'failed';
  return { kind, reason };
}

/** `virsh list --all` (quiet): ` Id   Name   State`, id `-` when stopped. */
export function parseList(stdout: string): DomainListing[] {
  const out: DomainListing[] = [];
  for (const raw of stdout.split('\n')) {
    const line = raw.trimEnd();
    if (!line.trim() || /^\s*Id\s+Name\s+State\s*$/.test(line) || /^-+$/.test(line.trim())) continue;
    const m = /^\s*(\d+|-)\s+(.+?)\s+(running|idle|paused|in shutdown|shut off|crashed|pmsuspended|blocked|dying|no state)\s*$/.exec(line);
    if (!m) continue;
    out.push({ id: m[1] === '-' ? null : Number(m[1]), name: m[2]!, state: toState(m[3]!) });
  }
  return out;
}

function toState(s: string): DomainState {
  const t = s.trim().toLowerCase() as DomainState;
  return STATES.includes(t) ? t : 'unknown';
}

/** `virsh dominfo`: `Key:   value` lines. */
export function parseKeyValues(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^([^:]+):\s*(.*)$/.exec(line.trim());
    if (m) out[m[1]!.trim()] = m[2]!.trim();
  }
  return out;
}

/** `virsh domstats --raw`: `Domain: 'name'` then indented `key=value` lines. */
export function parseDomstats(stdout: string): Map<string, Record<string, number | string>> {
  const out = new Map<string, Record<string, number | string>>();
  let cur: Record<string, number | string> | null = null;
  for (const line of stdout.split('\n')) {
    const d = /^Domain: '(.*)'\s*$/.exec(line);
    if (d) {
      cur = {};
      out.set(d[1]!, cur);
      continue;
    }
    const kv = /^\s+([A-Za-z0-9_.-]+)=(.*)$/.exec(line);
    if (kv && cur) {
      const n = Number(kv[2]);
      cur[kv[1]!] = kv[2] !== '' && Number.isFinite(n) && /^-?\d+(\.\d+)?$/.test(kv[2]!) ? n : kv[2]!;
    }
  }
  return out;
}

/** `virsh snapshot-list --domain X` (quiet): name, creation time, state. */
export function parseSnapshotList(stdout: string): { name: string; createdAt: number | null; state: string }[] {
  const out: { name: string; createdAt: number | null; state: string }[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\s*(\S+)\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) ([+-]\d{4})\s+(\S.*?)\s*$/.exec(line);
    if (!m) continue;
    const iso = `${m[2]!.replace(' ', 'T')}${m[3]!.slice(0, 3)}:${m[3]!.slice(3)}`;
    const t = Date.parse(iso);
    out.push({ name: m[1]!, createdAt: Number.isNaN(t) ? null : t, state: m[4]! });
  }
  return out;
}

/**
 * One line of `virsh event --all --loop --timestamp`, e.g.
 * `2024-05-01 10:00:00.123+0000: event 'lifecycle' for domain 'vm1': Started Booted`.
 */
export function parseEventLine(line: string): LifecycleEvent | null {
  const m = /^(?:(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})([+-]\d{4}): )?event '([a-z0-9-]+)' for domain '(.*)'(?:: (.*))?$/.exec(line.trim());
  if (!m) return null;
  const at = m[1] ? Date.parse(`${m[1].replace(' ', 'T')}${m[2]!.slice(0, 3)}:${m[2]!.slice(3)}`) : null;
  const rest = (m[5] ?? '').trim();
  let type: string | null = null;
  let detail: string | null = null;
  if (m[3] === 'lifecycle' && rest) {
    const [t, ...d] = rest.split(' ');
    type = t ?? null;
    detail = d.join(' ') || null;
  } else if (rest) detail = rest;
  return { at: at !== null && Number.isNaN(at) ? null : at, domain: m[4]!, event: m[3]!, type, detail };
}

/** The state a lifecycle event leaves the domain in (null when it does not say). */
export function stateAfterEvent(e: LifecycleEvent): DomainState | null {
  if (e.event !== 'lifecycle') return null;
  switch (e.type) {
    case 'Started':
    case 'Resumed':
      return 'running';
    case 'Suspended':
      return 'paused';
    case 'Stopped':
    case 'Defined':
      return e.type === 'Defined' ? null : 'shut off';
    case 'Shutdown':
      return e.detail === 'Finished' || e.detail?.startsWith('Finished') ? 'shut off' : 'in shutdown';
    case 'Crashed':
      return 'crashed';
    case 'PMSuspended':
      return 'pmsuspended';
    default:
      return null;
  }
}

export class Virsh {
  readonly uri: string;
  private readonly undefineNvram: boolean;
  constructor(private readonly run: ProcessRunner, private readonly opts: VirshOptions = {}) {
    this.uri = check(URI, opts.uri ?? 'qemu:///system', 'libvirt URI');
    this.undefineNvram = opts.undefineNvram ?? !this.uri.startsWith('test:');
  }

  get host(): string {
    return this.run.host;
  }

  private async virsh(args: string[], o: ExecOptions = {}): Promise<string> {
    try {
      const r = await this.run.exec('virsh', ['-q', '-c', this.uri, ...args], { timeoutMs: this.opts.timeoutMs ?? 60_000, ...o });
      return r.stdout;
    } catch (e) {
      if (e instanceof ExecError && !(e instanceof LibvirtError)) {
        const { kind, reason } = e.reason === 'exit' ? classifyVirshError(e.stderr) : { kind: 'failed' as const, reason: e.message };
        throw new LibvirtError(e, kind, reason);
      }
      throw e;
    }
  }

  /**
   * virsh reads XML from a file on its own host. The runner's stdin is a socket (libuv), which
   * virsh cannot open as /dev/stdin, so the XML goes into a private mktemp file (0600) on that host
   * via `tee`, and is removed afterwards.
   */
  private async withXmlFile<T>(xml: string, fn: (file: string) => Promise<T>): Promise<T> {
    if (this.run.host === 'local') {
      // This machine: a private temporary directory (0700) and file (0600), without three more processes.
      const dir = mkdtempSync(path.join(tmpdir(), 'slipway-xml-'));
      const file = path.join(dir, 'domain.xml');
      try {
        writeFileSync(file, xml, { mode: 0o600, flag: 'wx' });
        return await fn(file);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const file = (await this.run.exec('mktemp', ['-t', 'slipway-xml.XXXXXXXXXX'], { timeoutMs: 10_000 })).stdout.trim();
    if (!/^\/[A-Za-z0-9._/-]+$/.test(file)) throw new Error(`mktemp returned an unexpected path ${JSON.stringify(file)}`);
    try {
      await this.run.exec('tee', ['--', file], { input: xml, timeoutMs: 10_000 });
      return await fn(file);
    } finally {
      await this.run.exec('rm', ['-f', '--', file], { timeoutMs: 10_000 }).catch(() => {});
    }
  }

  // --- reading (any domain, managed or not) ----------------------------------------------------

  async listAll(): Promise<DomainListing[]> {
    return parseList(await this.virsh(['list', '--all']));
  }

  /** Every domain with its parsed XML: `managed` is true only for domains carrying our metadata. */
  async listDescribed(concurrency = 8): Promise<DescribedDomain[]> {
    const list = await this.listAll();
    const out: DescribedDomain[] = new Array(list.length);
    let next = 0;
    const worker = async () => {
      while (next < list.length) {
        const i = next++;
        const d = list[i]!;
        try {
          const description = await this.describe(d.name);
          out[i] = { ...d, managed: description.slipway !== null, description };
        } catch (e) {
          if (e instanceof LibvirtError && e.kind === 'not_found') continue; // undefined meanwhile
          throw e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
    return out.filter(Boolean);
  }

  /** null when no such domain. Works for unmanaged domains too (read-only). */
  async describe(name: string): Promise<DomainDescription> {
    return parseDomainXml(await this.dumpxml(name));
  }

  async dumpxml(name: string): Promise<string> {
    return this.virsh(['dumpxml', `--domain=${this.readName(name)}`]);
  }

  async exists(name: string): Promise<boolean> {
    try {
      await this.virsh(['domuuid', `--domain=${this.readName(name)}`]);
      return true;
    } catch (e) {
      if (e instanceof LibvirtError && e.kind === 'not_found') return false;
      throw e;
    }
  }

  async domstate(name: string): Promise<{ state: DomainState; reason: string | null }> {
    const out = (await this.virsh(['domstate', '--reason', `--domain=${this.readName(name)}`])).trim();
    const m = /^(.*?)(?: \((.*)\))?$/.exec(out);
    return { state: toState(m?.[1] ?? out), reason: m?.[2] ?? null };
  }

  async dominfo(name: string): Promise<Record<string, string>> {
    return parseKeyValues(await this.virsh(['dominfo', `--domain=${this.readName(name)}`]));
  }

  /** `virsh nodeinfo`: the host's CPUs and memory (for placement). */
  async nodeinfo(): Promise<{ cpus: number; memoryKiB: number }> {
    const kv = parseKeyValues(await this.virsh(['nodeinfo']));
    return { cpus: Number(kv['CPU(s)'] ?? 0), memoryKiB: Number((kv['Memory size'] ?? '0').replace(/\s*KiB$/, '')) };
  }

  /** `domstats --raw` for the given domains (all when none given). */
  async domstats(names: string[] = [], groups: ('state' | 'cpu-total' | 'balloon' | 'vcpu' | 'interface' | 'block')[] = ['state', 'cpu-total', 'balloon', 'vcpu', 'interface', 'block'], o: { activeOnly?: boolean } = {}): Promise<Map<string, Record<string, number | string>>> {
    for (const n of names) this.readName(n);
    const filter = o.activeOnly && !names.length ? ['--list-active'] : [];
    return parseDomstats(await this.virsh(['domstats', '--raw', ...groups.map((g) => `--${g}`), ...filter, ...(names.length ? ['--', ...names] : [])]));
  }

  /** Names as they come from libvirt's own listing may be anything; refuse only NUL/newlines. */
  private readName(name: string): string {
    if (typeof name !== 'string' || !name || name.length > 200 || /[\u0000-\u001f]/.test(name)) throw new ValidationError(`Invalid domain name ${JSON.stringify(name)}`);
    return name;
  }

  // --- ownership -----------------------------------------------------------------------------

  /**
   * Reads the domain's XML and returns its UUID if (and only if) it carries our metadata for
   * `vpsId`. Every mutating call goes through here first.
   */
  async assertOwned(name: string, vpsId: string): Promise<{ uuid: string; description: DomainDescription }> {
    check(DOMAIN_NAME, name, 'domain name');
    const description = await this.describe(name);
    if (!description.slipway) throw new UnmanagedDomainError(name, 'no Slipway metadata');
    if (description.slipway.vpsId !== vpsId) throw new UnmanagedDomainError(name, 'it belongs to another VPS');
    if (!/^[0-9a-f-]{36}$/.test(description.uuid)) throw new UnmanagedDomainError(name, 'no UUID');
    return { uuid: description.uuid, description };
  }

  // --- defining ------------------------------------------------------------------------------

  /**
   * Defines (or updates) one of our domains from XML built by `buildDomainXml`. Refuses XML without
   * our metadata, and refuses to redefine an existing domain that is not this VPS's.
   */
  async define(xml: string, expect: DomainMetadata): Promise<{ uuid: string; name: string }> {
    const parsed = parseDomainXml(xml);
    check(DOMAIN_NAME, parsed.name, 'domain name');
    if (!parsed.slipway || parsed.slipway.vpsId !== expect.vpsId || parsed.slipway.ownerId !== expect.ownerId) {
      throw new ValidationError('Domain XML must carry Slipway metadata for this VPS');
    }
    // One read: a missing domain is fine, an existing one must be this VPS's.
    try {
      await this.assertOwned(parsed.name, expect.vpsId);
    } catch (e) {
      if (!(e instanceof LibvirtError && e.kind === 'not_found')) throw e;
    }
    await this.withXmlFile(xml, (f) => this.virsh(['define', `--file=${f}`]));
    const d = await this.describe(parsed.name);
    return { uuid: d.uuid, name: d.name };
  }

  /**
   * Defines a NEW domain of ours in one virsh call (the create job's hot path). The XML must carry
   * our metadata and a UUID the caller generated for this VPS (`domainUuidFor`). No read first:
   * libvirt itself refuses a define whose name is taken by a domain with another UUID, or whose
   * UUID is taken under another name ("already exists with uuid" / "already defined with uuid"), so
   * an existing domain that is not this VPS's is never changed; the same name and UUID is this
   * VPS's own domain (a retried step) and is updated.
   */
  async defineNew(xml: string, expect: DomainMetadata): Promise<{ uuid: string; name: string }> {
    const parsed = parseDomainXml(xml);
    check(DOMAIN_NAME, parsed.name, 'domain name');
    if (!parsed.slipway || parsed.slipway.vpsId !== expect.vpsId || parsed.slipway.ownerId !== expect.ownerId) {
      throw new ValidationError('Domain XML must carry Slipway metadata for this VPS');
    }
    if (!/^[0-9a-f-]{36}$/.test(parsed.uuid)) throw new ValidationError('A new domain needs its UUID in the XML');
    try {
      await this.withXmlFile(xml, (f) => this.virsh(['define', `--file=${f}`]));
    } catch (e) {
      if (e instanceof LibvirtError && /already (exists|defined) with uuid/i.test(e.userReason)) throw new UnmanagedDomainError(parsed.name, 'another domain has this name or UUID');
      throw e;
    }
    return { uuid: parsed.uuid, name: parsed.name };
  }

  /**
   * Starts the domain with this UUID without reading it first: only for a domain the caller has
   * just defined itself with `defineNew` (same job, same UUID), so it is ours by construction.
   */
  async startDefined(uuid: string): Promise<void> {
    check(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, uuid, 'domain UUID');
    await this.virsh(['start', `--domain=${uuid}`]);
  }

  /** Removes one of our domains (its snapshots' metadata too; storage only when asked). */
  async undefine(name: string, vpsId: string, o: { removeAllStorage?: boolean } = {}): Promise<void> {
    const { uuid } = await this.assertOwned(name, vpsId);
    const args = ['undefine', `--domain=${uuid}`, '--managed-save', '--snapshots-metadata'];
    if (this.undefineNvram) args.push('--nvram');
    if (o.removeAllStorage) args.push('--remove-all-storage');
    await this.virsh(args);
  }

  // --- lifecycle -----------------------------------------------------------------------------

  private async act(name: string, vpsId: string, args: string[], o: ExecOptions = {}): Promise<void> {
    const { uuid } = await this.assertOwned(name, vpsId);
    await this.virsh([args[0]!, `--domain=${uuid}`, ...args.slice(1)], o);
  }

  /** The ACPI power button; libvirt's test driver accepts no mode flags. */
  private acpi(): string[] {
    return this.uri.startsWith('test:') ? [] : ['--mode=acpi'];
  }

  start(name: string, vpsId: string) {
    return this.act(name, vpsId, ['start']);
  }
  /** ACPI power button (returns at once; see shutdownAndWait). */
  shutdown(name: string, vpsId: string) {
    return this.act(name, vpsId, ['shutdown', ...this.acpi()]);
  }
  /** Pull the plug. */
  destroy(name: string, vpsId: string) {
    return this.act(name, vpsId, ['destroy']);
  }
  reboot(name: string, vpsId: string) {
    return this.act(name, vpsId, ['reboot', ...this.acpi()]);
  }
  reset(name: string, vpsId: string) {
    return this.act(name, vpsId, ['reset']);
  }
  suspend(name: string, vpsId: string) {
    return this.act(name, vpsId, ['suspend']);
  }
  resume(name: string, vpsId: string) {
    return this.act(name, vpsId, ['resume']);
  }

  /** ACPI shutdown, then force off if the guest has not stopped within `timeoutMs`. */
  async shutdownAndWait(name: string, vpsId: string, timeoutMs = 60_000, pollMs = 500): Promise<'clean' | 'forced'> {
    await this.shutdown(name, vpsId);
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if ((await this.domstate(name)).state === 'shut off') return 'clean';
      await new Promise((r) => setTimeout(r, pollMs));
    }
    try {
      await this.destroy(name, vpsId);
    } catch (e) {
      if (!(e instanceof LibvirtError && e.kind === 'not_running')) throw e;
    }
    return 'forced';
  }

  /** Waits until the domain reports `state` (polling domstate; for one domain in a job). */
  async waitForState(name: string, state: DomainState, timeoutMs = 60_000, pollMs = 250): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const s = (await this.domstate(name)).state;
      if (s === state) return;
      if (Date.now() > until) throw new DomainRuleError(`Domain '${name}' is ${s}, not ${state}, after ${Math.round(timeoutMs / 1000)} s`, 'domain_state_timeout', { state: s });
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  // --- snapshots -----------------------------------------------------------------------------

  async snapshotCreate(name: string, vpsId: string, snapshot: string, comment = ''): Promise<void> {
    check(SNAPSHOT_NAME, snapshot, 'snapshot name');
    const text = description(comment);
    const { uuid } = await this.assertOwned(name, vpsId);
    await this.virsh(['snapshot-create-as', `--domain=${uuid}`, `--name=${snapshot}`, `--description=${text}`, '--atomic'], { timeoutMs: 10 * 60_000 });
  }

  async snapshotList(name: string, vpsId: string): Promise<{ name: string; createdAt: number | null; state: string }[]> {
    const { uuid } = await this.assertOwned(name, vpsId);
    return parseSnapshotList(await this.virsh(['snapshot-list', `--domain=${uuid}`]));
  }

  async snapshotRevert(name: string, vpsId: string, snapshot: string): Promise<void> {
    check(SNAPSHOT_NAME, snapshot, 'snapshot name');
    const { uuid } = await this.assertOwned(name, vpsId);
    await this.virsh(['snapshot-revert', `--domain=${uuid}`, `--snapshotname=${snapshot}`], { timeoutMs: 10 * 60_000 });
  }

  /** `metadataOnly`: forget libvirt's record only (the disk holding it was replaced); drivers without the flag delete normally. */
  async snapshotDelete(name: string, vpsId: string, snapshot: string, o: { metadataOnly?: boolean } = {}): Promise<void> {
    check(SNAPSHOT_NAME, snapshot, 'snapshot name');
    const { uuid } = await this.assertOwned(name, vpsId);
    const args = ['snapshot-delete', `--domain=${uuid}`, `--snapshotname=${snapshot}`];
    try {
      await this.virsh(o.metadataOnly ? [...args, '--metadata'] : args, { timeoutMs: 10 * 60_000 });
    } catch (e) {
      if (!(o.metadataOnly && e instanceof LibvirtError && (e.kind === 'unsupported' || /unsupported flags/i.test(e.stderr)))) throw e;
      await this.virsh(args, { timeoutMs: 10 * 60_000 });
    }
  }

  // --- configuration of a shut-off domain -------------------------------------------------------

  /** The domain's title (the panel shows the hostname there); persistent config, and live when running. */
  async setTitle(name: string, vpsId: string, title: string): Promise<void> {
    if (typeof title !== 'string' || title.length > 253 || /[\u0000-\u001f\u007f]/.test(title)) throw new ValidationError('Invalid title');
    const { uuid } = await this.assertOwned(name, vpsId);
    const live = (await this.domstate(uuid)).state === 'running' ? ['--live'] : [];
    await this.virsh(['desc', `--domain=${uuid}`, '--title', '--config', ...live, `--new-desc=${title}`]);
  }

  /** The persistent (inactive) XML of one of our domains, for redefining it unchanged on undo. */
  async inactiveXml(name: string, vpsId: string): Promise<string> {
    const { uuid } = await this.assertOwned(name, vpsId);
    return this.virsh(['dumpxml', '--inactive', `--domain=${uuid}`]);
  }

  // --- networks (ours are named slipway-…) --------------------------------------------------

  private ourNetwork(name: string): string {
    check(NETWORK_NAME, name, 'network name');
    if (!name.startsWith(NAME_PREFIX)) throw new UnmanagedDomainError(name, `networks Slipway manages are named ${NAME_PREFIX}…`);
    return name;
  }

  async netList(): Promise<{ name: string; active: boolean; autostart: boolean; persistent: boolean; managed: boolean }[]> {
    const out = await this.virsh(['net-list', '--all']);
    return out.split('\n').flatMap((l) => {
      const m = /^\s*(\S+)\s+(active|inactive)\s+(yes|no)\s+(yes|no)\s*$/.exec(l);
      return m ? [{ name: m[1]!, active: m[2] === 'active', autostart: m[3] === 'yes', persistent: m[4] === 'yes', managed: m[1]!.startsWith(NAME_PREFIX) }] : [];
    });
  }

  async netDefine(xml: string): Promise<void> {
    const name = /<name>([^<]*)<\/name>/.exec(xml)?.[1] ?? '';
    this.ourNetwork(name);
    await this.withXmlFile(xml, (f) => this.virsh(['net-define', `--file=${f}`]));
  }
  async netStart(name: string) {
    await this.virsh(['net-start', `--network=${this.ourNetwork(name)}`]);
  }
  async netAutostart(name: string) {
    await this.virsh(['net-autostart', `--network=${this.ourNetwork(name)}`]);
  }
  async netDestroy(name: string) {
    await this.virsh(['net-destroy', `--network=${this.ourNetwork(name)}`]);
  }
  async netUndefine(name: string) {
    await this.virsh(['net-undefine', `--network=${this.ourNetwork(name)}`]);
  }
  async netDumpxml(name: string): Promise<string> {
    return this.virsh(['net-dumpxml', `--network=${check(NETWORK_NAME, name, 'network name')}`]);
  }

  /** Adds or removes a static DHCP reservation, live and in the persistent config. */
  async netDhcpHost(network: string, command: 'add' | 'delete' | 'modify', host: { mac: string; ip: string; name?: string }, o: { live?: boolean } = {}): Promise<void> {
    const xml = buildDhcpHostXml(host);
    if (command !== 'add' && command !== 'delete' && command !== 'modify') throw new ValidationError('command must be add, delete or modify');
    await this.virsh(['net-update', `--network=${this.ourNetwork(network)}`, `--command=${command}`, '--section=ip-dhcp-host', `--xml=${xml}`, '--config', ...(o.live === false ? [] : ['--live'])]);
  }

  // --- storage pools (ours are named slipway-…) ---------------------------------------------

  async poolDefineDir(name: string, target: string): Promise<void> {
    check(POOL_NAME, name, 'pool name');
    if (!name.startsWith(NAME_PREFIX)) throw new ValidationError(`pools Slipway creates are named ${NAME_PREFIX}…`);
    check(ABS_PATH, target, 'pool directory');
    if (target.split('/').slice(1).some((s) => s === '' || s === '.' || s === '..' || s.startsWith('-'))) throw new ValidationError('Invalid pool directory');
    await this.virsh(['pool-define-as', `--name=${name}`, '--type=dir', `--target=${target}`]);
  }
  async poolBuild(name: string) {
    await this.virsh(['pool-build', `--pool=${this.ourPool(name)}`]);
  }
  async poolStart(name: string) {
    await this.virsh(['pool-start', `--pool=${this.ourPool(name)}`]);
  }
  async poolAutostart(name: string) {
    await this.virsh(['pool-autostart', `--pool=${this.ourPool(name)}`]);
  }
  async poolRefresh(name: string) {
    await this.virsh(['pool-refresh', `--pool=${this.ourPool(name)}`]);
  }
  async poolDestroy(name: string) {
    await this.virsh(['pool-destroy', `--pool=${this.ourPool(name)}`]);
  }
  async poolUndefine(name: string) {
    await this.virsh(['pool-undefine', `--pool=${this.ourPool(name)}`]);
  }
  async poolList(): Promise<{ name: string; active: boolean; autostart: boolean; managed: boolean }[]> {
    const out = await this.virsh(['pool-list', '--all']);
    return out.split('\n').flatMap((l) => {
      const m = /^\s*(\S+)\s+(active|inactive)\s+(yes|no)\s*$/.exec(l);
      return m ? [{ name: m[1]!, active: m[2] === 'active', autostart: m[3] === 'yes', managed: m[1]!.startsWith(NAME_PREFIX) }] : [];
    });
  }
  /** `vol-list --pool P` (quiet): name and path. */
  async volList(pool: string): Promise<{ name: string; path: string }[]> {
    const out = await this.virsh(['vol-list', `--pool=${check(POOL_NAME, pool, 'pool name')}`]);
    return out.split('\n').flatMap((l) => {
      const m = /^\s*(\S+)\s+(\/\S*)\s*$/.exec(l);
      return m ? [{ name: m[1]!, path: m[2]! }] : [];
    });
  }
  async volDelete(pool: string, volume: string): Promise<void> {
    await this.virsh(['vol-delete', `--pool=${this.ourPool(pool)}`, `--vol=${check(VOLUME_NAME, volume, 'volume name')}`]);
  }

  private ourPool(name: string): string {
    check(POOL_NAME, name, 'pool name');
    if (!name.startsWith(NAME_PREFIX)) throw new UnmanagedDomainError(name, `pools Slipway manages are named ${NAME_PREFIX}…`);
    return name;
  }

  // --- events --------------------------------------------------------------------------------

  /**
   * libvirt's event stream for every domain (`virsh event --all --loop --timestamp`), parsed into
   * typed events. The caller keeps one per host and reconnects when `done` settles.
   */
  events(onEvent: (e: LifecycleEvent) => void): { stop(): void; done: Promise<number | null> } {
    const h: StreamHandle = this.run.stream('virsh', ['-q', '-c', this.uri, 'event', '--all', '--loop', '--timestamp']);
    void (async () => {
      for await (const l of h.lines) {
        if (l.stream !== 'stdout') continue;
        const e = parseEventLine(l.line);
        if (e) onEvent(e);
      }
    })().catch(() => {});
    return { stop: () => h.stop(), done: h.done };
  }
}
