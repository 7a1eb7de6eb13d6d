import type { FastifyBaseLogger } from 'fastify';
import {
  type Actor, AppError, type AuditLog, authorize, checkNetworkTarget, commandLogSource, type CommandLogSource,
  ConflictError, type CoreConfig, DomainRuleError, type EventBus, ExecError, type HostnameClaims,
  type HostRegistry, type JobContext, type JobService, type JobView, listScope, loadOrCreatePanelKey, LOCAL_HOST_ID,
  NotFoundError, type Resolver, resource, type SecretBox, SshConnection, SYSTEM_ACTOR, systemResolver,
  ValidationError,
} from '../../../server/src/sdk.js';
import type { AppsConfigT } from './apps.config.js';
import type { AppsCertificatesTable, AppsDeploysTable, AppsInventoryTable } from './apps.migrations.js';
import { appsPermissions } from './apps.permissions.js';
import { toAppView, toReleaseView, AppsRepo, type AppsDb, type ObservedApp } from './apps.repo.js';
import { AppSecretsBox } from './apps.sealing.js';
import {
  AppsInputError, parseAppName, parseBuildId, parseGitRef, parseGitRepoUrl, parseHostname, parseImageRef, parsePortMap, parseProcessType,
  type AppName, type EnvKey, type GitRef, type GitRepoUrl, type Hostname, type ImageRef, type ProcessType,
} from './apps.schema.js';
import type { AppViewT, BuildViewT, CertAlertViewT, DeployViewT, ListAppsFilters, ReleaseViewT } from './apps.views.js';
import { DokkuAppNotFoundError, DokkuCli, DokkuRefusedError, SshcommandRunner, type DokkuAppReport } from './dokku.cli.js';

export const appResource = (hostId: string, name: string) => `app:${hostId}:${name}`;

/** Job types of the module (apps.jobs.ts). */
export const APP_JOBS = {
  deployImage: 'apps.deploy.image',
  deployGit: 'apps.deploy.git',
  rollback: 'apps.rollback',
  config: 'apps.config',
  runtime: 'apps.runtime',
  destroy: 'apps.destroy',
} as const;
export const DEPLOY_JOB_TYPES: readonly string[] = [APP_JOBS.deployImage, APP_JOBS.deployGit, APP_JOBS.rollback];

export type DeploySource = { kind: 'image'; image: ImageRef } | { kind: 'git'; repo: GitRepoUrl; ref: GitRef };

/** Env names that carry credentials whatever the `secret` flag says: masked in every read too. */
const CREDENTIAL_NAME = /pass|pwd|secret|token|api_?key|private|credential|auth|salt|signature|cookie|session|(^|_)dsn$|database_url|conn(ection)?_?str/i;
export const SECRET_MASK = '********';

/** The app name already exists on the Dokku host (names are global there): never adopted. */
export class AppNameTakenError extends AppError {
  readonly status = 409;
  readonly code = 'name_taken';
  constructor(name: string, hostId: string) {
    super(`The app name ${name} is already taken on ${hostId}; choose another name`, { name, host: hostId });
  }
}

/** The app has an owner already: assignment is for ownerless apps only. */
export class AppAlreadyOwnedError extends AppError {
  readonly status = 409;
  readonly code = 'already_owned';
  constructor(name: string) {
    super(`App ${name} already has an owner`, { name });
  }
}

export interface AppsServiceDeps {
  db: AppsDb;
  jobs: JobService;
  audit: AuditLog;
  events: EventBus;
  hosts: HostRegistry;
  log: FastifyBaseLogger;
  config: AppsConfigT;
  core: Pick<CoreConfig, 'publicUrl' | 'listen' | 'dataDir'>;
  /** The platform's hostname claims (`ctx.hostnames`): one owner per hostname across modules, the panel's own names reserved. */
  hostnames: HostnameClaims;
  /** The panel's data key (env values are sealed with a key derived from it). */
  secrets: SecretBox;
  /** Resolves git remotes for the network-target check (tests put a table in front). */
  resolve?: Resolver;
}

const input = <T>(fn: () => T): T => {
  try {
    return fn();
  } catch (e) {
    if (e instanceof AppsInputError) throw new ValidationError(e.message, { issues: [{ path: e.field, message: e.message }] });
    throw e;
  }
};

async function pool<T>(items: readonly T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}

const DAY = 86_400_000;
/** The most lines of a past build's output returned (the newest are kept). */
export const BUILD_OUTPUT_MAX_LINES = 10_000;

/** A build Dokku still runs: its output is the deploy's live job log, not `builds:output` (which would `tail -f` forever). */
export class BuildRunningError extends AppError {
  readonly status = 409;
  readonly code = 'build_running';
  constructor(id: string, jobId: string | null) {
    super(`Build ${id} is still running: follow its live log${jobId ? ` (job ${jobId})` : ''}`, { build: id, ...(jobId ? { jobId } : {}) });
  }
}

export interface RefreshReport { host: string; apps: number; removed: number; failed: number; durationMs: number }

/**
 * The rules of the apps module: who sees and changes which app (one `authorize` per call),
 * ownership recorded before `apps:create`, the inventory (refreshed in the background and after
 * every change, so reads never call `dokku`), deploys as jobs locked per app, releases and
 * rollback, secrets sealed at rest and masked everywhere.
 */
export class AppsService {
  readonly repo: AppsRepo;
  readonly claims: HostnameClaims;
  readonly box: AppSecretsBox;
  private lastRefreshAt: number | null = null;
  private readonly refreshing = new Map<string, Promise<RefreshReport>>();
  private readonly connections = new Map<string, { key: string; conn: SshConnection }>();

  constructor(readonly deps: AppsServiceDeps) {
    this.repo = new AppsRepo(deps.db);
    this.claims = deps.hostnames;
    this.box = new AppSecretsBox(deps.secrets);
  }

  get config(): AppsConfigT {
    return this.deps.config;
  }

  close(): void {
    for (const { conn } of this.connections.values()) conn.close();
    this.connections.clear();
  }

