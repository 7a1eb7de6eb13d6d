import { domainToASCII } from 'node:url';
import type { Kysely } from 'kysely';
import type { CoreConfig } from '../../config.js';
import type { CoreTables } from '../../db/schema.js';
import { AppError } from '../errors.js';
import type { Actor } from '../rbac/permissions.js';

/**
 * Hostname ownership across modules (issue 9, finding 15). A site's domain, and later a
 * container's or an app's hostname, is claimed by its owner before anything reaches an engine:
 * - a second owner's claim of the same name answers 409 `hostname_taken` (two tenants never share
 *   a name, on any host, so neither can receive the other's visitors or certificates);
 * - a `user` (any non-admin) also cannot claim a name *under* or *above* another owner's claim
 *   (`shop.example.com` of someone else's `example.com`, or the reverse): a parent or child
 *   name can set cookies for the other and obtain certificates covering it;
 * - nobody claims the panel's own hostname (SLIPWAY_PUBLIC_URL), and non-admins neither its
 *   subdomains nor its parent domains (cookie tossing onto the panel's session): 409
 *   `hostname_reserved`.
 * Names are compared normalised: lower case, IDN → punycode, trailing dot and a leading `www.`
 * dropped (WordOps serves `www.<domain>` with `<domain>`).
 */

export class HostnameTakenError extends AppError {
  readonly status = 409;
  readonly code = 'hostname_taken';
  constructor(hostname: string) {
    super(`The hostname ${hostname} is already in use by another account`, { hostname });
  }
}

export class HostnameReservedError extends AppError {
  readonly status = 409;
  readonly code = 'hostname_reserved';
  constructor(hostname: string, why: string) {
    super(`The hostname ${hostname} cannot be used: ${why}`, { hostname });
  }
}

