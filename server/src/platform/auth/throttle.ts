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

export interface ThrottleKey { key: string; policy: ThrottlePolicy }
export interface FailureOutcome { key: string; lockedUntil: number | null }

/**
 * One attempt, counted as a failure from the moment it was reserved until it is released.
 * Exactly one of `failed()` or `succeeded()` should be called; a crash in between leaves the
 * attempt counted (fails closed; the window expires it).
 */
export interface Reservation {
  /** The attempt failed: it stays counted; a key that reached its policy is locked. */
  failed(): Promise<FailureOutcome[]>;
  /** The attempt was not a failure: it no longer counts. `clear` keys lose their whole history. */
  succeeded(opts?: { clear?: string[] }): Promise<void>;
}

const lockedError = (until: number, now: number) =>
  new RateLimitedError('Too many failed sign-in attempts; try again later', Math.max(1, Math.ceil((until - now) / 1000)));

/**
 * Progressive sign-in lockout, per account and per client address, stored in `login_throttle`.
 *
 * Each attempt is reserved atomically (one transaction, rows locked on PostgreSQL, SQLite
 * serialises writers) *before* the password or code is checked: the reservation counts as a
 * failure, so N parallel attempts can never check more than `maxFailures` guesses per window —
 * the rest are refused with 429 without touching the password hash.
 */
export class LoginThrottle {
  constructor(private readonly db: Kysely<CoreTables>, private readonly dialect: Dialect) {}

  /** Throws 429 (with Retry-After) while any of the keys is locked. */
  async assertNotLocked(keys: string[]): Promise<void> {
    if (!keys.length) return;
    const now = Date.now();
    const rows = await this.db.selectFrom('login_throttle').select(['locked_until']).where('key', 'in', keys).where('locked_until', '>', now).execute();
    const until = Math.max(0, ...rows.map((r) => Number(r.locked_until)));
    if (until > now) throw lockedError(until, now);
  }

  /** Reserves one attempt on every key, or throws 429 and reserves nothing. */
  async reserve(keys: ThrottleKey[]): Promise<Reservation> {
    const sorted = [...new Map(keys.map((k) => [k.key, k])).values()].sort((a, b) => (a.key < b.key ? -1 : 1));
    const now = Date.now();
    await this.db.transaction().execute(async (trx) => {
      for (const { key } of sorted) {
        await trx.insertInto('login_throttle').values({ key, failures: 0, window_started_at: now, locked_until: null, lockouts: 0 })
          .onConflict((oc) => oc.column('key').doNothing()).execute();
      }
      for (const { key, policy } of sorted) {
        let q = trx.selectFrom('login_throttle').selectAll().where('key', '=', key);
        if (this.dialect === 'postgres') q = q.forUpdate();
        const row = await q.executeTakeFirstOrThrow();
        const lockedUntil = row.locked_until === null ? 0 : Number(row.locked_until);
        if (lockedUntil > now) throw lockedError(lockedUntil, now);
        const windowExpired = now - Number(row.window_started_at) > policy.windowMs;
        const failures = windowExpired ? 0 : Number(row.failures);
        // Attempts in flight already use up the allowance: refuse without checking anything.
        if (failures + 1 > policy.maxFailures) throw lockedError(now + policy.baseLockMs, now);
        await trx.updateTable('login_throttle').set({ failures: failures + 1, window_started_at: windowExpired ? now : Number(row.window_started_at) })
          .where('key', '=', key).execute();
      }
    });
    let settled = false;
    const once = () => {
      if (settled) throw new Error('reservation already settled');
      settled = true;
    };
    return {
      failed: async () => {
        once();
        const out: FailureOutcome[] = [];
        for (const k of sorted) out.push({ key: k.key, lockedUntil: await this.lockIfDue(k) });
        return out;
      },
      succeeded: async (opts = {}) => {
        once();
        for (const { key } of sorted) {
          if (opts.clear?.includes(key)) await this.clear(key);
          else await this.db.updateTable('login_throttle').set((eb) => ({ failures: eb('failures', '-', 1) })).where('key', '=', key).where('failures', '>', 0).execute();
        }
      },
    };
  }

  /** After a confirmed failure: locks the key once its failures reached the policy. */
  private async lockIfDue({ key, policy }: ThrottleKey): Promise<number | null> {
    const now = Date.now();
    return this.db.transaction().execute(async (trx) => {
      let q = trx.selectFrom('login_throttle').selectAll().where('key', '=', key);
      if (this.dialect === 'postgres') q = q.forUpdate();
      const row = await q.executeTakeFirst();
      if (!row) return null;
      if (row.locked_until !== null && Number(row.locked_until) > now) return null;
      if (Number(row.failures) < policy.maxFailures) return null;
      const lockouts = Number(row.lockouts);
      const lockedUntil = now + Math.min(policy.maxLockMs, policy.baseLockMs * 2 ** Math.min(lockouts, 20));
      await trx.updateTable('login_throttle').set({ failures: 0, window_started_at: now, locked_until: lockedUntil, lockouts: lockouts + 1 }).where('key', '=', key).execute();
      return lockedUntil;
    });
  }

  /**
   * Routes that confirm the current password or a code (password change, turning 2FA off) share
   * the account's sign-in throttle: each check is reserved first, so a stolen session cannot be
   * used to guess the password faster than the sign-in form allows.
   */
  async confirmPassword(userId: string, check: () => Promise<boolean>): Promise<boolean> {
    const attempt = await this.reserve([{ key: `user:${userId}`, policy: ACCOUNT_POLICY }]);
    let ok = false;
    try {
      ok = await check();
    } finally {
      if (ok) await attempt.succeeded();
      else await attempt.failed();
    }
    return ok;
  }

  /** Counts one failure now (reserve + failed in one go). */
  async recordFailure(key: string, policy: ThrottlePolicy): Promise<{ lockedUntil: number | null }> {
    const r = await this.reserve([{ key, policy }]);
    const [o] = await r.failed();
    return { lockedUntil: o?.lockedUntil ?? null };
  }

  async clear(key: string): Promise<void> {
    await this.db.deleteFrom('login_throttle').where('key', '=', key).execute();
  }
}
