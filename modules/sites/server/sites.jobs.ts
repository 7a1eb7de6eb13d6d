import { z } from 'zod';
import { type JobContext, type JobService } from '../../../server/src/sdk.js';
import {
  CACHE_TYPES, DnsProvider, DomainSchema, HostId, LETSENCRYPT_MODES, PHP_VERSIONS, SITE_TYPES, WpEmail, WpUser,
} from './sites.schema.js';
import type { SitesService } from './sites.service.js';
import { WoCertificateError, WoSiteExistsError, type WoExecOptions, type WordOpsCli } from './wordops.cli.js';

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

/** `wo`'s output goes line by line into the job log (cleaned of colours, secrets redacted). */
function exec(ctx: JobContext<unknown>): WoExecOptions {
  return {
    signal: ctx.signal,
    onLine: (line, stream) => ctx.log(line, stream),
    onCommand: (argv) => ctx.log(`$ ${argv.join(' ')}`, 'info'),
  };
}

async function woStep<I>(_ctx: JobContext<I>, sites: SitesService, hostId: string, run: (cli: WordOpsCli) => Promise<unknown>): Promise<void> {
  await run(await sites.cli(hostId));
}

export function defineSiteJobs(jobs: JobService, sites: SitesService): void {
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
            await woStep(ctx, sites, hostId, (cli) => cli.createSite(domain, options, exec(ctx)));
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
    title: (i) => `Update site ${i.domain}: ${Object.keys(i.change).filter((k) => k !== 'siteType' && k !== 'dnsProvider').join(', ')}`,
    steps: [
      {
        name: 'enable',
        async run(ctx) {
          const { hostId, domain, change } = ctx.input;
          if (change.enabled !== true) return;
          await woStep(ctx, sites, hostId, (cli) => cli.setEnabled(domain, true, exec(ctx)));
        },
        async undo(ctx) {
          const { hostId, domain, change } = ctx.input;
          if (change.enabled !== true) return;
          await woStep(ctx, sites, hostId, (cli) => cli.setEnabled(domain, false, exec(ctx)));
        },
      },
      {
        name: 'PHP version',
        async run(ctx) {
          const { hostId, domain, change } = ctx.input;
          if (!change.php) return;
          await woStep(ctx, sites, hostId, (cli) => cli.updateSite(domain, { kind: 'php', php: change.php! }, exec(ctx)));
        },
        async undo(ctx) {
          const { hostId, domain, change } = ctx.input;
          if (!change.php || !change.previousPhp) return;
          await woStep(ctx, sites, hostId, (cli) => cli.updateSite(domain, { kind: 'php', php: change.previousPhp! }, exec(ctx)));
        },
      },
      {
        name: 'cache',
        async run(ctx) {
          const { hostId, domain, change } = ctx.input;
          if (!change.cache || !change.siteType) return;
          await woStep(ctx, sites, hostId, (cli) => cli.updateSite(domain, { kind: 'cache', siteType: change.siteType!, cache: change.cache! }, exec(ctx)));
        },
        async undo(ctx) {
          const { hostId, domain, change } = ctx.input;
          if (!change.cache || !change.siteType || !change.previousCache) return;
          await woStep(ctx, sites, hostId, (cli) => cli.updateSite(domain, { kind: 'cache', siteType: change.siteType!, cache: change.previousCache! }, exec(ctx)));
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
            : { kind: 'ssl', on: false }, exec(ctx)));
        },
      },
      {
        name: 'HSTS',
        async run(ctx) {
          const { hostId, domain, change } = ctx.input;
          if (change.hsts === undefined) return;
          await woStep(ctx, sites, hostId, (cli) => cli.updateSite(domain, { kind: 'hsts', on: change.hsts! }, exec(ctx)));
        },
      },
      {
        name: 'renew certificate',
        async run(ctx) {
          const { hostId, domain, change } = ctx.input;
          if (!change.renew) return;
          try {
            await woStep(ctx, sites, hostId, (cli) => cli.updateSite(domain, { kind: 'renew' }, exec(ctx)));
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
          await woStep(ctx, sites, hostId, (cli) => cli.setEnabled(domain, false, exec(ctx)));
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
          await woStep(ctx, sites, hostId, (cli) => cli.deleteSite(domain, { keepDatabase, keepFiles }, exec(ctx)));
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
