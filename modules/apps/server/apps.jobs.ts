import { z } from 'zod';
import { ExecError, type JobContext, type JobService } from '../../../server/src/sdk.js';
import {
  AppNameSchema, GitRefSchema, ImageRefSchema, parseEnvKey, parseGitRepoUrl, parseProcessCount, parseProcessType, HostId,
  type AppName, type EnvKey, type GitRef, type GitRepoUrl, type ImageRef, type ProcessType,
} from './apps.schema.js';
import { APP_JOBS, type AppsService, type RuntimeOp } from './apps.service.js';
import { DokkuAppNotFoundError, DokkuChecksFailedError, type DokkuCli, type RunOptions } from './dokku.cli.js';

/**
 * The apps module's jobs. Every job is locked on its app (`app:<host>:<name>`), so deploys,
 * config changes and restarts of one app run one after another in the order they were asked
 * for, and a second deploy waits visibly instead of failing on Dokku's deploy lock. Dokku's
 * output goes line by line into the job log, cleaned and with secrets redacted by the adapter.
 */

const GitRepoSchema = z.string().max(2048).transform((v, ctx): GitRepoUrl => {
  try {
    return parseGitRepoUrl(v, { allowInsecure: true }).url;
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});
const EnvKeySchema = z.string().max(128).transform((v, ctx): EnvKey => {
  try {
    return parseEnvKey(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

const Source = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('image'), image: ImageRefSchema }),
  z.object({ kind: z.literal('git'), repo: GitRepoSchema, ref: GitRefSchema }),
]);
const DeployInput = z.object({ hostId: HostId, app: AppNameSchema, source: Source, rollbackOf: z.number().int().nullable() });
type DeployIn = { hostId: string; app: AppName; source: { kind: 'image'; image: ImageRef } | { kind: 'git'; repo: GitRepoUrl; ref: GitRef }; rollbackOf: number | null };

const ConfigInput = z.object({
  hostId: HostId, app: AppNameSchema,
  /** Values sealed with the module key: the jobs table never stores them in clear. */
  set: z.record(z.string(), z.string().startsWith('v1.')),
  unset: z.array(EnvKeySchema),
  restart: z.boolean(),
});
type ConfigIn = { hostId: string; app: AppName; set: Record<string, string>; unset: EnvKey[]; restart: boolean };

const RuntimeInput = z.object({
  hostId: HostId, app: AppNameSchema,
  op: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('ps'), action: z.enum(['start', 'stop', 'restart', 'rebuild']) }),
    z.object({ kind: z.literal('scale'), processes: z.array(z.tuple([z.string(), z.number()])).min(1).max(20) }),
    z.object({ kind: z.literal('letsencrypt'), enable: z.boolean() }),
  ]),
});
type RuntimeIn = { hostId: string; app: AppName; op: RuntimeOp };

const DestroyInput = z.object({ hostId: HostId, app: AppNameSchema });
type DestroyIn = { hostId: string; app: AppName };

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));


/** The build this deploy started: the first one Dokku recorded after it began. */
async function buildOf(cli: DokkuCli, app: AppName, startedAt: number) {
  const builds = await cli.listBuilds(app).catch(() => []);
  // (a second of slack: a host may record whole seconds)
  return builds.filter((b) => b.startedAt >= startedAt - 1000).sort((a, b) => a.startedAt - b.startedAt)[0];
}

