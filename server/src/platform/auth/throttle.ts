import type { Kysely } from 'kysely';
import type { Dialect } from '../../db/database.js';
import type { CoreTables } from '../../db/schema.js';
import { RateLimitedError } from '../errors.js';

export interface ThrottlePolicy {
  /** Failures within the window that trigger a lockout. */
  maxFailures: number;
  windowMs: number;
  /** First lockout; each further lockout doubles it up to the cap. */
  baseLockMs: number;
  maxLockMs: number;
}

export const ACCOUNT_POLICY: ThrottlePolicy = { maxFailures: 5, windowMs: 15 * 60_000, baseLockMs: 60_000, maxLockMs: 60 * 60_000 };
/** Many people may share one address (NAT, office): a looser limit than per account. */
export const IP_POLICY: ThrottlePolicy = { maxFailures: 25, windowMs: 15 * 60_000, baseLockMs: 60_000, maxLockMs: 60 * 60_000 };

export interface FailureOutcome { lockedUntil: number | null }

/** Progressive sign-in lockout, per account and per client address, stored in `login_throttle`. */
export class LoginThrottle {
  constructor(private readonly db: Kysely<CoreTables>, private readonly dialect: Dialect) {}

  /** Throws 429 (with Retry-After) while any of the keys is locked. */
  async assertNotLocked(keys: string[]): Promise<void> {
    if (!keys.length) return;
    const now = Date.now();
    const rows = await this.db.selectFrom('login_throttle').select(['locked_until']).where('key', 'in', keys).where('locked_until', '>', now).execute();
    const until = Math.max(0, ...rows.map((r) => Number(r.locked_until)));
    if (until > now) {
      throw new RateLimitedError('Too many failed sign-in attempts; try again later', Math.max(1, Math.ceil((until - now) / 1000)));
    }
  }

  async recordFailure(key: string, policy: ThrottlePolicy): Promise<FailureOutcome> {
    const now = Date.now();
    return this.db.transaction().execute(async (trx) => {
      await trx.insertInto('login_throttle').values({ key, failures: 0, window_started_at: now, locked_until: null, lockouts: 0 })
        .onConflict((oc) => oc.column('key').doNothing()).execute();
      let q = trx.selectFrom('login_throttle').selectAll().where('key', '=', key);
      if (this.dialect === 'postgres') q = q.forUpdate();
      const row = await q.executeTakeFirstOrThrow();
      const windowExpired = now - Number(row.window_started_at) > policy.windowMs;
      const failures = (windowExpired ? 0 : Number(row.failures)) + 1;
      const windowStart = windowExpired ? now : Number(row.window_started_at);
      if (failures >= policy.maxFailures) {
        const lockouts = Number(row.lockouts);
        const lockMs = Math.min(policy.maxLockMs, policy.baseLockMs * 2 ** Math.min(lockouts, 20));
        const lockedUntil = now + lockMs;
        await trx.updateTable('login_throttle').set({ failures: 0, window_started_at: now, locked_until: lockedUntil, lockouts: lockouts + 1 }).where('key', '=', key).execute();
        return { lockedUntil };
      }
      await trx.updateTable('login_throttle').set({ failures, window_started_at: windowStart }).where('key', '=', key).execute();
      return { lockedUntil: null };
    });
  }

  async clear(key: string): Promise<void> {
    await this.db.deleteFrom('login_throttle').where('key', '=', key).execute();
  }
}
