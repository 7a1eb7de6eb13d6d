import { randomInt } from 'node:crypto';
import { z } from 'zod';
import {
  type Actor, authorize, ConflictError, DomainRuleError, ErrorResponse, type HttpApp, JobAccepted, type JobService, type JobView,
  NotFoundError, type Permission, resource, type SecretBox,
} from '../../../server/src/sdk.js';
import { sitesPermissions } from './sites.permissions.js';
import { DomainParams, DomainSchema, HostId, HostQuery, WpUser, type Domain } from './sites.schema.js';
import { siteResource, type SitesService } from './sites.service.js';
import type { SitesDb } from './sites.migrations.js';

/**
 * The WordPress admin password of a site (issue 18, item 3): shown once to the user who created the
 * site (WordOps prints it during `wo site create`; the job log redacts it) or who reset it later
 * (`wo site update --password`). Until it is shown it is kept sealed with the module's secret box
 * (`ctx.secretBox('sites wp-admin v1')`), for that one user only; showing it deletes it.
 */
export class WpPasswords {
  constructor(
    private readonly db: SitesDb,
    private readonly box: SecretBox,
    private readonly sites: SitesService,
    private readonly jobs: JobService,
  ) {}

  /** Keeps the password for `userId` (replacing an earlier one that was never shown). */
  async keep(hostId: string, domain: string, userId: string | null, wpUser: string, password: string): Promise<void> {
    if (!userId) return; // a system actor has nobody to show it to
    await this.db.deleteFrom('sites_wp_passwords').where('host_id', '=', hostId).where('domain', '=', domain).execute();
    await this.db.insertInto('sites_wp_passwords').values({ host_id: hostId, domain, user_id: userId, wp_user: wpUser, sealed: this.box.seal(password), created_at: Date.now() }).execute();
  }

  async forget(hostId: string, domain: string): Promise<void> {
    await this.db.deleteFrom('sites_wp_passwords').where('host_id', '=', hostId).where('domain', '=', domain).execute();
  }

  private async site(actor: Actor, permission: Permission, hostId: string, domain: Domain) {
    return authorize(actor, permission, resource('Site', domain, await this.sites.repo.get(hostId, domain), (r) => r.owner_id));
  }

  /** Whether a password waits for this actor (never the password itself). */
  async status(actor: Actor, hostId: string, domain: Domain): Promise<{ waiting: boolean; wpUser: string | null; createdAt: number | null }> {
    await this.site(actor, sitesPermissions.read, hostId, domain);
    const row = await this.db.selectFrom('sites_wp_passwords').selectAll().where('host_id', '=', hostId).where('domain', '=', domain).executeTakeFirst();
    const mine = row && row.user_id === actor.userId;
    return { waiting: !!mine, wpUser: mine ? row.wp_user : null, createdAt: mine ? Number(row.created_at) : null };
  }

  /** Shows the password once, to the user it was kept for; anyone else (and a second look) gets 404. */
  async reveal(actor: Actor, hostId: string, domain: Domain): Promise<{ wpUser: string; password: string }> {
    // A change (it consumes the password): only roles that can create or reset one (never viewer).
    await this.site(actor, sitesPermissions.update, hostId, domain);
    const row = await this.db.selectFrom('sites_wp_passwords').selectAll().where('host_id', '=', hostId).where('domain', '=', domain).executeTakeFirst();
    if (!row || row.user_id !== actor.userId) throw new NotFoundError('Admin password', domain);
    const gone = await this.db.deleteFrom('sites_wp_passwords').where('host_id', '=', hostId).where('domain', '=', domain).where('sealed', '=', row.sealed).executeTakeFirst();
    if (Number(gone.numDeletedRows) !== 1) throw new NotFoundError('Admin password', domain); // shown meanwhile
    return { wpUser: row.wp_user, password: this.box.open(row.sealed) };
  }