function deploySteps(apps: AppsService) {
  return [
    {
      name: 'deploy',
      async run(ctx: JobContext<DeployIn>) {
        const { hostId, app, source } = ctx.input;
        const cli = await apps.cli(hostId, ctx);
        // builds:cancel and builds:list settle a cancelled deploy, so they run outside the job's signal.
        const control = await apps.cli(hostId);
        await apps.deployRecord(ctx.job.id);
        const startedAt = Date.now();
        await apps.repo.updateDeploy(ctx.job.id, { started_at: startedAt });
        await apps.repo.setLastDeploy(hostId, app, { jobId: ctx.job.id, outcome: null, at: startedAt });
        apps.publishChanged(hostId, app, { jobId: ctx.job.id, deploy: 'running' });
        const env = await cli.configExport(app).catch(() => ({} as Record<string, string>));
        const secrets = await apps.secretValues(hostId, app, env);
        Object.assign(ctx.state, { startedAt, configDigest: apps.box.digest(env) });
        await ctx.saveState();

        // A cancel (or the panel stopping) ends the build on Dokku's side first (`builds:cancel`
        // releases its deploy lock and marks the build canceled); the command itself is only
        // killed if it is still there a few seconds later.
        const kill = new AbortController();
        let cancelling: Promise<void> | null = null;
        const cancelBuild = (why: string) => (cancelling ??= (async () => {
          ctx.log(`${why}: builds:cancel ${app}`, 'warn');
          try {
            const r = await control.cancelBuild(app);
            ctx.log(r.message || 'builds:cancel: done', 'warn');
          } catch (e) {
            ctx.log(`builds:cancel failed: ${message(e)}`, 'error');
          }
          setTimeout(() => kill.abort(), 5000).unref();
        })());
        const onAbort = () => void cancelBuild(ctx.signal.reason === 'cancelled' ? 'Cancel requested' : 'The panel is stopping');
        ctx.signal.addEventListener('abort', onAbort, { once: true });
        if (ctx.signal.aborted) onAbort();
        const o: RunOptions = { secrets, signal: kill.signal, ownCancel: true, timeoutMs: apps.config.deployTimeoutMinutes * 60_000 };
        try {
          const result = source.kind === 'image' ? await cli.deployFromImage(app, source.image, o) : await cli.syncFromGit(app, source.repo, source.ref, o);
          Object.assign(ctx.state, { finishedAt: Date.now(), url: result.urls[0] ?? null });
          await ctx.saveState();
        } catch (e) {
          if (e instanceof ExecError && e.reason === 'timeout') await cancelBuild('The deploy took too long');
          await cancelling;
          const cancelled = ctx.signal.aborted && ctx.signal.reason === 'cancelled';
          // A panel shutdown leaves the outcome open: after the restart the deploy is settled from builds:list.
          if (!ctx.signal.aborted || cancelled) {
            const build = await buildOf(control, app, startedAt);
            const outcome = cancelled ? 'cancelled' : 'failed';
            await apps.repo.updateDeploy(ctx.job.id, {
              outcome, finished_at: Date.now(), message: (cancelled ? 'cancelled by request (builds:cancel)' : message(e)).slice(0, 1000),
              build_id: build?.id ?? null, build_status: build?.displayStatus ?? null,
            });
            await apps.repo.setLastDeploy(hostId, app, { jobId: ctx.job.id, outcome, at: Date.now() });
            if (e instanceof DokkuChecksFailedError) ctx.log('The new release failed its checks; the previous release keeps serving', 'warn');
            await apps.refreshApp(hostId, app).catch(() => undefined);
            apps.publishChanged(hostId, app, { jobId: ctx.job.id, deploy: outcome });
          }
          throw e;
        } finally {
          ctx.signal.removeEventListener('abort', onAbort);
        }
      },
    },
    {
      name: 'record release',
      idempotent: true,
      async run(ctx: JobContext<DeployIn>) {
        const { hostId, app, source } = ctx.input;
        const cli = await apps.cli(hostId, ctx);
        const startedAt = Number(ctx.state.startedAt ?? Date.now());
        const report = await cli.report(app);
        const build = await buildOf(cli, app, startedAt);
        const rel = await apps.recordRelease(ctx.job.id, {
          finishedAt: Number(ctx.state.finishedAt ?? Date.now()), buildId: build?.id ?? null,
          configDigest: typeof ctx.state.configDigest === 'string' ? ctx.state.configDigest : null,
          commit: source.kind === 'git' ? (report.gitSha || null) : null,
        });
        await apps.noteUrl(hostId, app, typeof ctx.state.url === 'string' ? ctx.state.url : undefined);
        ctx.log(`Release ${rel.number}: ${rel.image ?? `${rel.repo}#${rel.git_commit ?? rel.ref}`}`, 'info');
      },
    },
    {
      name: 'refresh inventory',
      idempotent: true,
      async run(ctx: JobContext<DeployIn>) {
        const { hostId, app } = ctx.input;
        await apps.refreshApp(hostId, app);
        apps.publishChanged(hostId, app, { jobId: ctx.job.id, deploy: 'succeeded' });
      },
    },
  ];
}

export function defineAppJobs(jobs: JobService, apps: AppsService): void {
  const describe = (s: DeployIn['source']) => (s.kind === 'image' ? s.image : `${s.repo}#${s.ref}`);
  jobs.define<DeployIn>({ type: APP_JOBS.deployImage, input: DeployInput as unknown as z.ZodType<DeployIn>, title: (i) => `Deploy ${i.app} from ${describe(i.source)}`, steps: deploySteps(apps) });
  jobs.define<DeployIn>({ type: APP_JOBS.deployGit, input: DeployInput as unknown as z.ZodType<DeployIn>, title: (i) => `Deploy ${i.app} from ${describe(i.source)}`, steps: deploySteps(apps) });
  jobs.define<DeployIn>({
    type: APP_JOBS.rollback, input: DeployInput as unknown as z.ZodType<DeployIn>,
    title: (i) => `Roll ${i.app} back to release ${i.rollbackOf} (${describe(i.source)})`, steps: deploySteps(apps),
  });

  jobs.define<ConfigIn>({
    type: APP_JOBS.config,
    input: ConfigInput as unknown as z.ZodType<ConfigIn>,
    title: (i) => `Change config of ${i.app}: ${[Object.keys(i.set).length ? `set ${Object.keys(i.set).join(', ')}` : '', i.unset.length ? `unset ${i.unset.join(', ')}` : ''].filter(Boolean).join('; ')}${i.restart ? '' : ' (apply on next deploy)'}`,
    steps: [
      {
        name: 'config:set',
        async run(ctx) {
          const { hostId, app, set, unset, restart } = ctx.input;
          const keys = Object.keys(set) as EnvKey[];
          if (!keys.length) return;
          const cli = await apps.cli(hostId, ctx);
          const before = await cli.configExport(app);
          // What undo needs, sealed like the input: the previous value of each key (null: it was not set).
          ctx.state.previous = Object.fromEntries(keys.map((k) => [k, k in before ? apps.box.seal(before[k]!) : null]));
          await ctx.saveState();
          const values = Object.fromEntries(keys.map((k) => [k, apps.box.open(set[k]!)])) as Record<EnvKey, string>;
          const secrets = await apps.secretValues(hostId, app, before);
          await cli.configSet(app, values, { secrets, restart: restart && !unset.length });
        },
        async undo(ctx) {
          const { hostId, app, restart } = ctx.input;
          const previous = (ctx.state.previous ?? {}) as Record<string, string | null>;
          const cli = await apps.cli(hostId, ctx);
          const restore = Object.fromEntries(Object.entries(previous).filter(([, v]) => v !== null).map(([k, v]) => [k, apps.box.open(v!)])) as Record<EnvKey, string>;
          const absent = Object.entries(previous).filter(([, v]) => v === null).map(([k]) => k as EnvKey);
          const secrets = await apps.secretValues(hostId, app, restore);
          if (Object.keys(restore).length) await cli.configSet(app, restore, { secrets, restart });
          if (absent.length) await cli.configUnset(app, absent, { secrets, restart });
        },
      },
      {
        name: 'config:unset',
        async run(ctx) {
          const { hostId, app, unset, restart } = ctx.input;
          if (!unset.length) return;
          const cli = await apps.cli(hostId, ctx);
          await cli.configUnset(app, unset, { secrets: await apps.secretValues(hostId, app), restart });
        },
      },
      {
        name: 'forget unset secrets',
        idempotent: true,
        async run(ctx) {
          const { hostId, app, unset } = ctx.input;
          await apps.repo.deleteSecrets(hostId, app, unset);
          await apps.refreshApp(hostId, app).catch(() => undefined);
          apps.publishChanged(hostId, app, { jobId: ctx.job.id, config: 'changed' });
        },
      },
    ],
  });

  jobs.define<RuntimeIn>({
    type: APP_JOBS.runtime,
    input: RuntimeInput as unknown as z.ZodType<RuntimeIn>,
    title: (i) => (i.op.kind === 'ps' ? `${i.op.action[0]!.toUpperCase()}${i.op.action.slice(1)} ${i.app}`
      : i.op.kind === 'scale' ? `Scale ${i.app}: ${i.op.processes.map(([p, n]) => `${p}=${n}`).join(' ')}`
        : `${i.op.enable ? 'Enable' : 'Disable'} Let's Encrypt for ${i.app}`),
    steps: [
      {
        name: 'dokku',
        async run(ctx) {
          const { hostId, app, op } = ctx.input;
          const cli = await apps.cli(hostId, ctx);
          const o: RunOptions = { secrets: await apps.secretValues(hostId, app), timeoutMs: apps.config.deployTimeoutMinutes * 60_000 };
          if (op.kind === 'ps') await cli.ps(op.action, app, o);
          else if (op.kind === 'scale') {
            const entries = op.processes.map(([p, n]) => [parseProcessType(p), parseProcessCount(n)] as [ProcessType, number]);
            await cli.scale(app, entries, o);
          } else if (op.enable) {
            await cli.letsencryptSetEmail(app, apps.config.letsencryptEmail);
            await cli.letsencryptEnable(app, o);
          } else await cli.letsencryptDisable(app, o);
        },
      },
      {
        name: 'refresh inventory',
        idempotent: true,
        async run(ctx) {
          const row = await apps.refreshApp(ctx.input.hostId, ctx.input.app);
          // A TLS change is read into the certificate watch at once (expiry shown, alert raised or resolved).
          if (row && ctx.input.op.kind === 'letsencrypt') await apps.checkCertificate(row).catch(() => undefined);
          apps.publishChanged(ctx.input.hostId, ctx.input.app, { jobId: ctx.job.id });
        },
      },
    ],
  });

  jobs.define<DestroyIn>({
    type: APP_JOBS.destroy,
    input: DestroyInput as unknown as z.ZodType<DestroyIn>,
    title: (i) => `Destroy app ${i.app}`,
    steps: [
      {
        name: 'dokku apps:destroy',
        async run(ctx) {
          const { hostId, app } = ctx.input;
          const cli = await apps.cli(hostId, ctx);
          try {
            await cli.destroy(app, { secrets: await apps.secretValues(hostId, app) });
          } catch (e) {
            if (!(e instanceof DokkuAppNotFoundError)) throw e;
            ctx.log(`${app} was already gone from Dokku`, 'warn');
          }
        },
      },
      {
        name: 'forget',
        idempotent: true,
        async run(ctx) {
          await apps.forgetApp(ctx.input.hostId, ctx.input.app);
          ctx.log(`${ctx.input.app} removed from the inventory with its releases and secrets`, 'info');
        },
      },
    ],
  });
}
