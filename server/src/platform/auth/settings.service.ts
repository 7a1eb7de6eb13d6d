import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { CoreTables } from '../../db/schema.js';
import type { AuditLog } from '../audit/audit.service.js';
import type { Actor } from '../rbac/permissions.js';
import { requirePermission } from '../rbac/permissions.js';
import { corePermissions } from '../rbac/core-permissions.js';
import { ROLES, type Role } from '../rbac/roles.js';

export const SecuritySettings = z.object({
  require2fa: z.object({
    all: z.boolean(),
    roles: z.array(z.enum(ROLES)).max(ROLES.length),
  }),
});
export type SecuritySettings = z.infer<typeof SecuritySettings>;

const SECURITY_KEY = 'security';
const DEFAULTS: SecuritySettings = { require2fa: { all: false, roles: [] } };

/** Panel-wide security settings (the 2FA requirement), cached in memory: read on every request. */
export class SettingsService {
  private cached: SecuritySettings | undefined;
  constructor(private readonly db: Kysely<CoreTables>, private readonly audit: AuditLog) {}

  async security(): Promise<SecuritySettings> {
    if (this.cached) return this.cached;
    const row = await this.db.selectFrom('settings').select('value').where('key', '=', SECURITY_KEY).executeTakeFirst();
    const parsed = row ? SecuritySettings.safeParse(JSON.parse(row.value)) : undefined;
    this.cached = parsed?.success ? parsed.data : DEFAULTS;
    return this.cached;
  }

  async updateSecurity(actor: Actor, next: SecuritySettings): Promise<SecuritySettings> {
    requirePermission(actor, corePermissions['settings.manage']);
    const value = { require2fa: { all: next.require2fa.all, roles: [...new Set(next.require2fa.roles)] } };
    await putSetting(this.db, SECURITY_KEY, JSON.stringify(value));
    this.cached = value;
    await this.audit.record({ actor, action: 'settings.security.update', target: { type: 'settings', id: SECURITY_KEY }, details: value });
    return value;
  }

  /** Whether a user of this role without 2FA must enrol before doing anything else. */
  requires2fa(settings: SecuritySettings, role: Role): boolean {
    return settings.require2fa.all || settings.require2fa.roles.includes(role);
  }
}

export async function putSetting(db: Kysely<CoreTables>, key: string, value: string): Promise<void> {
  const now = Date.now();
  await db.insertInto('settings').values({ key, value, updated_at: now })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: now })).execute();
}