  /**
   * The adapter for a host: local runner (own session), the dokku user over SSH, or the host's
   * login. A job step passes its context: the adapter then runs on the job's runner
   * (`ctx.runner(hostId)`, or the dokku-user login attached to the job), so output goes to the job
   * log and cancelling the job kills the command.
   */
  async cli(hostId: string, job?: Pick<JobContext<unknown>, 'runner' | 'attach'>): Promise<DokkuCli> {
    const bin = this.deps.config.dokkuBin;
    const hostRunner = (id: string) => (job ? job.runner(id) : this.deps.hosts.runner(id));
    if (hostId === LOCAL_HOST_ID) return new DokkuCli(await hostRunner(LOCAL_HOST_ID), { bin, newSession: this.deps.config.localNewSession });
    if (this.deps.config.sshMode === 'login') return new DokkuCli(await hostRunner(hostId), { bin });
    const h = await this.deps.hosts.get(hostId);
    if (h.kind !== 'ssh' || !h.address) throw new DomainRuleError(`Host ${hostId} is not reachable over SSH`, 'not_ssh_host');
    const key = `${h.address}:${h.port ?? 22}:${h.hostKeyFingerprint}`;
    let entry = this.connections.get(hostId);
    if (!entry || entry.key !== key) {
      entry?.conn.close();
      const dataDir = this.deps.core.dataDir;
      entry = {
        key,
        conn: new SshConnection(
          { name: h.name, address: h.address, port: h.port ?? 22, username: this.deps.config.sshUser, hostKeyFingerprint: h.hostKeyFingerprint },
          () => loadOrCreatePanelKey(dataDir).privateKey,
        ),
      };
      this.connections.set(hostId, entry);
    }
    const runner = new SshcommandRunner(entry.conn);
    return new DokkuCli(job ? job.attach(runner) : runner);
  }

  /** Hosts that run Dokku: configured ones plus those whose capabilities say so. */
  async dokkuHosts(): Promise<string[]> {
    const configured = this.deps.config.hosts.split(',').map((h) => h.trim()).filter(Boolean);
    const all = await this.deps.hosts.list().catch(() => []);
    return [...new Set([...configured, ...all.filter((h) => h.capabilities.dokku === true).map((h) => h.id)])];
  }

  // ---- access --------------------------------------------------------------------------------

  /** The one check: the permission, the app exists, and (for the `user` role) it is the caller's own; otherwise 404. */
  private async load(actor: Actor, permission: string, name: AppName, hostId?: string): Promise<AppsInventoryTable> {
    authorize(actor, permission);
    const row = await this.repo.byName(name, hostId);
    return authorize(actor, permission, resource('App', name, row, (r) => r.owner_id));
  }

  private async loadReady(actor: Actor, permission: string, name: AppName, hostId?: string): Promise<AppsInventoryTable> {
    const row = await this.load(actor, permission, name, hostId);
    if (row.state === 'pending') throw new ConflictError(`App ${name} is still being created`);
    return row;
  }

  private publish(row: Pick<AppsInventoryTable, 'host_id' | 'name' | 'owner_id'>, what: string, data: Record<string, unknown> = {}): void {
    this.deps.events.publish({
      type: `apps.${what}`, resource: { type: 'app', id: `${row.host_id}:${row.name}` }, ownerId: row.owner_id, permission: appsPermissions.read,
      data: { host: row.host_id, name: row.name, ...data },
    });
  }

  /** Whose name a hostname is claimed in: the app's owner (an admin acting for a tenant claims it for the tenant). */
  private claimant(actor: Actor, row: AppsInventoryTable): Actor {
    if (!row.owner_id || row.owner_id === actor.userId) return actor;
    return { kind: 'system', userId: row.owner_id, username: `owner of ${row.name}`, role: 'user' };
  }

  // ---- reads (inventory only: no dokku call) -----------------------------------------------

  async list(actor: Actor, filters: ListAppsFilters) {
    authorize(actor, appsPermissions.read);
    const { items, total } = await this.repo.list({ ...filters, ownerId: listScope(actor, appsPermissions.read) });
    // (a `user` is scoped to its own apps, so `ownerless` lists nothing for it)
    this.lastRefreshAt ??= await this.repo.lastRefresh();
    return { items: items.map(toAppView), total, limit: filters.limit, offset: filters.offset, refreshedAt: this.lastRefreshAt };
  }

  async get(actor: Actor, name: AppName, hostId?: string): Promise<AppViewT> {
    return toAppView(await this.load(actor, appsPermissions.read, name, hostId));
  }

  async releases(actor: Actor, name: AppName, hostId?: string): Promise<ReleaseViewT[]> {
    const row = await this.load(actor, appsPermissions.read, name, hostId);
    const rows = await this.repo.releases(row.host_id, row.name);
    const current = await this.currentRelease(row, rows);
    return rows.map((r) => toReleaseView(r, current));
  }

  /** The release whose image (or commit) the app runs now, newest first. */
  private async currentRelease(row: AppsInventoryTable, rows?: Awaited<ReturnType<AppsRepo['releases']>>): Promise<number | null> {
    const list = rows ?? await this.repo.releases(row.host_id, row.name);
    const hit = list.find((r) => (r.source_kind === 'image' ? r.image !== null && r.image === row.image : r.git_commit !== null && r.git_commit === row.git_commit));
    return hit ? Number(hit.number) : null;
  }

  /** Queued (with position, who, when), running and past deploys, newest first, each with its job. */
  async deploys(actor: Actor, name: AppName, hostId?: string, limit = 50): Promise<DeployViewT[]> {
    const row = await this.load(actor, appsPermissions.read, name, hostId);
    const rows = await this.repo.deploys(row.host_id, row.name, limit);
    // Jobs run one at a time per app, in id order: a queued job's position counts what is ahead of it.
    const active = (await this.deps.jobs.list({ state: ['queued', 'running'], resource: appResource(row.host_id, row.name), limit: 500 }, SYSTEM_ACTOR)).items
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    return Promise.all(rows.map(async (d) => {
      const job = await this.deps.jobs.get(d.job_id, SYSTEM_ACTOR).catch(() => null);
      const i = active.findIndex((j) => j.id === d.job_id);
      return {
        jobId: d.job_id,
        state: job?.state ?? (d.outcome as DeployViewT['state'] | null) ?? 'interrupted',
        position: job?.state === 'queued' && i >= 0 ? i + (active.some((j) => j.state === 'running') ? 0 : 1) : null,
        kind: d.kind,
        image: d.image,
        repo: d.repo,
        ref: d.ref,
        rollbackOf: d.rollback_of === null ? null : Number(d.rollback_of),
        actor: { id: d.actor_id, name: d.actor_name },
        requestedAt: Number(d.requested_at),
        startedAt: d.started_at === null ? null : Number(d.started_at),
        finishedAt: d.finished_at === null ? null : Number(d.finished_at),
        outcome: d.outcome,
        build: { id: d.build_id, status: d.build_status },
        message: d.message,
        releaseNumber: d.release_number === null ? null : Number(d.release_number),
        job,
      };
    }));
  }

