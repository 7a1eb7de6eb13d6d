import type { Kysely } from 'kysely';
import { Secret, TOTP } from 'otpauth';
import { newId } from '../../db/ids.js';
import type { CoreTables, UsersTable } from '../../db/schema.js';
import type { AuditLog } from '../audit/audit.service.js';
import { ConflictError, DomainRuleError, ForbiddenError, UnauthorizedError } from '../errors.js';
import type { Actor } from '../rbac/permissions.js';
import type { Role } from '../rbac/roles.js';
import { decryptSecret, encryptSecret, randomReadable, sha256Hex } from './crypto.js';
import { verifyPassword } from './passwords.js';
import type { SettingsService } from './settings.service.js';
import type { LoginThrottle } from './throttle.js';

const ISSUER = 'Slipway';
const TOTP_PARAMS = { algorithm: 'SHA1', digits: 6, period: 30 } as const;
export const RECOVERY_CODE_COUNT = 10;

/** 16 characters from a 32-letter alphabet: 80 bits, so a fast hash is enough to store them. */
function newRecoveryCode(): string {
  return randomReadable(16).match(/.{4}/g)!.join('-');
}
function normaliseRecoveryCode(code: string): string {
  return code.toUpperCase().replace(/[^A-Z0-9]/g, '');
}

/** TOTP second factor: enrol, confirm, verify (each time step once), recovery codes, disable. */
export class TwoFactorService {
  constructor(
    private readonly db: Kysely<CoreTables>,
    private readonly dataKey: Buffer,
    private readonly audit: AuditLog,
    private readonly settings: SettingsService,
    private readonly endOtherSessions: (userId: string, reason: string, keepSessionId?: string) => Promise<unknown>,
    private readonly userChanged: (userId: string) => void,
    private readonly throttle: LoginThrottle,
  ) {}

  private async load(actor: Actor): Promise<UsersTable> {
    if (actor.kind !== 'user' || !actor.userId) throw new ForbiddenError('Two-factor settings can only be changed when signed in as the user', 'user_session_required');
    const u = await this.db.selectFrom('users').selectAll().where('id', '=', actor.userId).executeTakeFirst();
    if (!u) throw new UnauthorizedError();
    return u;
  }

  async enroll(actor: Actor): Promise<{ secret: string; otpauthUri: string }> {
    const user = await this.load(actor);
    if (Number(user.totp_enabled) === 1) throw new ConflictError('Two-factor authentication is already on; disable it first to enrol a new device');
    const secret = new Secret({ size: 20 });
    await this.db.updateTable('users').set({ totp_secret: encryptSecret(this.dataKey, secret.base32), totp_last_step: null, updated_at: Date.now() }).where('id', '=', user.id).execute();
    const uri = new TOTP({ issuer: ISSUER, label: user.username, secret, ...TOTP_PARAMS }).toString();
    await this.audit.record({ actor, action: 'auth.2fa.enroll', target: { type: 'user', id: user.id } });
    return { secret: secret.base32, otpauthUri: uri };
  }

  async confirm(actor: Actor, code: string): Promise<{ recoveryCodes: string[] }> {
    const user = await this.load(actor);
    if (Number(user.totp_enabled) === 1) throw new ConflictError('Two-factor authentication is already on');
    if (!user.totp_secret) throw new DomainRuleError('Start the enrolment first (POST /auth/2fa/enroll)', 'not_enrolled');
    if (!(await this.throttle.confirmPassword(user.id, () => this.consumeTotp(user, code)))) {
      await this.audit.record({ actor, action: 'auth.2fa.confirm', target: { type: 'user', id: user.id }, outcome: 'failure', details: { reason: 'invalid_code' } });
      throw new DomainRuleError('The code is wrong or expired; check the device clock and try the next code', 'invalid_code');
    }
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    const now = Date.now();
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('users').set({ totp_enabled: 1, updated_at: now }).where('id', '=', user.id).execute();
      await trx.deleteFrom('recovery_codes').where('user_id', '=', user.id).execute();
      await trx.insertInto('recovery_codes').values(codes.map((c) => ({ id: newId(), user_id: user.id, code_hash: sha256Hex(normaliseRecoveryCode(c)), used_at: null, created_at: now }))).execute();
    });
    await this.endOtherSessions(user.id, 'two_factor_changed', actor.sessionId);
    this.userChanged(user.id);
    await this.audit.record({ actor, action: 'auth.2fa.confirm', target: { type: 'user', id: user.id } });
    return { recoveryCodes: codes };
  }

  async disable(actor: Actor, password: string, code: string): Promise<void> {
    const user = await this.load(actor);
    if (Number(user.totp_enabled) !== 1) throw new ConflictError('Two-factor authentication is not on');
    const settings = await this.settings.security();
    if (this.settings.requires2fa(settings, user.role as Role)) {
      throw new DomainRuleError('Two-factor authentication is required for your role and cannot be turned off', 'two_factor_required');
    }
    // Password and code are guesses like a sign-in: reserved on the account's throttle first.
    let passwordOk = false;
    let codeOk = false;
    await this.throttle.confirmPassword(user.id, async () => {
      passwordOk = await verifyPassword(user.password_hash, password);
      codeOk = passwordOk && ((await this.consumeTotp(user, code)) || (await this.consumeRecoveryCode(user.id, code)));
      return codeOk;
    });
    if (!passwordOk || !codeOk) {
      await this.audit.record({ actor, action: 'auth.2fa.disable', target: { type: 'user', id: user.id }, outcome: 'failure', details: { reason: passwordOk ? 'invalid_code' : 'invalid_password' } });
      throw passwordOk ? new DomainRuleError('The code is wrong or already used', 'invalid_code') : new ForbiddenError('The password is wrong', 'invalid_password');
    }
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('users').set({ totp_enabled: 0, totp_secret: null, totp_last_step: null, updated_at: Date.now() }).where('id', '=', user.id).execute();
      await trx.deleteFrom('recovery_codes').where('user_id', '=', user.id).execute();
    });
    await this.endOtherSessions(user.id, 'two_factor_changed', actor.sessionId);
    this.userChanged(user.id);
    await this.audit.record({ actor, action: 'auth.2fa.disable', target: { type: 'user', id: user.id } });
  }

  /** Accepts the current code ±1 step; each step is usable once (a replayed code is refused). */
  async consumeTotp(user: UsersTable, code: string): Promise<boolean> {
    if (!user.totp_secret || !/^\d{6}$/.test(code)) return false;
    const secret = Secret.fromBase32(decryptSecret(this.dataKey, user.totp_secret));
    const now = Date.now();
    const delta = TOTP.validate({ token: code, secret, ...TOTP_PARAMS, timestamp: now, window: 1 });
    if (delta === null) return false;
    const step = TOTP.counter({ period: TOTP_PARAMS.period, timestamp: now }) + delta;
    const res = await this.db.updateTable('users').set({ totp_last_step: step }).where('id', '=', user.id)
      .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)])).executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async consumeRecoveryCode(userId: string, code: string): Promise<boolean> {
    const normalised = normaliseRecoveryCode(code);
    if (normalised.length !== 16) return false;
    const res = await this.db.updateTable('recovery_codes').set({ used_at: Date.now() }).where('user_id', '=', userId)
      .where('code_hash', '=', sha256Hex(normalised)).where('used_at', 'is', null).executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }
}
