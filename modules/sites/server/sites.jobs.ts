import { z } from 'zod';
import { type JobContext, type JobService } from '../../../server/src/sdk.js';
import {
  CACHE_TYPES, DnsProvider, DomainSchema, HostId, LETSENCRYPT_MODES, PHP_VERSIONS, SITE_TYPES, WpEmail, WpUser,
} from './sites.schema.js';
import type { WpPasswords } from './sites.admin-password.js';
import type { SitesService } from './sites.service.js';
import { WoCertificateError, WoSiteExistsError, type WordOpsCli } from './wordops.cli.js';

const CreateJobInput = z.object({
  hostId: HostId,
  domain: DomainSchema,
  /** For the record only: the owner is written (pending row) before the job runs, never by it. */
  ownerId: z.string().nullable(),
  options: z.object({
    type: z.enum(SITE_TYPES),
    php: z.enum(PHP_VERSIONS).optional(),
    cache: z.enum(CACHE_TYPES).optional(),
    letsencrypt: z.enum(LETSENCRYPT_MODES),
    dnsProvider: DnsProvider.optional(),
    hsts: z.boolean(),
    adminUser: WpUser.optional(),
    adminEmail: WpEmail.optional(),
    proxy: z.object({ host: z.string(), port: z.number().int().min(1).max(65535) }).optional(),
  }),
});

const UpdateJobInput = z.object({
  hostId: HostId,
  domain: DomainSchema,
  change: z.object({
    enabled: z.boolean().optional(),
    php: z.enum(PHP_VERSIONS).optional(),
    previousPhp: z.enum(PHP_VERSIONS).optional(),
    cache: z.enum(CACHE_TYPES).optional(),
    previousCache: z.enum(CACHE_TYPES).optional(),
    siteType: z.enum(SITE_TYPES).optional(),
    ssl: z.boolean().optional(),
    letsencrypt: z.enum(['on', 'subdomain', 'wildcard']).optional(),
    dnsProvider: DnsProvider.optional(),
    hsts: z.boolean().optional(),
    renew: z.boolean().optional(),
  }),
});

const DeleteJobInput = z.object({ hostId: HostId, domain: DomainSchema, keepDatabase: z.boolean(), keepFiles: z.boolean() });

type CreateIn = z.output<typeof CreateJobInput>;
type UpdateIn = z.output<typeof UpdateJobInput>;
type DeleteIn = z.output<typeof DeleteJobInput>;

/**
 * `wo` runs on the step's `ctx.runner(hostId)`: the adapter shows its argv and each output line
 * (cleaned of colours, secrets redacted) in the job log, and cancelling the job kills it.
 */
async function woStep<I>(ctx: JobContext<I>, sites: SitesService, hostId: string, run: (cli: WordOpsCli) => Promise<unknown>): Promise<void> {
  await run(sites.cliOn(await ctx.runner(hostId)));
}

/** The change in words for the job's title (and the "Started" toast): never the input's field names. */
export function updateTitle(c: UpdateIn['change']): string {
  const parts: string[] = [];
  if (c.php) parts.push(`PHP ${c.previousPhp ? `${c.previousPhp} → ` : ''}${c.php}`);
  if (c.cache) parts.push(`page cache ${c.previousCache ? `${c.previousCache} → ` : ''}${c.cache}`);
  if (c.ssl !== undefined) parts.push(`SSL ${c.ssl ? 'on' : 'off'}`);
  if (c.hsts !== undefined) parts.push(`HSTS ${c.hsts ? 'on' : 'off'}`);
  if (c.enabled !== undefined) parts.push(c.enabled ? 'enable' : 'disable');
  if (c.renew) parts.push('renew the certificate');
  return parts.join(', ') || 'no change';
}