  /** What Dokku's `builds:list` holds for the app (every build, also ones started outside the panel), with the deploy that started it. */
  async builds(actor: Actor, name: AppName, hostId?: string): Promise<BuildViewT[]> {
    const row = await this.loadReady(actor, appsPermissions.read, name, hostId);
    const list = await (await this.cli(row.host_id)).listBuilds(row.name as AppName);
    const deploys = await this.repo.deploys(row.host_id, row.name, 500);
    const byBuild = new Map(deploys.filter((d) => d.build_id).map((d) => [d.build_id!, d]));
    return list.map((b) => {
      const d = byBuild.get(b.id);
      return {
        id: b.id, kind: b.kind, status: b.displayStatus, source: b.source, startedAt: b.startedAt, finishedAt: b.finishedAt, exitCode: b.exitCode,
        jobId: d?.job_id ?? null, releaseNumber: d?.release_number == null ? null : Number(d.release_number),
      };
    });
  }

  /**
   * A past build's output (`builds:output <app> <id>`), cleaned of colours and `\r` progress, the
   * app's secret values redacted, at most the last BUILD_OUTPUT_MAX_LINES lines. A running build
   * is refused (409 `build_running`): Dokku would follow it without end; its job log is live.
   */
  async buildOutput(actor: Actor, name: AppName, hostId: string | undefined, id: unknown) {
    const row = await this.loadReady(actor, appsPermissions.read, name, hostId);
    const buildId = input(() => parseBuildId(id));
    const cli = await this.cli(row.host_id);
    const build = (await cli.listBuilds(row.name as AppName)).find((b) => b.id === buildId);
    if (!build) throw new NotFoundError('Build', `${row.name}/${buildId}`);
    const deploy = (await this.repo.deploys(row.host_id, row.name, 500)).find((d) => d.build_id === buildId);
    if (build.displayStatus === 'running') throw new BuildRunningError(buildId, deploy?.job_id ?? null);
    const secrets = await this.secretValues(row.host_id, row.name);
    const lines = await cli.buildOutput(row.name as AppName, buildId, { secrets });
    const truncated = lines.length > BUILD_OUTPUT_MAX_LINES;
    return {
      build: {
        id: build.id, kind: build.kind, status: build.displayStatus, source: build.source, startedAt: build.startedAt, finishedAt: build.finishedAt, exitCode: build.exitCode,
        jobId: deploy?.job_id ?? null, releaseNumber: deploy?.release_number == null ? null : Number(deploy.release_number),
      },
      lines: truncated ? lines.slice(-BUILD_OUTPUT_MAX_LINES) : lines,
      truncated,
    };
  }

  /** The Dokku hosts an app can be created on (for the new-app form): id, name, kind, and which is the default. */
  async hostChoices(actor: Actor) {
    authorize(actor, appsPermissions.deploy);
    const out: { id: string; name: string; kind: 'local' | 'ssh'; default: boolean; status: string }[] = [];
    for (const id of await this.dokkuHosts()) {
      const h = await this.deps.hosts.get(id).catch(() => null);
      if (!h) continue; // listed in SLIPWAY_APPS_HOSTS but not registered: creating there would fail
      out.push({ id: h.id, name: h.name, kind: h.kind, default: h.id === this.deps.config.defaultHost, status: h.status });
    }
    return { items: out };
  }

  /** Active users an ownerless app can be given to (staff only). */
  async ownerChoices(actor: Actor) {
    authorize(actor, appsPermissions.assign);
    const rows = await this.deps.db.selectFrom('users').select(['id', 'username', 'role']).where('status', '=', 'active').orderBy('username').limit(1000).execute();
    return { items: rows.map((u) => ({ id: u.id, username: u.username, role: u.role })) };
  }

  /**
   * Gives an ownerless app (found on a Dokku host) its owner: the app, its releases and its
   * hostnames (those nobody else holds) become the user's. An app that has an owner is refused
   * (409 `already_owned`): ownership is not moved between tenants here.
   */
  async assignOwner(actor: Actor, name: AppName, hostId: string | undefined, ownerId: string): Promise<AppViewT> {
    const row = await this.load(actor, appsPermissions.assign, name, hostId);
    if (row.owner_id !== null) throw new AppAlreadyOwnedError(row.name);
    const user = await this.deps.db.selectFrom('users').select(['id', 'username', 'status']).where('id', '=', ownerId).executeTakeFirst();
    if (!user || user.status !== 'active') {
      throw new ValidationError('ownerId: no active user has this id', { issues: [{ path: 'ownerId', message: 'No active user has this id' }] });
    }
    if (!(await this.repo.assignOwner(row.id, user.id))) throw new AppAlreadyOwnedError(row.name);
    const res = appResource(row.host_id, row.name);
    const hostnames: string[] = [];
    for (const d of JSON.parse(row.domains) as string[]) if (await this.claims.assignOwner(d, res, user.id)) hostnames.push(d);
    await this.deps.audit.record({
      actor, action: 'apps.owner.assign', target: { type: 'app', id: `${row.host_id}:${row.name}` }, outcome: 'success',
      details: { ownerId: user.id, owner: user.username, hostnames },
    });
    const fresh = (await this.repo.get(row.host_id, row.name))!;
    this.publish(fresh, 'updated', { ownerId: user.id });
    return toAppView(fresh);
  }

  // ---- certificate watch (the sites module's approach: a schedule, alerts, events) --------

  /** Reads `letsencrypt:report` of every ready app on the Dokku hosts (or one host), raising and resolving expiry alerts. */
  async checkCertificates(hostId?: string): Promise<{ checked: number; alerts: number }> {
    let checked = 0;
    for (const h of hostId ? [hostId] : await this.dokkuHosts()) {
      let cli: DokkuCli;
      try {
        cli = await this.cli(h);
      } catch (e) {
        this.deps.log.warn({ err: e, host: h }, 'apps: certificate check could not reach the host');
        continue;
      }
      const rows = (await this.repo.namesOnHost(h)).filter((r) => r.state === 'ready');
      await pool(rows, this.deps.config.refreshConcurrency, async (r) => {
        try {
          await this.checkCertificate(r, cli);
          checked++;
        } catch (e) {
          if (!(e instanceof DokkuAppNotFoundError)) this.deps.log.warn({ err: e, host: h, app: r.name }, 'apps: could not read the certificate');
        }
      });
    }
    return { checked, alerts: (await this.repo.certificateAlerts()).length };
  }

