import type { Kysely } from 'kysely';
import type { CoreTables } from '../../db/schema.js';

/** What a poll of a schedule's lease found. */
export interface LeaseState {
  /** This replica holds the lease (it renewed or just took it). */
  held: boolean;
  /** It took the lease from another replica whose lease had expired. */
  tookOver: boolean;
  /** The schedule is due now; `claimRun` decides who runs it. */
  due: boolean;
  nextRunAt: number;
}

/**
 * Exactly-once schedules across replicas (issue 15): one row per schedule in `cluster_leases`.
 * A replica holds a schedule while it renews the row before `expires_at`; another one takes it
 * only after that passes. `next_run_at` is shared, so a schedule runs once per interval whichever
 * replica holds it, and a run is claimed by a conditional update (two replicas that both believe
 * they hold the lease still cannot both claim one interval).
 */
export class ScheduleLeases {
  constructor(private readonly db: Kysely<CoreTables>, private readonly holder: string) {}

  /** Takes or renews the lease of `name`; a new row is first due one interval from now (as a timer would be). */
  async poll(name: string, everyMs: number, ttlMs: number): Promise<LeaseState> {
    const now = Date.now();
    const before = await this.db.selectFrom('cluster_leases').select(['holder']).where('name', '=', name).executeTakeFirst();
    const row = await this.db.insertInto('cluster_leases')
      .values({ name, holder: this.holder, expires_at: now + ttlMs, next_run_at: now + everyMs, runs: 0, updated_at: now })
      .onConflict((oc) => oc.column('name').doUpdateSet((eb) => ({ holder: eb.ref('excluded.holder'), expires_at: eb.ref('excluded.expires_at'), updated_at: eb.ref('excluded.updated_at') }))
        .where((eb) => eb.or([eb('cluster_leases.holder', '=', this.holder), eb('cluster_leases.expires_at', '<', now)])))
      .returning(['holder', 'next_run_at'])
      .executeTakeFirst();
    if (!row || row.holder !== this.holder) return { held: false, tookOver: false, due: false, nextRunAt: 0 };
    return { held: true, tookOver: !!before && before.holder !== this.holder, due: Number(row.next_run_at) <= now, nextRunAt: Number(row.next_run_at) };
  }

  /** Claims the due run (moves `next_run_at` one interval on); false when another claim won it. */
  async claimRun(name: string, everyMs: number, dueAt: number): Promise<boolean> {
    const now = Date.now();
    const res = await this.db.updateTable('cluster_leases')
      .set((eb) => ({ next_run_at: now + everyMs, runs: eb('runs', '+', 1), updated_at: now }))
      .where('name', '=', name).where('holder', '=', this.holder).where('next_run_at', '=', dueAt).where('expires_at', '>=', now)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  /** On shutdown: hand the lease over at once instead of after its expiry. */
  async release(names: string[]): Promise<void> {
    if (!names.length) return;
    await this.db.updateTable('cluster_leases').set({ expires_at: 0 }).where('name', 'in', names).where('holder', '=', this.holder).execute();
  }
}
