import { sql, type Kysely, type Selectable } from 'kysely';
import type { Dialect } from '../../db/database.js';
import type { CoreTables, JobsTable } from '../../db/schema.js';
import type { Actor } from '../rbac/permissions.js';
import type { Role } from '../rbac/roles.js';
import { FINISHED_STATES, type JobListFilters, type JobLogLine, type JobState, type JobStepView, type JobView, type LogStream } from './types.js';

export type JobRow = Selectable<JobsTable>;

/** A line is capped at 8 KB so one runaway command cannot bloat the log table. */
export const MAX_LINE_BYTES = 8 * 1024;

export function truncateLine(line: string): string {
  if (Buffer.byteLength(line, 'utf8') <= MAX_LINE_BYTES) return line;
  const marker = ' …[truncated]';
  let cut = Buffer.from(line, 'utf8').subarray(0, MAX_LINE_BYTES - Buffer.byteLength(marker)).toString('utf8');
  // A cut inside a multi-byte character decodes to U+FFFD: drop it.
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return cut + marker;
}

export function isFinished(state: string): boolean {
  return (FINISHED_STATES as readonly string[]).includes(state);
}

export function parseSteps(row: Pick<JobRow, 'steps'>): JobStepView[] {
  return JSON.parse(row.steps) as JobStepView[];
}

export function toView(row: JobRow): JobView {
  return {
    id: row.id,
    type: row.type,
    title: row.title,
    state: row.state as JobState,
    resource: row.resource,
    steps: parseSteps(row),
    currentStep: Number(row.current_step),
    progress: Number(row.progress),
    error: row.error,
    actor: { id: row.actor_id, name: row.actor_name },
    cancelRequested: Number(row.cancel_requested) === 1,
    createdAt: Number(row.created_at),
    startedAt: row.started_at === null ? null : Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
  };
}

export function actorOf(row: JobRow): Actor {
  return { kind: row.actor_kind as Actor['kind'], userId: row.actor_id, username: row.actor_name ?? 'unknown', role: row.actor_role as Role };
}

/** Overall progress: finished steps count fully, the running one by its own percentage. */
export function overallProgress(steps: JobStepView[]): number {
  if (!steps.length) return 100;
  const sum = steps.reduce((acc, s) => acc + (s.state === 'succeeded' ? 100 : s.state === 'running' ? s.progress : 0), 0);
  return Math.round(sum / steps.length);
}

/** All SQL of the job runner. Execution updates are guarded by the lease owner, so a job whose lease was taken over cannot be written by its old runner. */
export class JobStore {
  constructor(
    readonly db: Kysely<CoreTables>,
    readonly dialect: Dialect,
  ) {}

  async insert(row: JobRow): Promise<void> {
    await this.db.insertInto('jobs').values(row).execute();
  }