  /** One app's certificate: stored, then an alert raised (expiring within certWarnDays, or expired) or resolved. */
  async checkCertificate(row: Pick<AppsInventoryTable, 'host_id' | 'name' | 'owner_id'>, cli?: DokkuCli): Promise<AppsCertificatesTable> {
    const c = cli ?? await this.cli(row.host_id);
    const le = await c.letsencryptReport(row.name as AppName);
    const before = await this.repo.certificate(row.host_id, row.name);
    const at = Date.now();
    let kind: AppsCertificatesTable['alert_kind'] = null;
    let days: number | null = null;
    let message: string | null = null;
    if (le.active && le.expiresAt !== null) {
      days = Math.floor((le.expiresAt - at) / DAY);
      const date = new Date(le.expiresAt).toISOString().slice(0, 10);
      if (days < 0) {
        kind = 'expired';
        message = `The certificate of ${row.name} expired on ${date}`;
      } else if (days <= this.deps.config.certWarnDays) {
        kind = 'expiring';
        message = `The certificate of ${row.name} expires in ${days} day${days === 1 ? '' : 's'} (${date})`;
      }
    }
    const fresh = kind !== null && before?.alert_kind !== kind;
    const cert: AppsCertificatesTable = {
      host_id: row.host_id, app_name: row.name, active: le.active ? 1 : 0, expires_at: le.expiresAt, checked_at: at,
      alert_kind: kind, days_left: kind ? days : null, message, alert_at: kind ? (fresh ? at : Number(before?.alert_at ?? at)) : null,
    };
    await this.repo.putCertificate(cert);
    if (fresh) {
      this.deps.events.publish({
        type: `apps.certificate_${kind}`, resource: { type: 'app', id: `${row.host_id}:${row.name}` }, ownerId: row.owner_id, permission: appsPermissions.read,
        data: { host: row.host_id, name: row.name, daysLeft: days, expiresAt: le.expiresAt, message },
      });
      this.deps.log.warn({ host: row.host_id, app: row.name, kind, days }, `apps: ${message}`);
    } else if (kind === null && before?.alert_kind) {
      this.publish(row, 'certificate_ok', { expiresAt: le.expiresAt });
    }
    return cert;
  }

  /** The background refresh and certificate watch, now (staff); every change is read anyway. */
  async refreshNow(actor: Actor) {
    authorize(actor, appsPermissions.refresh);
    const reports = await this.refreshAll();
    const certificates = await this.checkCertificates();
    return { reports, certificates };
  }

  /** Active certificate alerts the actor may see (a `user`: its own apps'). */
  async certificateAlerts(actor: Actor): Promise<CertAlertViewT[]> {
    authorize(actor, appsPermissions.read);
    return (await this.repo.certificateAlerts(listScope(actor, appsPermissions.read))).map((c) => ({
      host: c.host_id, name: c.app_name, kind: c.alert_kind!, daysLeft: c.days_left === null ? null : Number(c.days_left),
      expiresAt: c.expires_at === null ? null : Number(c.expires_at), message: c.message ?? '', since: Number(c.alert_at ?? c.checked_at), checkedAt: Number(c.checked_at),
    }));
  }

  // ---- create / destroy ----------------------------------------------------------------------

  /**
   * Creates the app now (`apps:create` is quick). The intended owner is recorded (a pending row)
   * before Dokku is called; the name must be free on the host, in the inventory *and* on Dokku
   * (asked, not assumed): an existing app is recorded ownerless and the caller gets 409
   * `name_taken`. A failed create removes only its own pending row, never an owner.
   */
  async create(actor: Actor, body: { name: AppName; hostId?: string }): Promise<AppViewT> {
    authorize(actor, appsPermissions.deploy);
    const hostId = body.hostId ?? this.deps.config.defaultHost;
    const name = body.name;
    if (!(await this.dokkuHosts()).includes(hostId)) throw new DomainRuleError(`Host ${hostId} does not run Dokku (configure SLIPWAY_APPS_HOSTS or its dokku capability)`, 'host_without_dokku');
    await this.deps.hosts.get(hostId);
    if (await this.repo.get(hostId, name)) throw new AppNameTakenError(name, hostId);
    const cli = await this.cli(hostId);
    const onHost = await cli.report(name).catch((e: unknown) => {
      if (e instanceof DokkuAppNotFoundError) return null;
      throw e;
    });
    if (onHost) {
      await this.upsertFromReport(hostId, onHost).catch(() => undefined);
      throw new AppNameTakenError(name, hostId);
    }
    const pending = await this.repo.insertPending(hostId, name, actor.userId);
    if (!pending) throw new AppNameTakenError(name, hostId);
    try {
      await cli.create(name);
    } catch (e) {
      await this.repo.removePending(pending.id);
      // "Name is already taken": created meanwhile outside the panel; record it for an admin, ownerless.
      await this.refreshApp(hostId, name).catch(() => undefined);
      await this.deps.audit.record({ actor, action: 'apps.create', target: { type: 'app', id: `${hostId}:${name}` }, outcome: 'failure', details: { error: (e as Error).message } });
      if (e instanceof DokkuRefusedError && /already taken|already exists/i.test(e.message)) throw new AppNameTakenError(name, hostId);
      throw e;
    }
    const row = (await this.refreshApp(hostId, name).catch(() => undefined)) ?? (await this.repo.get(hostId, name));
    await this.deps.audit.record({ actor, action: 'apps.create', target: { type: 'app', id: `${hostId}:${name}` }, outcome: 'success', details: { host: hostId } });
    if (!row) throw new NotFoundError('App', name);
    this.publish(row, 'created');
    return toAppView(row);
  }

  async destroy(actor: Actor, name: AppName, hostId: string | undefined, confirm: string): Promise<JobView> {
    const row = await this.load(actor, appsPermissions.destroy, name, hostId);
    if (confirm !== row.name) throw new DomainRuleError(`Type the app name (${row.name}) to confirm the destruction`, 'confirmation_mismatch');
    if (row.state === 'pending') throw new ConflictError(`App ${name} is still being created`);
    const job = await this.deps.jobs.enqueue(APP_JOBS.destroy, { hostId: row.host_id, app: row.name }, { actor, resource: appResource(row.host_id, row.name) });
    await this.deps.audit.record({ actor, action: 'apps.destroy', target: { type: 'app', id: `${row.host_id}:${row.name}` }, outcome: 'success', details: { jobId: job.id } });
    return job;
  }

  /** After `apps:destroy`: the inventory row, releases, secrets and hostname claims go. */
  async forgetApp(hostId: string, name: string): Promise<void> {
    const row = await this.repo.get(hostId, name);
    if (!row) return;
    for (const d of JSON.parse(row.domains) as string[]) await this.claims.release(d, appResource(hostId, name));
    await this.repo.forget(hostId, name);
    this.publish(row, 'destroyed');
  }

  // ---- deploys -------------------------------------------------------------------------------

  private async checkGitRemote(actor: Actor, hostId: string, repo: unknown): Promise<GitRepoUrl> {
    const parsed = input(() => parseGitRepoUrl(repo, { allowInsecure: actor.role === 'admin' && this.deps.config.allowInsecureGit }));
    let self: string[] | undefined;
    if (hostId !== LOCAL_HOST_ID) {
      const h = await this.deps.hosts.get(hostId);
      self = h.address ? await (this.deps.resolve ?? systemResolver)(h.address).catch(() => [h.address!]) : [];
    }
    await checkNetworkTarget(actor, parsed.host, parsed.port, {
      allow: this.deps.config.gitAllow, panelListen: this.deps.core.listen,
      ...(self ? { selfAddresses: self } : {}), ...(this.deps.resolve ? { resolve: this.deps.resolve } : {}),
    });
    return parsed.url;
  }