export function defineSiteJobs(jobs: JobService, sites: SitesService, passwords?: WpPasswords): void {
  jobs.define<CreateIn>({
    type: 'sites.create',
    input: CreateJobInput,
    title: (i) => `Create ${i.options.type} site ${i.domain}`,
    steps: [
      {
        name: 'wo site create',
        async run(ctx) {
          const { hostId, domain, options } = ctx.input;
          try {
            await woStep(ctx, sites, hostId, async (cli) => {
              const created = await cli.createSite(domain, options);
              // The admin password WordOps printed: sealed for the creator, shown once (issue 18).
              if (created.wpAdmin && passwords) {
                await passwords.keep(hostId, domain, ctx.actor.userId, created.wpAdmin.user, created.wpAdmin.password);
                ctx.log(`The password of the WordPress admin ${created.wpAdmin.user} is shown once to you on the site's page`, 'info');
              }
              else await passwords?.forget(hostId, domain);
            });
          } catch (e) {
            if (e instanceof WoCertificateError) {
              // WordOps creates the site before issuing the certificate (site_create.py 545-655): the
              // site is the one this job created, for the owner recorded before `wo` ran.
              const site = await sites.refreshSite(hostId, domain, { deep: true, readyFor: ctx.job.id }).catch(() => undefined);
              if (site) {
                ctx.log(`The site was created without SSL: ${e.message}`, 'warn');
                await sites.alert(site, 'renewal_failed', null, `Let's Encrypt could not issue a certificate for ${domain}: ${e.message}`);
              }
              throw e;
            }
            // Any other failure: nobody becomes the owner of anything. "Already exists" means the site
            // was there before this job (it belongs to whoever had it); a half-made site is recorded
            // ownerless for an admin to clean up.
            await sites.abandonCreate(hostId, domain, ctx.job.id);
            const left = await sites.refreshSite(hostId, domain).catch(() => undefined);
            if (e instanceof WoSiteExistsError) ctx.log(`${domain} already exists on the host; it was not assigned to you`, 'warn');
            else if (left) ctx.log(`WordOps left ${domain} on the host after the failure; it is listed without an owner for an administrator to remove`, 'warn');
            throw e;
          }
        },
      },
      {
        name: 'refresh inventory',
        idempotent: true,
        async run(ctx) {
          const { hostId, domain, options } = ctx.input;
          const site = await sites.refreshSite(hostId, domain, { deep: true, readyFor: ctx.job.id, hsts: options.letsencrypt !== 'off' ? options.hsts : null });
          ctx.log(site ? `Inventory: ${domain} is ${site.site_type}${site.cache_type ? ` ${site.cache_type}` : ''}, SSL ${site.ssl ? 'on' : 'off'}` : `Inventory: ${domain} not found after create`, 'info');
          if (!site) await sites.abandonCreate(hostId, domain, ctx.job.id);
        },
      },
    ],
  });

  jobs.define<UpdateIn>({
    type: 'sites.update',
    input: UpdateJobInput,
    title: (i) => `Update site ${i.domain}: ${updateTitle(i.change)}`,
    steps: [
      {
        name: 'enable',
        async run(ctx) {
          const { hostId, domain, change } = ctx.input;
          if (change.enabled !== true) return;
          await woStep(ctx, sites, hostId, (cli) => cli.setEnabled(domain, true));
        },
        async undo(ctx) {
          const { hostId, domain, change } = ctx.input;
          if (change.enabled !== true) return;
          await woStep(ctx, sites, hostId, (cli) => cli.setEnabled(domain, false));
        },
      },
      {
        name: 'PHP version',
        async run(ctx) {
          const { hostId, domain, change } = ctx.input;
          if (!change.php) return;
          await woStep(ctx, sites, hostId, (cli) => cli.updateSite(domain, { kind: 'php', php: change.php! }));
        },
        async undo(ctx) {
          const { hostId, domain, change } = ctx.input;
          if (!change.php || !change.previousPhp) return;
          await woStep(ctx, sites, hostId, (cli) => cli.updateSite(domain, { kind: 'php', php: change.previousPhp! }));
        },
      },
      {
        name: 'cache',
        async run(ctx) {
          const { hostId, domain, change } = ctx.input;
          if (!change.cache || !change.siteType) return;
          await woStep(ctx, sites, hostId, (cli) => cli.updateSite(domain, { kind: 'cache', siteType: change.siteType!, cache: change.cache! }));
        },
        async undo(ctx) {
          const { hostId, domain, change } = ctx.input;
          if (!change.cache || !change.siteType || !change.previousCache) return;
          await woStep(ctx, sites, hostId, (cli) => cli.updateSite(domain, { kind: 'cache', siteType: change.siteType!, cache: change.previousCache! }));
        },
      },
      // SSL, HSTS and renewal have no undo: an issuance counts against Let's Encrypt's rate limits,
      // and turning SSL back off would break a site that was just made HTTPS-only.
      {
        name: 'SSL',
        async run(ctx) {
          const { hostId, domain, change } = ctx.input;
          if (change.ssl === undefined) return;
          await woStep(ctx, sites, hostId, (cli) => cli.updateSite(domain, change.ssl
            ? { kind: 'ssl', on: true, mode: change.letsencrypt ?? 'on', ...(change.dnsProvider ? { dnsProvider: change.dnsProvider } : {}) }
            : { kind: 'ssl', on: false }));
        },
      },
      {
        name: 'HSTS',
        async run(ctx) {
          const { hostId, domain, change } = ctx.input;
          if (change.hsts === undefined) return;
          await woStep(ctx, sites, hostId, (cli) => cli.updateSite(domain, { kind: 'hsts', on: change.hsts! }));
        },
      },
      {
        name: 'renew certificate',
        async run(ctx) {
          const { hostId, domain, change } = ctx.input;
          if (!change.renew) return;
          try {
            await woStep(ctx, sites, hostId, (cli) => cli.updateSite(domain, { kind: 'renew' }));
          } catch (e) {
            if (e instanceof WoCertificateError) {
              const site = await sites.repo.get(hostId, domain);
              if (site) await sites.alert(site, 'renewal_failed', site.ssl_days_left, `Renewing the certificate of ${domain} failed: ${e.message}`);
            }
            throw e;
          }
          await sites.repo.resolveAlerts(hostId, domain, ['renewal_failed']);
        },
      },
      {
        name: 'disable',
        async run(ctx) {
          const { hostId, domain, change } = ctx.input;
          if (change.enabled !== false) return;
          await woStep(ctx, sites, hostId, (cli) => cli.setEnabled(domain, false));
        },
      },
      {
        name: 'refresh inventory',
        idempotent: true,
        async run(ctx) {
          const { hostId, domain, change } = ctx.input;
          const hsts = change.ssl === false ? false : change.hsts;
          await sites.refreshSite(hostId, domain, { deep: true, ...(hsts !== undefined ? { hsts } : {}) });
          await sites.checkCertificates(hostId);
        },
      },
    ],
  });

  jobs.define<DeleteIn>({
    type: 'sites.delete',
    input: DeleteJobInput,
    title: (i) => `Delete site ${i.domain}${i.keepDatabase ? ' (keep database)' : ''}${i.keepFiles ? ' (keep files)' : ''}`,
    steps: [
      {
        name: 'wo site delete',
        async run(ctx) {
          const { hostId, domain, keepDatabase, keepFiles } = ctx.input;
          await woStep(ctx, sites, hostId, (cli) => cli.deleteSite(domain, { keepDatabase, keepFiles }));
        },
      },
      {
        name: 'refresh inventory',
        idempotent: true,
        async run(ctx) {
          const { hostId, domain } = ctx.input;
          const left = await sites.refreshSite(hostId, domain);
          ctx.log(left ? `WordOps still lists ${domain}` : `${domain} removed from the inventory`, left ? 'warn' : 'info');
        },
      },
    ],
  });
}