  async find(id: string): Promise<JobRow | undefined> {
    return this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async list(filters: JobListFilters, ownerId: string | undefined): Promise<{ rows: JobRow[]; nextBefore: string | null }> {
    let q = this.db.selectFrom('jobs').selectAll();
    if (ownerId !== undefined) q = q.where('actor_id', '=', ownerId);
    if (filters.state?.length) q = q.where('state', 'in', filters.state);
    if (filters.type) {
      // `sites.` or `sites` matches every sites job; `sites.create` that type (and `sites.create.*`).
      // The type is validated as [a-z0-9._-]: only `_` needs escaping for LIKE.
      const t = filters.type.replace(/\.+$/, '');
      const prefix = `${t.replace(/[\\%_]/g, '\\$&')}.%`;
      q = q.where(sql<boolean>`(type = ${t} or type like ${prefix} escape '\\')`);
    }
    if (filters.resource) q = q.where('resource', '=', filters.resource);
    // Ids are UUIDv7: ordering by id is ordering by creation, and a stable keyset.
    if (filters.before) q = q.where('id', '<', filters.before);
    const rows = await q.orderBy('id', 'desc').limit(filters.limit + 1).execute();
    const more = rows.length > filters.limit;
    const page = more ? rows.slice(0, filters.limit) : rows;
    return { rows: page, nextBefore: more ? page[page.length - 1]!.id : null };
  }

  /**
   * Takes the oldest claimable queued job of the given types: one whose resource has no earlier
   * unfinished job (so jobs on one resource run one at a time, in enqueue order). PostgreSQL
   * workers skip rows another worker is claiming; on SQLite the single statement is atomic.
   */
  async claim(types: string[], owner: string, leaseMs: number): Promise<JobRow | undefined> {
    if (!types.length) return undefined;
    const at = Date.now();
    const lock = this.dialect === 'postgres' ? sql`for update of j skip locked` : sql``;
    const result = await sql<JobRow>`
      update jobs set state = 'running', lease_owner = ${owner}, lease_expires_at = ${at + leaseMs},
        attempts = attempts + 1, started_at = coalesce(started_at, ${at}), updated_at = ${at}
      where id = (
        select j.id from jobs j
        where j.state = 'queued' and j.type in (${sql.join(types)})
          and (j.resource is null or not exists (
            select 1 from jobs e where e.resource = j.resource and e.state in ('queued', 'running') and e.id < j.id))
        order by j.id
        limit 1
        ${lock}
      ) and state = 'queued'
      returning *`.execute(this.db);
    return result.rows[0];
  }

  /** Extends the leases of this process's running jobs; returns their cancel flags. */
  async heartbeat(owner: string, ids: string[], leaseMs: number): Promise<Map<string, { cancelRequested: boolean }>> {
    const out = new Map<string, { cancelRequested: boolean }>();
    if (!ids.length) return out;
    await this.db
      .updateTable('jobs')
      .set({ lease_expires_at: Date.now() + leaseMs })
      .where('id', 'in', ids)
      .where('lease_owner', '=', owner)
      .where('state', '=', 'running')
      .execute();
    const rows = await this.db.selectFrom('jobs').select(['id', 'cancel_requested']).where('id', 'in', ids).where('lease_owner', '=', owner).where('state', '=', 'running').execute();
    for (const r of rows) out.set(r.id, { cancelRequested: Number(r.cancel_requested) === 1 });
    return out;
  }

  /** Writes execution progress of a job this process holds; false when the lease is gone. */
  async updateOwned(id: string, owner: string, patch: Partial<JobRow>): Promise<boolean> {
    const r = await this.db
      .updateTable('jobs')
      .set({ ...patch, updated_at: Date.now() })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('state', '=', 'running')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Conditional state change (cancel of a queued job, crash recovery): applies only if the row is still as observed. */
  async transition(id: string, from: { state: string; leaseOwner?: string | null }, patch: Partial<JobRow>): Promise<JobRow | undefined> {
    let q = this.db.updateTable('jobs').set({ ...patch, updated_at: Date.now() }).where('id', '=', id).where('state', '=', from.state);
    if (from.leaseOwner !== undefined) q = from.leaseOwner === null ? q.where('lease_owner', 'is', null) : q.where('lease_owner', '=', from.leaseOwner);
    const r = await q.executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) return undefined;
    return this.find(id);
  }

  async requestCancel(id: string): Promise<void> {
    await this.db.updateTable('jobs').set({ cancel_requested: 1, updated_at: Date.now() }).where('id', '=', id).where('state', '=', 'running').execute();
  }

  async running(): Promise<JobRow[]> {
    return this.db.selectFrom('jobs').selectAll().where('state', '=', 'running').execute();
  }

  async maxSeq(jobId: string): Promise<number> {
    const r = await this.db.selectFrom('job_logs').select((eb) => eb.fn.max('seq').as('max')).where('job_id', '=', jobId).executeTakeFirst();
    return Number(r?.max ?? 0);
  }

  /** Called after lines are committed (replicas relay them to followers elsewhere). */
  onLinesCommitted: ((jobId: string, lines: JobLogLine[]) => void) | null = null;

  async insertLines(jobId: string, lines: JobLogLine[]): Promise<void> {
    if (!lines.length) return;
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('job_logs').values(lines.map((l) => ({ job_id: jobId, seq: l.seq, at: l.at, stream: l.stream, line: l.line }))).execute();
    });
    this.onLinesCommitted?.(jobId, lines);
  }

  /** Appends lines to a job no runner of this process is writing (queued, or being recovered). */
  async appendLines(jobId: string, lines: { stream: LogStream; line: string }[]): Promise<void> {
    const at = Date.now();
    const next = (await this.maxSeq(jobId)) + 1;
    await this.insertLines(jobId, lines.map((l, i) => ({ seq: next + i, at, stream: l.stream, line: truncateLine(l.line) })));
  }

  async readLines(jobId: string, afterSeq: number, limit: number): Promise<JobLogLine[]> {
    const rows = await this.db
      .selectFrom('job_logs')
      .select(['seq', 'at', 'stream', 'line'])
      .where('job_id', '=', jobId)
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ seq: Number(r.seq), at: Number(r.at), stream: r.stream as LogStream, line: r.line }));
  }
}