  /** Queues a deploy from an image or a git remote + ref: 202 { job }; a busy app queues it behind the others. */
  async deploy(actor: Actor, name: AppName, hostId: string | undefined, body: { image: ImageRef } | { repo: string; ref: GitRef }): Promise<JobView> {
    const row = await this.loadReady(actor, appsPermissions.deploy, name, hostId);
    const source: DeploySource = 'image' in body
      ? { kind: 'image', image: body.image }
      : { kind: 'git', repo: await this.checkGitRemote(actor, row.host_id, body.repo), ref: body.ref };
    return this.enqueueDeploy(actor, row, source, null);
  }

  /** Redeploys exactly release N's image or commit, as a new release. */
  async rollback(actor: Actor, name: AppName, hostId: string | undefined, n: number): Promise<JobView> {
    const row = await this.loadReady(actor, appsPermissions.deploy, name, hostId);
    const rel = await this.repo.release(row.host_id, row.name, n);
    if (!rel) throw new NotFoundError('Release', `${row.name}#${n}`);
    let source: DeploySource;
    if (rel.source_kind === 'image') source = { kind: 'image', image: input(() => parseImageRef(rel.image)) };
    else {
      if (!rel.git_commit || !rel.repo) throw new DomainRuleError(`Release ${n} has no recorded commit to redeploy`, 'release_without_commit');
      source = { kind: 'git', repo: await this.checkGitRemote(actor, row.host_id, rel.repo), ref: input(() => parseGitRef(rel.git_commit)) };
    }
    return this.enqueueDeploy(actor, row, source, n);
  }

  private async enqueueDeploy(actor: Actor, row: AppsInventoryTable, source: DeploySource, rollbackOf: number | null): Promise<JobView> {
    const type = rollbackOf !== null ? APP_JOBS.rollback : source.kind === 'image' ? APP_JOBS.deployImage : APP_JOBS.deployGit;
    const job = await this.deps.jobs.enqueue(type, { hostId: row.host_id, app: row.name, source, rollbackOf }, { actor, resource: appResource(row.host_id, row.name) });
    const d: AppsDeploysTable = {
      job_id: job.id, host_id: row.host_id, app_name: row.name, kind: rollbackOf !== null ? 'rollback' : source.kind,
      image: source.kind === 'image' ? source.image : null, repo: source.kind === 'git' ? source.repo : null, ref: source.kind === 'git' ? source.ref : null,
      rollback_of: rollbackOf, actor_id: actor.userId, actor_name: actor.username, requested_at: job.createdAt, started_at: null, finished_at: null,
      outcome: null, build_id: null, build_status: null, message: null, release_number: null,
    };
    await this.repo.addDeploy(d);
    await this.deps.audit.record({
      actor, action: rollbackOf !== null ? 'apps.rollback' : 'apps.deploy', target: { type: 'app', id: `${row.host_id}:${row.name}` }, outcome: 'success',
      details: { jobId: job.id, source: source.kind, ...(source.kind === 'image' ? { image: source.image } : { repo: source.repo, ref: source.ref }), ...(rollbackOf !== null ? { release: rollbackOf } : {}) },
    });
    this.publish(row, 'deploy.queued', { jobId: job.id });
    return job;
  }

  /**
   * Settles deploys that have no outcome but whose job finished without saying (cancelled while
   * queued, or interrupted by a panel crash or restart): the outcome is what Dokku's
   * `builds:list` says happened to the build, and the app's real state is read again.
   */
  async reconcileDeploys(): Promise<number> {
    let settled = 0;
    for (const d of await this.repo.openDeploys()) {
      const job = await this.deps.jobs.get(d.job_id, SYSTEM_ACTOR).catch(() => null);
      if (job && (job.state === 'queued' || job.state === 'running')) continue;
      try {
        if (await this.settleDeploy(d, job)) settled++;
      } catch (e) {
        this.deps.log.warn({ err: e, jobId: d.job_id }, 'apps: could not settle a deploy');
      }
    }
    return settled;
  }

  private async settleDeploy(d: AppsDeploysTable, job: JobView | null): Promise<boolean> {
    const finishedAt = job?.finishedAt ?? Date.now();
    if (!job || (job.state === 'cancelled' && d.started_at === null)) {
      await this.repo.updateDeploy(d.job_id, { outcome: job ? 'cancelled' : 'interrupted', finished_at: finishedAt, message: job ? 'cancelled before it started' : 'its job is gone' });
      await this.noteLastDeploy(d, job ? 'cancelled' : 'interrupted', finishedAt);
      return true;
    }
    const cli = await this.cli(d.host_id);
    const since = (d.started_at === null ? (job.startedAt ?? Number(d.requested_at)) : Number(d.started_at)) - 1000;
    const builds = await cli.listBuilds(d.app_name as AppName).catch((e: unknown) => {
      if (e instanceof DokkuAppNotFoundError) return [];
      throw e;
    });
    // The build this deploy started: the first one after it began.
    const build = builds.filter((b) => b.startedAt >= since).sort((a, b) => a.startedAt - b.startedAt)[0];
    if (build?.displayStatus === 'running') return false; // still going on the host (over SSH): look again later
    const said = build ? `Dokku's builds:list says build ${build.id} ${build.displayStatus}` : 'Dokku recorded no build for it';
    let outcome: string = job.state === 'succeeded' ? 'succeeded' : job.state;
    let releaseNumber: number | null = null;
    if (build?.displayStatus === 'succeeded' && job.state !== 'succeeded') {
      // The panel stopped watching, but Dokku finished the deploy: it is a release.
      const rel = await this.recordRelease(d.job_id, { finishedAt: build.finishedAt ?? finishedAt, buildId: build.id, configDigest: null }).catch(() => null);
      releaseNumber = rel?.number ?? null;
      outcome = 'succeeded';
    }
    const why = job.state === 'interrupted' ? `The panel stopped during this deploy (${job.error ?? 'interrupted'}). ${said}` : said;
    await this.repo.updateDeploy(d.job_id, {
      outcome, finished_at: build?.finishedAt ?? finishedAt, build_id: build?.id ?? null, build_status: build?.displayStatus ?? null, message: why.slice(0, 1000),
      ...(releaseNumber !== null ? { release_number: releaseNumber } : {}),
    });
    await this.noteLastDeploy(d, outcome, finishedAt);
    await this.refreshApp(d.host_id, d.app_name).catch(() => undefined);
    return true;
  }

