import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { newId } from '../../db/ids.js';
import type { Dialect } from '../../db/database.js';
import type { AuditLogTable, CoreTables } from '../../db/schema.js';
import type { Actor } from '../rbac/permissions.js';
import type { EventBus } from '../events/event-bus.js';

export const AUDIT_OUTCOMES = ['success', 'failure', 'denied'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export interface AuditInput {
  actor: Actor;
  action: string;
  target?: { type: string; id: string };
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
  target: { type: string; id: string } | null;
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

function entryHash(prevHash: string, row: Omit<AuditLogTable, 'hash' | 'prev_hash'>): string {
  const canonical = JSON.stringify([
    prevHash, Number(row.seq), row.id, Number(row.at), row.actor_id, row.actor_name, row.actor_kind, row.ip,
    row.user_agent, row.action, row.target_type, row.target_id, row.outcome, row.details,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * Append-only audit log; each entry is chained to the previous one by SHA-256 so an edited,
 * deleted or reordered row is detectable by `verify()` (`slipway audit verify`).
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
  ) {}

  async record(input: AuditInput): Promise<AuditEntry> {
    const [entry] = await this.recordMany([input]);
    return entry!;
  }

  /** Appends several entries in one transaction, in order (imports, seeding, batched events). */
  async recordMany(inputs: readonly AuditInput[]): Promise<AuditEntry[]> {
    const rows = await this.db.transaction().execute(async (trx) => {
      // Serialise appends so the chain has one head (SQLite transactions already serialise).
      if (this.dialect === 'postgres') await sql`select pg_advisory_xact_lock(7214001)`.execute(trx);
      const last = await trx.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
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
          details: input.details ? JSON.stringify(redact(input.details)) : null,
        };
        const full: AuditLogTable = { ...base, prev_hash: prevHash, hash: entryHash(prevHash, base) };
        prevHash = full.hash;
        out.push(full);
      }
      // Chunked multi-row inserts stay under SQLite's bound-parameter limit.
      for (let i = 0; i < out.length; i += 500) await trx.insertInto('audit_log').values(out.slice(i, i + 500)).execute();
      return out;
    });
    this.pageCache.clear();
    const entries = rows.map(toEntry);
    for (const entry of entries) {
      this.events?.publish({ type: 'audit.created', resource: { type: 'audit', id: entry.id }, data: { action: entry.action, outcome: entry.outcome } });
    }
    return entries;
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
    return { items, nextBefore: more ? items[items.length - 1]!.seq : null };
  }

  /** Walks the whole chain in order, in pages, recomputing every hash. */
  async verify(): Promise<VerifyResult> {
    let prevHash = GENESIS;
    let expectedSeq = 1;
    let checked = 0;
    for (;;) {
      const rows = await this.db.selectFrom('audit_log').selectAll().where('seq', '>=', expectedSeq).orderBy('seq').limit(5000).execute();
      if (!rows.length) return { ok: true, checked };
      for (const r of rows) {
        const seq = Number(r.seq);
        if (seq !== expectedSeq) return { ok: false, checked, brokenAt: expectedSeq, reason: `entry ${expectedSeq} is missing` };
        if (r.prev_hash !== prevHash) return { ok: false, checked, brokenAt: seq, reason: `entry ${seq} does not link to entry ${seq - 1}` };
        const { hash: _h, prev_hash: _p, ...base } = r;
        if (entryHash(prevHash, base) !== r.hash) return { ok: false, checked, brokenAt: seq, reason: `entry ${seq} was altered` };
        prevHash = r.hash;
        expectedSeq++;
        checked++;
      }
    }
  }
}

function toEntry(r: AuditLogTable): AuditEntry {
  return {
    seq: Number(r.seq),
    id: r.id,
    at: Number(r.at),
    actor: { id: r.actor_id, name: r.actor_name, kind: r.actor_kind },
    ip: r.ip,
    userAgent: r.user_agent,
    action: r.action,
    target: r.target_type ? { type: r.target_type, id: r.target_id ?? '' } : null,
    outcome: r.outcome,
    details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : null,
    hash: r.hash,
  };
}
