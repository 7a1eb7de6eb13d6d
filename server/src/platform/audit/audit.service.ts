import { createHash, createHmac } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { sql, type Kysely } from 'kysely';
import { newId } from '../../db/ids.js';
import type { Dialect } from '../../db/database.js';
import type { AuditLogTable, CoreTables } from '../../db/schema.js';
import { corePermissions } from '../rbac/core-permissions.js';
import type { Actor } from '../rbac/permissions.js';
import type { EventBus } from '../events/event-bus.js';

/**
 * `started`: a change that runs as a job was accepted; the job's real outcome follows in a second
 * entry (same action and target, `details.jobId`, `details.jobState`) once the job ends.
 */
export const AUDIT_OUTCOMES = ['success', 'failure', 'denied', 'started'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export interface AuditInput {
  actor: Actor;
  action: string;
  /** `name`: what people call the target ("shop"), kept in the details as `targetName`; ids stay the key. */
  target?: { type: string; id: string; name?: string };
  outcome?: AuditOutcome;
  details?: Record<string, unknown>;
}

export interface AuditFilters {
  actor?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  outcome?: AuditOutcome;
  from?: number;
  to?: number;
  /** Keyset pagination: entries older than this sequence number. */
  before?: number;
  limit: number;
}

export interface AuditEntry {
  seq: number;
  id: string;
  at: number;
  actor: { id: string | null; name: string | null; kind: string };
  ip: string | null;
  userAgent: string | null;
  action: string;
  /** `name` when the entry knows one (its `targetName`, or the name, username or domain in its details). */
  target: { type: string; id: string; name?: string } | null;
  outcome: string;
  details: Record<string, unknown> | null;
  hash: string;
}

export interface VerifyResult {
  ok: boolean;
  checked: number;
  /** The first entry whose hash or link does not match. */
  brokenAt?: number;
  reason?: string;
  /** The last entry of the table (what the chain ends with now). */
  head?: AuditHead | null;
  /** The head published outside the table that was checked against (head file or given). */
  publishedHead?: AuditHead | null;
}

/** The end of the chain, published outside the table (log, head file, backups). */
export interface AuditHead { seq: number; hash: string }

export interface AuditLogOptions {
  /** HMAC key of the chain (`auditChainKey(secrets)`): without it entries are chained with plain SHA-256 (chain 1). */
  key?: Buffer;
  /** File (in the data dir) the head is written to after every append. */
  headFile?: string;
  /** The head is also logged (one JSON line, at most every few seconds): journald keeps a copy. */
  log?: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

export const AUDIT_HEAD_FILE = 'audit-head.json';
const HEAD_LOG_EVERY_MS = 5_000;
/** The current chain scheme: HMAC-SHA256 keyed from the data key. */
export const AUDIT_CHAIN_VERSION = 2;

/** Parses `seq:hash` (as printed in the log, the head file and backup manifests). */
export function parseAuditHead(text: string): AuditHead | null {
  const m = /^(\d+):([0-9a-f]{64})$/.exec(text.trim());
  return m ? { seq: Number(m[1]), hash: m[2]! } : null;
}

function headMac(key: Buffer, head: AuditHead): string {
  return createHmac('sha256', key).update(`slipway-audit-head:${head.seq}:${head.hash}`).digest('hex');
}

/** The published head in a head file, or null when there is none; throws on a damaged or forged file. */
export function readAuditHeadFile(file: string, key?: Buffer): AuditHead | null {
  if (!existsSync(file)) return null;
  const raw = JSON.parse(readFileSync(file, 'utf8')) as { seq?: unknown; hash?: unknown; mac?: unknown };
  if (typeof raw.seq !== 'number' || typeof raw.hash !== 'string') throw new Error(`${file} is not an audit head file`);
  const head = { seq: raw.seq, hash: raw.hash };
  if (key && raw.mac !== undefined && raw.mac !== headMac(key, head)) throw new Error(`${file} was not written by this panel (its MAC does not match)`);
  return head;
}

const GENESIS = '0'.repeat(64);
const SECRET_KEY = /pass(word)?|secret|token|otp|code|private|credential|authorization|cookie/i;

/** Removes anything that looks like a secret from audit details (never store secrets in the log). */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(v, depth + 1);
  return out;
}

type HashedFields = Omit<AuditLogTable, 'hash' | 'prev_hash' | 'chain'>;

/**
 * Chain 1 (entries written before 0002_security): SHA-256 of the canonical row, which anyone with
 * write access to the database could recompute. Chain 2: HMAC-SHA256 keyed from the data key, so a
 * rewritten row cannot be given a valid hash without the panel's secrets.
 */
function entryHash(chain: number, key: Buffer | undefined, prevHash: string, row: HashedFields): string {
  const fields = [
    prevHash, Number(row.seq), row.id, Number(row.at), row.actor_id, row.actor_name, row.actor_kind, row.ip,
    row.user_agent, row.action, row.target_type, row.target_id, row.outcome, row.details,
  ];
  if (chain === 1) return createHash('sha256').update(JSON.stringify(fields)).digest('hex');
  if (!key) throw new Error('the audit key is needed for chain version 2');
  return createHmac('sha256', key).update(JSON.stringify(['v2', ...fields])).digest('hex');
}

/**
 * Append-only audit log; each entry is chained to the previous one by an HMAC (keyed from the data
 * key) so an edited, deleted or reordered row is detectable by `verify()` (`slipway audit verify`).
 * After every append the head (seq + hash) is published outside the table — the head file, the
 * log, and every backup — so a deleted tail is detected too.
 */
export class AuditLog {
  /**
   * Recent pages, keyed by filters: dashboards and the audit page ask for the same newest page over
   * and over while appends are rare. Cleared on every append in this process; the short lifetime
   * bounds staleness from other writers (the CLI, a second panel process on PostgreSQL).
   */
  private readonly pageCache = new Map<string, { at: number; page: { items: AuditEntry[]; nextBefore: number | null } }>();
  private static readonly PAGE_CACHE_MS = 1000;
  private static readonly PAGE_CACHE_SIZE = 100;

  constructor(
    private readonly db: Kysely<CoreTables>,
    private readonly dialect: Dialect,
    private readonly events?: EventBus,
    private readonly opts: AuditLogOptions = {},
  ) {}

  private headWritten = 0;
  private headLoggedAt = 0;
  private headLogTimer: NodeJS.Timeout | undefined;
  private pendingHead: AuditHead | undefined;

  /** Writes the head file (atomically, never backwards) and logs the head at most every few seconds. */
  private publishHead(head: AuditHead): void {
    const { headFile, log, key } = this.opts;
    if (headFile && head.seq > this.headWritten) {
      try {
        if (!this.headWritten) this.headWritten = readAuditHeadFile(headFile)?.seq ?? 0;
        if (head.seq > this.headWritten) {
          const body = { seq: head.seq, hash: head.hash, chain: key ? AUDIT_CHAIN_VERSION : 1, at: Date.now(), ...(key ? { mac: headMac(key, head) } : {}) };
          writeFileSync(`${headFile}.tmp`, `${JSON.stringify(body)}\n`, { mode: 0o600 });
          renameSync(`${headFile}.tmp`, headFile);
          this.headWritten = head.seq;
        }
      } catch (err) {
        log?.error({ err, headFile }, 'could not write the audit head file');
      }
    }
    if (!log) return;
    this.pendingHead = head;
    const logNow = () => {
      this.headLogTimer = undefined;
      if (!this.pendingHead) return;
      this.headLoggedAt = Date.now();
      log.info({ auditHead: `${this.pendingHead.seq}:${this.pendingHead.hash}` }, 'audit head');
      this.pendingHead = undefined;
    };
    const wait = this.headLoggedAt + HEAD_LOG_EVERY_MS - Date.now();
    if (wait <= 0) logNow();
    else if (!this.headLogTimer) {
      this.headLogTimer = setTimeout(logNow, wait);
      this.headLogTimer.unref();
    }
  }

  /** Logs a pending head now (on shutdown). */
  flushHead(): void {
    if (this.headLogTimer) clearTimeout(this.headLogTimer);
    this.headLogTimer = undefined;
    if (this.pendingHead && this.opts.log) {
      this.opts.log.info({ auditHead: `${this.pendingHead.seq}:${this.pendingHead.hash}` }, 'audit head');
      this.pendingHead = undefined;
    }
  }

  /** The last entry's seq and hash. */
  async head(): Promise<AuditHead | null> {
    const last = await this.db.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
    return last ? { seq: Number(last.seq), hash: last.hash } : null;
  }

  async record(input: AuditInput): Promise<AuditEntry> {
    const [entry] = await this.recordMany([input]);
    return entry!;
  }

  /** Appends several entries in one transaction, in order (imports, seeding, batched events). */
  async recordMany(inputs: readonly AuditInput[]): Promise<AuditEntry[]> {
    const rows = await this.db.transaction().execute(async (trx) => {
      // Serialise appends so the chain has one head (SQLite transactions already serialise).
      if (this.dialect === 'postgres') await sql`select pg_advisory_xact_lock(7214001)`.execute(trx);
      const last = await trx.selectFrom('audit_log').select(['seq', 'hash', 'chain']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
      const chain = this.opts.key ? AUDIT_CHAIN_VERSION : 1;
      if (last && Number(last.chain) > chain) throw new Error('This audit log is keyed (chain version 2): open it with the panel\'s audit key');
      let prevHash = last?.hash ?? GENESIS;
      let seq = Number(last?.seq ?? 0);
      const out: AuditLogTable[] = [];
      for (const input of inputs) {
        const base = {
          seq: ++seq,
          id: newId(),
          at: Date.now(),
          actor_id: input.actor.userId,
          actor_name: input.actor.username,
          actor_kind: input.actor.kind,
          ip: input.actor.ip ?? null,
          user_agent: input.actor.userAgent?.slice(0, 512) ?? null,
          action: input.action,
          target_type: input.target?.type ?? null,
          target_id: input.target?.id ?? null,
          outcome: input.outcome ?? 'success',
          details: input.details || input.target?.name
            ? JSON.stringify(redact({ ...(input.target?.name ? { targetName: input.target.name } : {}), ...input.details }))
            : null,
        };
        const full: AuditLogTable = { ...base, prev_hash: prevHash, hash: entryHash(chain, this.opts.key, prevHash, base), chain };
        prevHash = full.hash;
        out.push(full);
      }
      // Chunked multi-row inserts stay under SQLite's bound-parameter limit.
      for (let i = 0; i < out.length; i += 500) await trx.insertInto('audit_log').values(out.slice(i, i + 500)).execute();
      return out;
    });
    this.pageCache.clear();
    const tail = rows.at(-1);
    if (tail) this.publishHead({ seq: Number(tail.seq), hash: tail.hash });
    const entries = rows.map(toEntry);
    for (const entry of entries) {
      this.events?.publish({ type: 'audit.created', resource: { type: 'audit', id: entry.id }, permission: corePermissions['audit.read'], data: { action: entry.action, outcome: entry.outcome } });
    }
    return entries;
  }

  /**
   * Records the real outcome of a job's change: one entry per entry written when it was started
   * (those carry `details.jobId`), same action and target, `success` only when the job succeeded.
   * Called once by the job runner when the job reaches a finished state.
   */
  async recordJobOutcome(job: { id: string; createdAt: number; state: string; error: string | null }, actor: Actor): Promise<AuditEntry[]> {
    const since = job.createdAt - 1000;
    const rows = await this.db.selectFrom('audit_log').selectAll()
      .where('at', '>=', since).where('at', '<=', job.createdAt + 10 * 60_000)
      .where('details', 'like', `%"jobId":"${job.id.replace(/[\\%_"]/g, '')}"%`)
      .orderBy('seq').limit(10).execute();
    const started = rows.map(toEntry).filter((e) => e.details?.jobId === job.id && e.details?.jobState === undefined && e.action !== 'job.cancel');
    if (!started.length) return [];
    return this.recordMany(started.map((e) => ({
      actor,
      action: e.action,
      ...(e.target ? { target: e.target } : {}),
      outcome: job.state === 'succeeded' ? 'success' as const : 'failure' as const,
      details: { ...(e.target?.name ? { targetName: e.target.name } : {}), jobId: job.id, jobState: job.state, ...(job.error ? { error: job.error.slice(0, 500) } : {}) },
    })));
  }

  async list(f: AuditFilters): Promise<{ items: AuditEntry[]; nextBefore: number | null }> {
    const key = JSON.stringify(f);
    const cached = this.pageCache.get(key);
    if (cached && Date.now() - cached.at < AuditLog.PAGE_CACHE_MS) return cached.page;
    const page = await this.query(f);
    if (this.pageCache.size >= AuditLog.PAGE_CACHE_SIZE) this.pageCache.clear();
    this.pageCache.set(key, { at: Date.now(), page });
    return page;
  }

  private async query(f: AuditFilters): Promise<{ items: AuditEntry[]; nextBefore: number | null }> {
    let q = this.db.selectFrom('audit_log').selectAll();
    if (f.actor) q = q.where((eb) => eb.or([eb('actor_name', '=', f.actor!), eb('actor_id', '=', f.actor!)]));
    if (f.action) {
      // A trailing * is a prefix match; LIKE's own wildcards in the prefix are escaped.
      const prefix = f.action.endsWith('*') ? f.action.slice(0, -1).replace(/[\\%_]/g, '\\$&') : undefined;
      q = prefix === undefined ? q.where('action', '=', f.action) : q.where(sql<boolean>`action like ${`${prefix}%`} escape '\\'`);
    }
    if (f.targetType) q = q.where('target_type', '=', f.targetType);
    if (f.targetId) q = q.where('target_id', '=', f.targetId);
    if (f.outcome) q = q.where('outcome', '=', f.outcome);
    if (f.from !== undefined) q = q.where('at', '>=', f.from);
    if (f.to !== undefined) q = q.where('at', '<=', f.to);
    if (f.before !== undefined) q = q.where('seq', '<', f.before);
    const rows = await q.orderBy('seq', 'desc').limit(f.limit + 1).execute();
    const more = rows.length > f.limit;
    const items = rows.slice(0, f.limit).map(toEntry);
    const unnamed = items.filter((e) => e.target && !e.target.name).map((e) => e.target!);
    if (unnamed.length) {
      const names = await this.targetNames(unnamed);
      for (const e of items) if (e.target && !e.target.name && names.has(refKey(e.target))) e.target.name = names.get(refKey(e.target))!;
    }
    return { items, nextBefore: more ? items[items.length - 1]!.seq : null };
  }

  /**
   * Names of targets (issue 18: names, not ids), keyed `type:id`: users, sessions (their user), API
   * tokens, hosts and jobs from their tables; any other target by the name another entry of the same
   * target recorded (a VPS named at `vps.create` is named at `vps.shutdown` too). Unknown ones are absent.
   */
  async targetNames(refs: readonly { type: string; id: string }[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const byType = new Map<string, Set<string>>();
    for (const r of refs) if (r.id) (byType.get(r.type) ?? byType.set(r.type, new Set()).get(r.type)!).add(r.id);
    for (const [type, set] of byType) {
      const ids = [...set].slice(0, 500);
      const put = (id: string, name: string | null | undefined) => name && out.set(`${type}:${id}`, name.slice(0, 200));
      if (type === 'user') for (const u of await this.db.selectFrom('users').select(['id', 'username']).where('id', 'in', ids).execute()) put(u.id, u.username);
      else if (type === 'session') {
        const rows = await this.db.selectFrom('sessions').innerJoin('users', 'users.id', 'sessions.user_id').select(['sessions.id as id', 'users.username as username']).where('sessions.id', 'in', ids).execute();
        for (const r of rows) put(r.id, `of ${r.username}`);
      } else if (type === 'api_token') for (const t of await this.db.selectFrom('api_tokens').select(['id', 'name']).where('id', 'in', ids).execute()) put(t.id, t.name);
      else if (type === 'host') for (const h of await this.db.selectFrom('hosts').select(['id', 'name']).where('id', 'in', ids).execute()) put(h.id, h.name);
      else if (type === 'job') for (const j of await this.db.selectFrom('jobs').select(['id', 'title']).where('id', 'in', ids).execute()) put(j.id, j.title);
      const missing = ids.filter((id) => !out.has(`${type}:${id}`));
      if (!missing.length) continue;
      // The newest entry of the target that recorded a name (renames win: newest first).
      const rows = await this.db.selectFrom('audit_log').select(['target_id', 'details']).where('target_type', '=', type).where('target_id', 'in', missing).where('details', 'is not', null).orderBy('seq', 'desc').limit(5000).execute();
      for (const r of rows) {
        const key = `${type}:${r.target_id}`;
        if (out.has(key) || !r.details) continue;
        const name = targetName(JSON.parse(r.details) as Record<string, unknown>);
        if (name) out.set(key, name);
      }
    }
    return out;
  }

  /**
   * Walks the whole chain in order, in pages, recomputing every hash, then compares its end with
   * the head published outside the table (`publishedHead`, default: the head file): rows removed
   * from the end, or a tail rewritten from some point on, no longer match it.
   */
  async verify(opts: { publishedHead?: AuditHead | null } = {}): Promise<VerifyResult> {
    let published: AuditHead | null | undefined = opts.publishedHead;
    if (published === undefined && this.opts.headFile) {
      try {
        published = readAuditHeadFile(this.opts.headFile, this.opts.key);
      } catch (e) {
        return { ok: false, checked: 0, reason: (e as Error).message, head: await this.head(), publishedHead: null };
      }
    }
    let prevHash = GENESIS;
    let expectedSeq = 1;
    let checked = 0;
    let keyed = false;
    let atPublished: string | undefined;
    const fail = async (brokenAt: number | undefined, reason: string): Promise<VerifyResult> =>
      ({ ok: false, checked, ...(brokenAt === undefined ? {} : { brokenAt }), reason, head: await this.head(), publishedHead: published ?? null });
    for (;;) {
      const rows = await this.db.selectFrom('audit_log').selectAll().where('seq', '>=', expectedSeq).orderBy('seq').limit(5000).execute();
      if (!rows.length) break;
      for (const r of rows) {
        const seq = Number(r.seq);
        const chain = Number(r.chain ?? 1);
        if (seq !== expectedSeq) return fail(expectedSeq, `entry ${expectedSeq} is missing`);
        if (r.prev_hash !== prevHash) return fail(seq, `entry ${seq} does not link to entry ${seq - 1}`);
        if (chain < AUDIT_CHAIN_VERSION && keyed) return fail(seq, `entry ${seq} uses the old unkeyed hash after keyed entries (forged)`);
        if (chain === AUDIT_CHAIN_VERSION && !this.opts.key) return fail(seq, `entry ${seq} is keyed: verify with the panel's data key`);
        if (chain !== 1 && chain !== AUDIT_CHAIN_VERSION) return fail(seq, `entry ${seq} has an unknown chain version ${chain}`);
        keyed ||= chain === AUDIT_CHAIN_VERSION;
        const { hash: _h, prev_hash: _p, chain: _c, ...base } = r;
        if (entryHash(chain, this.opts.key, prevHash, base) !== r.hash) return fail(seq, `entry ${seq} was altered`);
        if (published && seq === published.seq) atPublished = r.hash;
        prevHash = r.hash;
        expectedSeq++;
        checked++;
      }
    }
    if (published) {
      const last = expectedSeq - 1;
      if (published.seq > last) {
        return fail(last + 1, `entries ${last + 1}..${published.seq} were deleted: the published head is #${published.seq} but the log ends at #${last}`);
      }
      if (atPublished !== published.hash) {
        return fail(published.seq, `entry ${published.seq} does not match the published head: the log was rewritten from there on`);
      }
    }
    return { ok: true, checked, head: await this.head(), publishedHead: published ?? null };
  }
}

const refKey = (t: { type: string; id: string }) => `${t.type}:${t.id}`;

/** The target's name as the entry recorded it: `targetName`, else the name, username, domain or hostname of its details. */
function targetName(details: Record<string, unknown> | null): string | undefined {
  for (const k of ['targetName', 'name', 'username', 'domain', 'hostname']) {
    const v = details?.[k];
    if (typeof v === 'string' && v) return v.slice(0, 200);
  }
  return undefined;
}

function toEntry(r: AuditLogTable): AuditEntry {
  const details = r.details ? (JSON.parse(r.details) as Record<string, unknown>) : null;
  const name = targetName(details);
  return {
    seq: Number(r.seq),
    id: r.id,
    at: Number(r.at),
    actor: { id: r.actor_id, name: r.actor_name, kind: r.actor_kind },
    ip: r.ip,
    userAgent: r.user_agent,
    action: r.action,
    target: r.target_type ? { type: r.target_type, id: r.target_id ?? '', ...(name ? { name } : {}) } : null,
    outcome: r.outcome,
    details,
    hash: r.hash,
  };
}