  private async noteLastDeploy(d: AppsDeploysTable, outcome: string, at: number): Promise<void> {
    const row = await this.repo.get(d.host_id, d.app_name);
    if (row && row.last_deploy_job_id === d.job_id) await this.repo.setLastDeploy(d.host_id, d.app_name, { jobId: d.job_id, outcome, at });
  }

  /** The deploy's row; a worker can claim the job a moment before the request that queued it has written it. */
  async deployRecord(jobId: string): Promise<AppsDeploysTable> {
    for (let i = 0; ; i++) {
      const d = await this.repo.deploy(jobId);
      if (d) return d;
      if (i >= 100) throw new NotFoundError('Deploy', jobId);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Records a succeeded deploy as the app's next release (once per job). */
  async recordRelease(jobId: string, o: { finishedAt: number; buildId: string | null; configDigest: string | null; commit?: string | null }) {
    const d = await this.repo.deploy(jobId);
    if (!d) throw new NotFoundError('Deploy', jobId);
    let commit = o.commit ?? null;
    let image = d.image;
    let repo = d.repo;
    let ref = d.ref;
    if (d.kind === 'rollback') {
      const rel = d.rollback_of !== null ? await this.repo.release(d.host_id, d.app_name, Number(d.rollback_of)) : undefined;
      if (rel) {
        image = rel.image;
        repo = rel.repo;
        ref = rel.ref;
        commit ??= rel.git_commit;
      }
    }
    if (!image && !commit && d.ref && /^[0-9a-f]{40}$/.test(d.ref)) commit = d.ref;
    const sourceKind = image ? 'image' : 'git';
    const rel = await this.repo.addRelease({
      host_id: d.host_id, app_name: d.app_name, source_kind: sourceKind, image: sourceKind === 'image' ? image : null, repo, ref,
      git_commit: sourceKind === 'git' ? commit : null, rollback_of: d.rollback_of, actor_id: d.actor_id, actor_name: d.actor_name,
      config_digest: o.configDigest, duration_ms: d.started_at === null ? null : Math.max(0, o.finishedAt - Number(d.started_at)), outcome: 'succeeded',
      job_id: jobId, build_id: o.buildId,
    });
    await this.repo.updateDeploy(jobId, { outcome: 'succeeded', finished_at: o.finishedAt, release_number: Number(rel.number), build_id: o.buildId, build_status: o.buildId ? 'succeeded' : null });
    await this.noteLastDeploy(d, 'succeeded', o.finishedAt);
    return { ...rel, number: Number(rel.number) };
  }

  // ---- config --------------------------------------------------------------------------------

  /** The keys whose values are masked: marked secret (stored sealed) or named like a credential. */
  private async secretKeys(hostId: string, name: string): Promise<Set<string>> {
    return new Set((await this.repo.secrets(hostId, name)).map((s) => s.key));
  }

  static isCredentialName(key: string): boolean {
    return CREDENTIAL_NAME.test(key);
  }

  /** Every value that must never appear in a log line: stored secrets, and masked keys' values in `env`. */
  async secretValues(hostId: string, name: string, env: Readonly<Record<string, string>> = {}): Promise<string[]> {
    const out: string[] = [];
    const marked = new Set<string>();
    for (const s of await this.repo.secrets(hostId, name)) {
      marked.add(s.key);
      try {
        out.push(this.box.open(s.sealed));
      } catch {
        /* sealed with another data key: nothing to hide with it */
      }
    }
    for (const [k, v] of Object.entries(env)) if ((marked.has(k) || AppsService.isCredentialName(k)) && v) out.push(v);
    return [...new Set(out)];
  }

  /** The app's env from Dokku, masked: secret values are never returned. */
  async getConfig(actor: Actor, name: AppName, hostId?: string) {
    const row = await this.loadReady(actor, appsPermissions.read, name, hostId);
    const env = await (await this.cli(row.host_id)).configExport(row.name as AppName);
    const secret = await this.secretKeys(row.host_id, row.name);
    return {
      items: Object.keys(env).sort().map((key) => {
        const masked = secret.has(key) || AppsService.isCredentialName(key);
        return { key, value: masked ? null : env[key]!, secret: masked };
      }),
    };
  }

  /**
   * Queues a config change. Values travel sealed in the job's input (the jobs table never holds
   * them in clear); keys marked secret (and keys already secret: the mark is sticky until unset)
   * are stored sealed before the job runs, so a read is masked from the first moment.
   */
  async patchConfig(actor: Actor, name: AppName, hostId: string | undefined, patch: { set: Record<EnvKey, string>; secret: EnvKey[]; unset: EnvKey[]; restart: boolean }): Promise<JobView> {
    const row = await this.loadReady(actor, appsPermissions.configure, name, hostId);
    const keys = Object.keys(patch.set) as EnvKey[];
    if (!keys.length && !patch.unset.length) throw new ValidationError('Nothing to change: give `set` or `unset`');
    for (const k of patch.secret) if (!(k in patch.set)) throw new ValidationError(`secret: ${k} must also be in \`set\` (type its value again to mark it secret)`);
    const already = await this.secretKeys(row.host_id, row.name);
    const secretNow = keys.filter((k) => patch.secret.includes(k) || already.has(k));
    for (const k of secretNow) await this.repo.putSecret(row.host_id, row.name, k, this.box.seal(patch.set[k]!));
    const sealed = Object.fromEntries(keys.map((k) => [k, this.box.seal(patch.set[k]!)]));
    const job = await this.deps.jobs.enqueue(APP_JOBS.config, { hostId: row.host_id, app: row.name, set: sealed, unset: patch.unset, restart: patch.restart }, {
      actor, resource: appResource(row.host_id, row.name),
    });
    await this.deps.audit.record({
      actor, action: 'apps.config', target: { type: 'app', id: `${row.host_id}:${row.name}` }, outcome: 'success',
      details: { jobId: job.id, set: keys, secret: secretNow, unset: patch.unset, restart: patch.restart },
    });
    return job;
  }

  // ---- runtime (ps, scale, letsencrypt: jobs) -------------------------------------------------

  async ps(actor: Actor, name: AppName, hostId: string | undefined, action: 'start' | 'stop' | 'restart' | 'rebuild'): Promise<JobView> {
    const row = await this.loadReady(actor, appsPermissions.deploy, name, hostId);
    return this.enqueueRuntime(actor, row, { kind: 'ps', action });
  }

  async scale(actor: Actor, name: AppName, hostId: string | undefined, entries: readonly (readonly [ProcessType, number])[]): Promise<JobView> {
    const row = await this.loadReady(actor, appsPermissions.deploy, name, hostId);
    return this.enqueueRuntime(actor, row, { kind: 'scale', processes: entries.map(([p, n]) => [p, n] as [string, number]) });
  }

  async setLetsencrypt(actor: Actor, name: AppName, hostId: string | undefined, enabled: boolean): Promise<JobView> {
    const row = await this.loadReady(actor, appsPermissions.configure, name, hostId);
    if (enabled && !this.deps.config.letsencryptEmail) {
      throw new DomainRuleError('Let\'s Encrypt needs a contact e-mail: an administrator sets SLIPWAY_APPS_LETSENCRYPT_EMAIL', 'letsencrypt_email_missing');
    }
    if (enabled && !(JSON.parse(row.domains) as string[]).length) throw new DomainRuleError(`Add a domain to ${row.name} before enabling Let's Encrypt`, 'no_domains');
    return this.enqueueRuntime(actor, row, { kind: 'letsencrypt', enable: enabled });
  }

  private async enqueueRuntime(actor: Actor, row: AppsInventoryTable, op: RuntimeOp): Promise<JobView> {
    const job = await this.deps.jobs.enqueue(APP_JOBS.runtime, { hostId: row.host_id, app: row.name, op }, { actor, resource: appResource(row.host_id, row.name) });
    await this.deps.audit.record({ actor, action: `apps.${op.kind}`, target: { type: 'app', id: `${row.host_id}:${row.name}` }, outcome: 'success', details: { jobId: job.id, ...op } });
    return job;
  }

  // ---- domains, checks, ports (quick: answered directly) -------------------------------------

  async getDomains(actor: Actor, name: AppName, hostId?: string) {
    const row = await this.loadReady(actor, appsPermissions.read, name, hostId);
    return { domains: JSON.parse(row.domains) as string[] };
  }

  /** add / remove / set: every new name is claimed for the app's owner first (409 `hostname_taken`). */
  async changeDomains(actor: Actor, name: AppName, hostId: string | undefined, patch: { add?: unknown[]; remove?: unknown[]; set?: unknown[] }) {
    const row = await this.loadReady(actor, appsPermissions.configure, name, hostId);
    if (patch.set && (patch.add || patch.remove)) throw new ValidationError('Give either `set` or `add`/`remove`');
    const parse = (list: unknown[] | undefined) => input(() => [...new Set((list ?? []).map((d) => parseHostname(d)))]);
    const set = patch.set ? parse(patch.set) : null;
    const add = parse(patch.add);
    const remove = parse(patch.remove);
    if (!set && !add.length && !remove.length) throw new ValidationError('Nothing to change: give `set`, `add` or `remove`');
    const current = JSON.parse(row.domains) as string[];
    const adding = (set ?? add).filter((d) => !current.includes(d));
    const removing = set ? current.filter((d) => !set.includes(d as Hostname)) : remove.filter((d) => current.includes(d));
    const res = appResource(row.host_id, row.name);
    const who = this.claimant(actor, row);
    for (const d of adding) await this.claims.check(who, d);
    const claimed: string[] = [];
    try {
      for (const d of adding) claimed.push(await this.claims.claim(who, d, res));
      const cli = await this.cli(row.host_id);
      const app = row.name as AppName;
      if (set) await cli.domainsChange('set', app, set);
      else {
        if (add.length) await cli.domainsChange('add', app, add);
        if (remove.length) await cli.domainsChange('remove', app, remove);
      }
    } catch (e) {
      for (const d of claimed) await this.claims.release(d, res);
      throw e;
    }
    for (const d of removing) await this.claims.release(d, res);
    const fresh = await this.refreshApp(row.host_id, row.name).catch(() => undefined);
    await this.deps.audit.record({ actor, action: 'apps.domains', target: { type: 'app', id: `${row.host_id}:${row.name}` }, outcome: 'success', details: { added: adding, removed: removing } });
    return { domains: fresh ? (JSON.parse(fresh.domains) as string[]) : current };
  }

  async getLetsencrypt(actor: Actor, name: AppName, hostId?: string) {
    const row = await this.loadReady(actor, appsPermissions.read, name, hostId);
    return (await this.cli(row.host_id)).letsencryptReport(row.name as AppName);
  }

  async getChecks(actor: Actor, name: AppName, hostId?: string) {
    const row = await this.loadReady(actor, appsPermissions.read, name, hostId);
    return (await this.cli(row.host_id)).checksReport(row.name as AppName);
  }

  async changeChecks(actor: Actor, name: AppName, hostId: string | undefined, patch: { enable?: string[]; disable?: string[]; skip?: string[]; waitToRetire?: number | null }) {
    const row = await this.loadReady(actor, appsPermissions.configure, name, hostId);
    const types = (l: string[] | undefined) => (l === undefined ? undefined : input(() => l.map(parseProcessType)));
    const plan = { enable: types(patch.enable), disable: types(patch.disable), skip: types(patch.skip) };
    if (!plan.enable && !plan.disable && !plan.skip && patch.waitToRetire === undefined) throw new ValidationError('Nothing to change');
    const cli = await this.cli(row.host_id);
    const app = row.name as AppName;
    for (const action of ['enable', 'disable', 'skip'] as const) if (plan[action]) await cli.checksChange(action, app, plan[action]);
    if (patch.waitToRetire !== undefined) await cli.checksSetWaitToRetire(app, patch.waitToRetire);
    await this.deps.audit.record({ actor, action: 'apps.checks', target: { type: 'app', id: `${row.host_id}:${row.name}` }, outcome: 'success', details: { ...plan, waitToRetire: patch.waitToRetire } });
    return cli.checksReport(app);
  }

  async getPorts(actor: Actor, name: AppName, hostId?: string) {
    const row = await this.loadReady(actor, appsPermissions.read, name, hostId);
    return (await this.cli(row.host_id)).portsReport(row.name as AppName);
  }

  async changePorts(actor: Actor, name: AppName, hostId: string | undefined, patch: { set?: string[]; add?: string[]; remove?: string[]; clear?: boolean }) {
    const row = await this.loadReady(actor, appsPermissions.configure, name, hostId);
    const maps = (l: string[] | undefined) => (l === undefined ? undefined : input(() => l.map(parsePortMap)));
    const plan = { set: maps(patch.set), add: maps(patch.add), remove: maps(patch.remove) };
    if (patch.set && (patch.add || patch.remove || patch.clear)) throw new ValidationError('Give either `set` or `add`/`remove`/`clear`');
    if (!plan.set?.length && !plan.add?.length && !plan.remove?.length && !patch.clear) throw new ValidationError('Nothing to change');
    const cli = await this.cli(row.host_id);
    const app = row.name as AppName;
    if (patch.clear) await cli.portsClear(app);
    if (plan.set?.length) await cli.portsChange('set', app, plan.set);
    if (plan.add?.length) await cli.portsChange('add', app, plan.add);
    if (plan.remove?.length) await cli.portsChange('remove', app, plan.remove);
    await this.deps.audit.record({ actor, action: 'apps.ports', target: { type: 'app', id: `${row.host_id}:${row.name}` }, outcome: 'success', details: { ...plan, clear: !!patch.clear } });
    return cli.portsReport(app);
  }

  async getScale(actor: Actor, name: AppName, hostId?: string) {
    const row = await this.loadReady(actor, appsPermissions.read, name, hostId);
    return { processes: JSON.parse(row.scale) as Record<string, number> };
  }

  // ---- live logs (the server module's log viewer) ---------------------------------------------

  /**
   * Each app on the host as a command log source: `dokku logs <app> -t`, followed live, secrets
   * redacted, resumable by the line's timestamp. The owner and `apps.read` go with it, so the
   * viewer only lists an app to those who may read it (`user`: their own).
   */
  async logSources(hostId: string): Promise<CommandLogSource[]> {
    const { items } = await this.repo.list({ host: hostId, sort: 'name', order: 'asc', limit: 500, offset: 0 });
    return items.filter((r) => r.state !== 'pending').map((r) => ({
      id: appResource(r.host_id, r.name),
      title: `${r.name} (app)`,
      kind: 'command' as const,
      command: `dokku logs ${r.name} -t`,
      permission: appsPermissions.read,
      ownerId: r.owner_id,
      open: (cursor: string | undefined, signal: AbortSignal, opts: { lines: number }) => commandLogSource({
        lines: opts.lines,
        timestamps: true,
        run: async ({ lines, signal: killed }) => {
          const cli = await this.cli(r.host_id);
          const secrets = await this.secretValues(r.host_id, r.name);
          return cli.logs(r.name as AppName, { lines, signal: killed, secrets });
        },
      }).open(cursor, signal),
    }));
  }

  // ---- inventory -----------------------------------------------------------------------------

  async refreshAll(): Promise<RefreshReport[]> {
    const out: RefreshReport[] = [];
    for (const host of await this.dokkuHosts()) {
      try {
        out.push(await this.refreshHost(host));
      } catch (e) {
        this.deps.log.warn({ err: e, host }, e instanceof ExecError && e.isMissingProgram ? 'apps: dokku not found on this host' : 'apps: inventory refresh failed');
      }
    }
    await this.reconcileDeploys().catch((e: unknown) => this.deps.log.warn({ err: e }, 'apps: deploy reconciliation failed'));
    return out;
  }

  /** One refresh per host at a time: a second caller shares the running one. */
  refreshHost(hostId: string): Promise<RefreshReport> {
    const running = this.refreshing.get(hostId);
    if (running) return running;
    const p = this.doRefreshHost(hostId).finally(() => this.refreshing.delete(hostId));
    this.refreshing.set(hostId, p);
    return p;
  }

  private async doRefreshHost(hostId: string): Promise<RefreshReport> {
    const started = Date.now();
    const cli = await this.cli(hostId);
    const names = await cli.listApps();
    let failed = 0;
    await pool(names, this.deps.config.refreshConcurrency, async (name) => {
      try {
        await this.refreshApp(hostId, name, cli);
      } catch (e) {
        failed++;
        this.deps.log.warn({ err: e, host: hostId, app: name }, 'apps: could not refresh an app');
      }
    });
    let removed = 0;
    const seen = new Set<string>(names);
    for (const row of await this.repo.namesOnHost(hostId)) {
      if (seen.has(row.name)) continue;
      // A pending row belongs to a create that is running now (or was cut off a moment ago).
      if (row.state === 'pending' && Date.now() - Number(row.created_at) < 10 * 60_000) continue;
      await this.forgetApp(hostId, row.name);
      removed++;
    }
    this.lastRefreshAt = Date.now();
    return { host: hostId, apps: names.length, removed, failed, durationMs: Date.now() - started };
  }

  /** Reads one app from Dokku into the inventory; an app Dokku no longer has is forgotten. Returns the row. */
  async refreshApp(hostId: string, name: string, cli?: DokkuCli): Promise<AppsInventoryTable | undefined> {
    const c = cli ?? await this.cli(hostId);
    let report: DokkuAppReport;
    try {
      report = await c.report(input(() => parseAppName(name)));
    } catch (e) {
      if (!(e instanceof DokkuAppNotFoundError)) throw e;
      const row = await this.repo.get(hostId, name);
      if (row && row.state === 'ready') await this.forgetApp(hostId, name);
      return undefined;
    }
    return this.upsertFromReport(hostId, report, c);
  }

  private async upsertFromReport(hostId: string, r: DokkuAppReport, cli?: DokkuCli): Promise<AppsInventoryTable> {
    const scale = await (cli ?? await this.cli(hostId)).scaleReport(r.name).catch(() => ({} as Record<string, number>));
    const git = r.deploySource === 'git-sync' || r.deploySource === 'git-push';
    const remote = git && r.deploySourceMetadata.includes('#') ? r.deploySourceMetadata.slice(0, r.deploySourceMetadata.lastIndexOf('#')) : null;
    const observed: ObservedApp = {
      status: !r.deployed ? 'not_deployed' : r.running === 'false' ? 'stopped' : 'running',
      deploy_source: r.deploySource,
      image: r.deploySource === 'docker-image' ? (r.sourceImage || r.deploySourceMetadata || null) : null,
      git_commit: git ? (r.gitSha || null) : null,
      git_remote: remote,
      processes: r.processes,
      domains: r.vhosts,
      scale,
      url: r.vhosts[0] ? `http://${r.vhosts[0]}` : null,
    };
    const row = await this.repo.upsertObserved(hostId, r.name, observed);
    const res = appResource(hostId, r.name);
    for (const d of r.vhosts) await this.claims.record(d, row.owner_id, res);
    return row;
  }

  /** The deploy's URL as Dokku announced it (`=====> Application deployed:`), kept when no domain is set. */
  async noteUrl(hostId: string, name: string, url: string | undefined): Promise<void> {
    if (!url) return;
    const row = await this.repo.get(hostId, name);
    if (row && !row.url) await this.repo.setUrl(row.id, url);
  }

  publishChanged(hostId: string, name: string, data: Record<string, unknown> = {}): void {
    void this.repo.get(hostId, name).then((row) => row && this.publish(row, 'updated', data)).catch(() => undefined);
  }
}

export type RuntimeOp =
  | { kind: 'ps'; action: 'start' | 'stop' | 'restart' | 'rebuild' }
  | { kind: 'scale'; processes: [string, number][] }
  | { kind: 'letsencrypt'; enable: boolean };