  /** Sets a new generated password for a WordPress user of the site (a job); shown once afterwards. */
  async reset(actor: Actor, hostId: string, domain: Domain, wpUser: string): Promise<JobView> {
    const row = await this.site(actor, sitesPermissions.update, hostId, domain);
    if (row.state === 'pending') throw new ConflictError(`Site ${domain} is still being created`);
    if (!['wp', 'wpsubdir', 'wpsubdomain'].includes(row.site_type)) throw new DomainRuleError(`${domain} is not a WordPress site`, 'not_wordpress');
    return this.jobs.launch(actor, {
      type: 'sites.password', input: { hostId, domain, wpUser }, resource: siteResource(hostId, domain),
      audit: { action: 'sites.password.reset', target: { type: 'site', id: `${hostId}:${domain}` }, details: { wpUser } },
    });
  }
}

/** 24 letters and digits (about 143 bits): WordOps puts the password in a shell command, so nothing else. */
export function generateWpPassword(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  return Array.from({ length: 24 }, () => alphabet[randomInt(alphabet.length)]).join('');
}

const PasswordJobInput = z.object({ hostId: HostId, domain: DomainSchema, wpUser: WpUser });

export function defineWpPasswordJob(jobs: JobService, sites: SitesService, passwords: WpPasswords): void {
  jobs.define<z.output<typeof PasswordJobInput>>({
    type: 'sites.password',
    input: PasswordJobInput,
    title: (i) => `Reset the WordPress password of ${i.wpUser} on ${i.domain}`,
    steps: [{
      name: 'wo site update --password',
      async run(ctx) {
        const { hostId, domain, wpUser } = ctx.input;
        // Made here, never in the job's input: it exists only in memory, on `wo`'s stdin and sealed.
        const password = generateWpPassword();
        await sites.cliOn(await ctx.runner(hostId)).setWpPassword(domain, wpUser, password);
        await passwords.keep(hostId, domain, ctx.actor.userId, wpUser, password);
        ctx.log(`The new password of ${wpUser} is shown once on the site's page`, 'info');
      },
    }],
  });
}

const errors = { 400: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 422: ErrorResponse };
const tags = ['sites'];

export function registerWpPasswordRoutes(app: HttpApp, passwords: WpPasswords): void {
  app.get('/sites/:domain/admin-password', {
    config: { permission: sitesPermissions.read },
    schema: {
      operationId: 'getSiteAdminPasswordStatus',
      tags, summary: 'Whether a WordPress admin password waits to be shown to you (never the password)', params: DomainParams, querystring: HostQuery,
      response: { 200: z.object({ waiting: z.boolean(), wpUser: z.string().nullable(), createdAt: z.number().nullable() }), ...errors },
    },
  }, async (req) => passwords.status(req.actor!, req.query.host, req.params.domain));

  app.post('/sites/:domain/admin-password/reveal', {
    config: { permission: sitesPermissions.update },
    schema: {
      operationId: 'revealSiteAdminPassword',
      tags, summary: 'Show the WordPress admin password once (to the user who created or reset it; then it is gone)', params: DomainParams, querystring: HostQuery,
      response: { 200: z.object({ wpUser: z.string(), password: z.string() }), ...errors },
    },
  }, async (req, reply) => {
    void reply.header('cache-control', 'no-store');
    return passwords.reveal(req.actor!, req.query.host, req.params.domain);
  });

  app.post('/sites/:domain/admin-password', {
    config: { permission: sitesPermissions.update },
    schema: {
      operationId: 'resetSiteAdminPassword',
      tags, summary: 'Reset the password of a WordPress user (runs as a job; shown once afterwards)', params: DomainParams,
      body: z.object({ host: HostId.default('local'), wpUser: WpUser.default('admin') }).strict(),
      response: { 202: JobAccepted, ...errors },
    },
  }, async (req, reply) => reply.code(202).send({ job: await passwords.reset(req.actor!, req.body.host, req.params.domain, req.body.wpUser) }));
}