export class HostnameInvalidError extends AppError {
  readonly status = 400;
  readonly code = 'validation_failed';
  constructor(input: string, why: string) {
    super(`Not a valid hostname (${JSON.stringify(input.slice(0, 80))}): ${why}`);
  }
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** The comparison form of a hostname: lower-case punycode, no trailing dot, no leading `www.`. */
export function normalizeHostname(input: string): string {
  if (typeof input !== 'string' || !input.trim()) throw new HostnameInvalidError(String(input), 'empty');
  if (/[\s/\\:@?#%\p{C}]/u.test(input)) throw new HostnameInvalidError(input, 'only letters, digits, hyphens and dots');
  const lowered = input.normalize('NFKC').toLowerCase().replace(/\.$/, '');
  const ascii = domainToASCII(lowered);
  if (!ascii) throw new HostnameInvalidError(input, 'not a host name');
  let labels = ascii.split('.');
  if (labels.length > 2 && labels[0] === 'www') labels = labels.slice(1);
  if (labels.some((l) => !LABEL.test(l))) throw new HostnameInvalidError(input, 'a label is not a valid host name label');
  const out = labels.join('.');
  if (out.length > 253) throw new HostnameInvalidError(input, 'longer than 253 characters');
  return out;
}

const isUnder = (name: string, parent: string) => name.endsWith(`.${parent}`);

/** The names the panel itself answers on: its public URL's host (not an IP literal). */
export function panelHostnames(core: Pick<CoreConfig, 'publicUrl'>): string[] {
  const out: string[] = [];
  if (core.publicUrl) {
    const host = new URL(core.publicUrl).hostname.replace(/^\[|\]$/g, '');
    if (!/^[0-9.]+$/.test(host) && !host.includes(':')) {
      try {
        out.push(normalizeHostname(host));
      } catch {
        /* not a name */
      }
    }
  }
  return out;
}

const parse = (r: string): string[] => {
  try {
    const v = JSON.parse(r) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
};

export interface ClaimView { hostname: string; ownerId: string | null; resources: string[] }

/** Staff acting on another user's resource: the claim is that owner's. */
export interface OnBehalf { ownerId?: string | null }

export class HostnameClaims {
  private readonly reserved: string[];

  constructor(private readonly db: Kysely<CoreTables>, opts: { reserved?: readonly string[] } = {}) {
    this.reserved = (opts.reserved ?? []).map(normalizeHostname);
  }

  async get(hostname: string): Promise<ClaimView | undefined> {
    const h = normalizeHostname(hostname);
    const row = await this.db.selectFrom('hostname_claims').selectAll().where('hostname', '=', h).executeTakeFirst();
    return row ? { hostname: row.hostname, ownerId: row.owner_id, resources: parse(row.resources) } : undefined;
  }

  /**
   * Checks that `actor` may use `hostname`, without recording anything (a preflight before other
   * checks). Throws HostnameReservedError / HostnameTakenError. `on.ownerId`: the owner of the
   * resource when staff act on someone else's (the name must be free or that owner's; the reserved
   * names follow the actor's role).
   */
  async check(actor: Actor, hostname: string, on: OnBehalf = {}): Promise<string> {
    const h = normalizeHostname(hostname);
    const admin = actor.role === 'admin';
    const ownerId = on.ownerId !== undefined ? on.ownerId : actor.userId;
    for (const r of this.reserved) {
      if (h === r) throw new HostnameReservedError(h, 'it is the panel\'s own hostname');
      if (!admin && isUnder(h, r)) throw new HostnameReservedError(h, 'it is under the panel\'s own hostname');
      if (!admin && isUnder(r, h)) throw new HostnameReservedError(h, 'the panel\'s own hostname is under it');
    }
    const mine = (owner: string | null) => owner !== null && owner === ownerId;
    const exact = await this.db.selectFrom('hostname_claims').select(['owner_id']).where('hostname', '=', h).executeTakeFirst();
    if (exact && !mine(exact.owner_id) && !(admin && exact.owner_id === null)) throw new HostnameTakenError(h);
    if (!admin) {
      const labels = h.split('.');
      const ancestors = labels.slice(1, -1).map((_l, i) => labels.slice(i + 1).join('.'));
      const related = await this.db.selectFrom('hostname_claims').select(['hostname', 'owner_id'])
        .where((eb) => eb.or([
          ...(ancestors.length ? [eb('hostname', 'in', ancestors)] : []),
          // names are [a-z0-9.-] only: no LIKE wildcard can appear in `h`
          eb('hostname', 'like', `%.${h}`),
        ]))
        .execute();
      if (related.some((r) => !mine(r.owner_id))) throw new HostnameTakenError(h);
    }
    return h;
  }

  /**
   * Records that `resource` of `actor` uses `hostname` (after `check`'s rules). Idempotent for the
   * same owner; a concurrent claim of the same name by another owner loses with 409.
   */
  async claim(actor: Actor, hostname: string, resource: string, on: OnBehalf = {}): Promise<string> {
    const h = await this.check(actor, hostname, on);
    const at = Date.now();
    const owner = on.ownerId !== undefined ? on.ownerId : actor.role === 'admin' && !actor.userId ? null : actor.userId;
    try {
      await this.db.insertInto('hostname_claims').values({ hostname: h, owner_id: owner, resources: JSON.stringify([resource]), created_at: at, updated_at: at }).execute();
      return h;
    } catch (e) {
      // Someone claimed it between the check and the insert (the primary key decides): re-check.
      const row = await this.db.selectFrom('hostname_claims').selectAll().where('hostname', '=', h).executeTakeFirst();
      if (!row) throw e;
      if (!(row.owner_id === owner || (actor.role === 'admin' && row.owner_id === null))) throw new HostnameTakenError(h);
      await this.addResource(h, row.resources, resource);
      return h;
    }
  }

  /**
   * Records a name found on a host (an inventory refresh): owned by `ownerId` (null: nobody yet).
   * Never throws on a conflict: what exists on a host is a fact, and an existing claim is kept.
   */
  async record(hostname: string, ownerId: string | null, resource: string): Promise<void> {
    let h: string;
    try {
      h = normalizeHostname(hostname);
    } catch {
      return;
    }
    const at = Date.now();
    const row = await this.db.selectFrom('hostname_claims').selectAll().where('hostname', '=', h).executeTakeFirst();
    if (row) {
      if (!parse(row.resources).includes(resource)) await this.addResource(h, row.resources, resource);
      return;
    }
    await this.db.insertInto('hostname_claims').values({ hostname: h, owner_id: ownerId, resources: JSON.stringify([resource]), created_at: at, updated_at: at })
      .execute().catch(() => undefined);
  }

  /**
   * An ownerless resource was given an owner (apps found on a Dokku host): its name becomes that
   * owner's when nobody holds it and only this resource uses it. Returns whether it did.
   */
  async assignOwner(hostname: string, resource: string, ownerId: string): Promise<boolean> {
    let h: string;
    try {
      h = normalizeHostname(hostname);
    } catch {
      return false;
    }
    const r = await this.db.updateTable('hostname_claims').set({ owner_id: ownerId, updated_at: Date.now() })
      .where('hostname', '=', h).where('owner_id', 'is', null).where('resources', '=', JSON.stringify([resource])).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** The resource no longer uses the name; the claim goes when no resource is left. */
  async release(hostname: string, resource: string): Promise<void> {
    let h: string;
    try {
      h = normalizeHostname(hostname);
    } catch {
      return;
    }
    const row = await this.db.selectFrom('hostname_claims').selectAll().where('hostname', '=', h).executeTakeFirst();
    if (!row) return;
    const left = parse(row.resources).filter((r) => r !== resource);
    if (!left.length) await this.db.deleteFrom('hostname_claims').where('hostname', '=', h).where('resources', '=', row.resources).execute();
    else await this.db.updateTable('hostname_claims').set({ resources: JSON.stringify(left), updated_at: Date.now() }).where('hostname', '=', h).execute();
  }

  private async addResource(h: string, current: string, resource: string): Promise<void> {
    const list = parse(current);
    if (list.includes(resource)) return;
    await this.db.updateTable('hostname_claims').set({ resources: JSON.stringify([...list, resource]), updated_at: Date.now() })
      .where('hostname', '=', h).where('resources', '=', current).execute();
  }
}
