import type { FastifyBaseLogger } from 'fastify';
import { type EventBus, newId } from '../../../server/src/sdk.js';
import type { CaddyAdmin, CaddyRoute } from './caddy.admin.js';
import type { ContainersMetrics } from './containers.metrics.js';
import type { ServiceRecord, ServicesRepo } from './containers.repo.js';
import { SERVICE_STATES, startOrder, type ServiceState } from './containers.schema.js';
import type { ContainersGuard } from './containers.guard.js';
import { LABEL_HTTP_PORT } from './host-ports.js';
import type { PortConnections } from './tcp-activity.js';
import { LABEL_CONTAINER, LABEL_NAMESPACE, LABEL_SERVICE, dockerReason, type ContainerState, type DockerClient } from './docker.client.js';

/** A wake that did not end ready: 503 (could not start) or 504 (not ready in time), with the reason. */
export class WakeError extends Error {
  constructor(message: string, readonly status: 503 | 504) {
    super(message);
  }
}

/** A container of the service's name that does not carry its label: never started, stopped, removed or routed to. */
export class ForeignContainerError extends WakeError {
  constructor(name: string, found: string | undefined) {
    super(`container ${name} exists but is not this service's (its ${LABEL_SERVICE} label is ${found ? `"${found}"` : 'missing'}); Slipway leaves it untouched`, 503);
  }
}

/** A stored definition (or its existing containers) breaks the tenant rules: the service is not started. */
export class StartRefusedError extends WakeError {
  constructor(message: string) {
    super(message, 503);
  }
}

export interface WakeResult {
  port: number;
  /** Id of the wake's history row, to add the first-byte time to. */
  wakeId: string | null;
}

interface Live {
  record: ServiceRecord;
  state: ServiceState;
  /** Serialises wake, sleep and reconcile of one service. */
  chain: Promise<unknown>;
  wake: Promise<WakeResult> | null;
  /** Resolves as soon as the containers are ready, before Caddy's route is switched (held requests go then). */
  ready: Promise<WakeResult> | null;
  /** Set while Slipway itself starts or stops containers, so Docker's events about it are not "outside" changes. */
  busy: boolean;
  /** Database writes of this service, in order; the wake path does not wait for them. */
  persist: Promise<void>;
  port: number | null;
  /**
   * The HTTP container's fixed loopback port (its label): the route then names it and the activator
   * behind it for good, and waking or sleeping needs no Caddy reload. Null: Docker's random port.
   */
  fixedPort: number | null;
  /** The route last written to Caddy for this service (an unchanged one is not written again). */
  routeKey: string | null;
  lastActivity: number;
  lastFailure: { at: number; error: WakeError } | null;
  /** A Docker event arrived while Slipway itself was changing the service: look again afterwards. */
  missedEvent: boolean;
}

export interface WakeControllerDeps {
  repo: ServicesRepo;
  docker: DockerClient;
  caddy: CaddyAdmin;
  events: EventBus;
  metrics: ContainersMetrics;
  log: FastifyBaseLogger;
  namespace: string;
  listen: string[];
  autoHttps: boolean;
  /** Name of the per-request access logger earlier versions wrote to Caddy; removed at start. */
  legacyAccessLogger: string;
  /** TCP connections of these loopback ports now (null: the kernel's tables cannot be read). */
  connections(ports: ReadonlySet<number>): Promise<Map<number, PortConnections> | null>;
  /** Accepted fixed ports (a label outside it is not trusted). */
  fixedPortOk(port: number): boolean;
  failureBackoffMs: number;
  /** host:port of the activator (known once it listens). */
  activatorDial(): string;
  /** Requests/WebSockets of a service still being proxied by the activator (opened while it slept). */
  activatorInFlight(serviceId: string): number;
  /** Tenant rules checked before a stored service starts. */
  guard: ContainersGuard;
}

/**
 * Names derive from the service id (fixed length, unique), never from user-chosen names alone:
 * `shop-prod`/`web` and `shop`/`prod-web` can no longer meet in one name.
 */
export const containerName = (serviceId: string, container: string) => `slw-${serviceId}-${container}`;
export const networkName = (serviceId: string) => `slw-${serviceId}`;

/**
 * The service's container: null when none of that name exists; throws when the one of that name
 * does not carry this service's `slipway.service` label (someone else's: it is never touched).
 */
export async function ownContainer(docker: DockerClient, serviceId: string, container: string): Promise<ContainerState | null> {
  const name = containerName(serviceId, container);
  const s = await docker.inspect(name);
  if (!s) return null;
  if (s.labels[LABEL_SERVICE] !== serviceId) throw new ForeignContainerError(name, s.labels[LABEL_SERVICE]);
  return s;
}

/**
 * The state machine of sleeping services: wakes them (one start for any number of concurrent
 * requests), puts idle ones to sleep, keeps Caddy's routes pointing at the container while awake and
 * at the activator while asleep, and follows changes made outside Slipway (Docker events).
 */
export class WakeController {
  private readonly live = new Map<string, Live>();
  private readonly byHost = new Map<string, string>();
  private readonly listeners = new Set<(serviceId: string, state: ServiceState, detail?: string) => void>();
  private stopEvents: (() => void) | null = null;
  /** Connections of each running service's port at the previous sweep (a new one is activity). */
  private seenConnections = new Map<number, Set<string>>();
  /** First-byte times of wakes whose history row is not written yet (null: not known yet). */
  private readonly firstBytes = new Map<string, number | null>();

  constructor(private readonly d: WakeControllerDeps) {}

  routeId(serviceId: string): string {
    return `${this.d.namespace}_svc_${serviceId.replace(/-/g, '')}`;
  }

  serviceForHost(host: string): string | undefined {
    return this.byHost.get(host.toLowerCase().replace(/:\d+$/, ''));
  }

  state(serviceId: string): ServiceState | undefined {
    return this.live.get(serviceId)?.state;
  }

  upstreamPort(serviceId: string): number | null {
    const l = this.live.get(serviceId);
    return l?.state === 'running' ? l.port : null;
  }

  lastActivity(serviceId: string): number | undefined {
    return this.live.get(serviceId)?.lastActivity;
  }

  /** A recent failed wake, served to requests until the back-off passes. */
  recentFailure(serviceId: string): WakeError | null {
    const f = this.live.get(serviceId)?.lastFailure;
    return f && Date.now() - f.at < this.d.failureBackoffMs ? f.error : null;
  }

  onStateChange(fn: (serviceId: string, state: ServiceState, detail?: string) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  touch(serviceId: string, at = Date.now()): void {
    const l = this.live.get(serviceId);
    if (l && at > l.lastActivity) l.lastActivity = at;
  }

  /**
   * Rebuilds state from the database, Docker (labels) and Caddy; writes our Caddy server in one
   * reload. The idle sweep (`tick`) is the module's `idle-sweep` schedule, run once this succeeded.
   */
  async start(): Promise<void> {
    const records = await this.d.repo.list();
    await this.adoptLegacyNames(records);
    const routes: CaddyRoute[] = [];
    for (const r of records) {
      const l = this.track(r);
      l.routeKey = null;
      if (r.state === 'creating' || r.state === 'deleting') {
        routes.push(this.keep(l, this.activatorRoute(r)));
        continue;
      }
      let entry: ContainerState | null = null;
      let problem: string | undefined;
      try {
        entry = await ownContainer(this.d.docker, r.id, r.spec.http.container);
      } catch (e) {
        problem = (e as Error).message;
      }
      let port = entry?.running && !entry.paused ? entry.hostPort(r.spec.http.port) : null;
      this.learnFixedPort(l, entry);
      if (entry && port) {
        // A definition stored before the tenant rules may be running with a host bind: stop it.
        const refusal = await this.d.guard.startRefusal(r, await this.ownStates(r));
        if (refusal) {
          await this.stopOwn(r, 2);
          port = null;
          problem = refusal;
        }
      }
      if (problem) {
        l.fixedPort = null; // a foreign container (or a refused one) is never routed to
        routes.push(this.keep(l, this.activatorRoute(r)));
        await this.setState(l, 'failed', problem);
      } else if (entry && port) {
        l.port = port;
        l.lastActivity = Date.now();
        routes.push(this.keep(l, this.routeFor(l, port)));
        await this.setState(l, 'running');
      } else {
        routes.push(this.keep(l, this.routeFor(l, null)));
        const next: ServiceState = !entry ? 'failed' : r.state === 'failed' ? 'failed' : 'sleeping';
        await this.setState(l, next, !entry ? 'its container is missing' : undefined);
      }
    }
    await this.d.caddy.putServer({ listen: this.d.listen, autoHttps: this.d.autoHttps, routes });
    // Earlier versions had Caddy write a JSON line per request for activity; no longer (issue 16).
    await this.d.caddy.removeLogger(this.d.legacyAccessLogger).catch((err: unknown) => this.d.log.warn({ err }, 'containers: removing the old access logger failed'));
    const events = await this.d.docker.events(this.d.namespace, (e) => void this.onDockerEvent(e).catch((err) => this.d.log.warn({ err }, 'docker event handling failed')));
    this.stopEvents = events.stop;
    for (const l of this.live.values()) {
      if (l.record.spec.sleep.mode === 'always-on' && l.state === 'sleeping') void this.wake(l.record.id, 'always-on').catch(() => {});
    }
  }

  /**
   * Containers created before names derived from the service id (`slw-<service name>-<container>`)
   * are found by their labels (never by name) and renamed to `slw-<service id>-<container>`.
   */
  private async adoptLegacyNames(records: ServiceRecord[]): Promise<void> {
    const ids = new Set(records.map((r) => r.id));
    const ours = await this.d.docker.listContainers({ labels: [`${LABEL_NAMESPACE}=${this.d.namespace}`] });
    for (const c of ours) {
      const sid = c.labels[LABEL_SERVICE];
      const cname = c.labels[LABEL_CONTAINER];
      if (!sid || !cname || !ids.has(sid)) continue;
      const want = containerName(sid, cname);
      if (c.name === want) continue;
      if (await this.d.docker.inspect(want)) {
        this.d.log.warn({ container: c.name, want }, 'containers: a legacy-named container cannot take its new name (taken); left as is');
        continue;
      }
      await this.d.docker.rename(c.id, want).then(
        () => this.d.log.info({ from: c.name, to: want }, 'containers: renamed a container to its service-id name'),
        (err: unknown) => this.d.log.warn({ err, container: c.name }, 'containers: renaming a legacy container failed'),
      );
    }
  }

  /** The service's containers that exist and carry its label (foreign ones are skipped, never touched). */
  private async ownStates(r: ServiceRecord): Promise<ContainerState[]> {
    const out: ContainerState[] = [];
    for (const c of r.spec.containers) {
      const s = await ownContainer(this.d.docker, r.id, c.name).catch(() => null);
      if (s) out.push(s);
    }
    return out;
  }

  /** Stops the service's own containers (reverse start order); errors ignored. */
  private async stopOwn(r: ServiceRecord, timeoutSeconds: number): Promise<void> {
    for (const c of startOrder(r.spec.containers).reverse()) {
      const s = await ownContainer(this.d.docker, r.id, c.name).catch(() => null);
      if (s?.running) await this.d.docker.stop(s.id, timeoutSeconds).catch(() => {});
    }
  }

  async stop(): Promise<void> {
    this.stopEvents?.();
    this.stopEvents = null;
    await Promise.allSettled([...this.live.values()].map((l) => l.chain));
    await Promise.allSettled([...this.live.values()].map((l) => l.persist));
  }

  private track(r: ServiceRecord): Live {
    let l = this.live.get(r.id);
    if (!l) {
      l = { record: r, state: r.state, chain: Promise.resolve(), wake: null, ready: null, busy: false, persist: Promise.resolve(), port: null, fixedPort: null, routeKey: null, lastActivity: r.lastActivityAt ?? Date.now(), lastFailure: null, missedEvent: false };
      this.live.set(r.id, l);
    }
    l.record = r;
    for (const [h, id] of this.byHost) if (id === r.id) this.byHost.delete(h);
    for (const h of r.spec.hostnames) this.byHost.set(h, r.id);
    return l;
  }

  private activatorRoute(r: ServiceRecord): CaddyRoute {
    return { id: this.routeId(r.id), hostnames: r.spec.hostnames, dial: this.d.activatorDial(), setHeaders: { 'X-Slipway-Service': r.id } };
  }

  private containerRoute(r: ServiceRecord, port: number): CaddyRoute {
    return { id: this.routeId(r.id), hostnames: r.spec.hostnames, dial: `127.0.0.1:${port}` };
  }

  /**
   * The route a service needs. With a fixed port (and not pause mode, whose paused container still
   * accepts connections) it is one route for asleep and awake: the container first, the activator
   * when the container refuses. Otherwise the container while running, else the activator.
   */
  private routeFor(l: Live, runningPort: number | null): CaddyRoute {
    const r = l.record;
    if (l.fixedPort && r.spec.sleep.mode !== 'pause') {
      return { id: this.routeId(r.id), hostnames: r.spec.hostnames, dial: `127.0.0.1:${l.fixedPort}`, fallback: this.d.activatorDial() };
    }
    return runningPort ? this.containerRoute(r, runningPort) : this.activatorRoute(r);
  }

  /** True when switching this service between asleep and awake leaves Caddy's config alone. */
  reloadFree(serviceId: string): boolean {
    const l = this.live.get(serviceId);
    return !!l?.fixedPort && l.record.spec.sleep.mode !== 'pause';
  }

  private keep(l: Live, route: CaddyRoute): CaddyRoute {
    l.routeKey = JSON.stringify(route);
    return route;
  }

  /** Writes the route unless Caddy already has exactly it (no reload then). */
  private async applyRoute(l: Live, route: CaddyRoute): Promise<void> {
    const key = JSON.stringify(route);
    if (l.routeKey === key) return;
    l.routeKey = null;
    await this.d.caddy.setRoute(route);
    l.routeKey = key;
  }

  /** The fixed port from the HTTP container's label; a running container must be published on it. */
  private learnFixedPort(l: Live, entry: ContainerState | null): void {
    const p = entry ? Number(entry.labels[LABEL_HTTP_PORT]) : NaN;
    const ok = Number.isInteger(p) && this.d.fixedPortOk(p);
    const running = entry?.running ? entry.hostPort(l.record.spec.http.port) : null;
    l.fixedPort = ok && (running === null || running === p) ? p : null;
  }

  private serialize<T>(l: Live, fn: () => Promise<T>): Promise<T> {
    const run = l.chain.then(fn, fn);
    l.chain = run.catch(() => {});
    return run;
  }

  /** Queues a database write of a service behind its earlier ones; never rejects (failures are logged). */
  private queue(l: Live, write: () => Promise<unknown>): Promise<void> {
    const next = l.persist.then(write).then(
      () => {},
      (err: unknown) => this.d.log.warn({ err, service: l.record.name }, 'saving service state failed'),
    );
    l.persist = next;
    return next;
  }

  /** Resolves when the service's queued database writes are done (reads after a wake see them). */
  async settled(serviceId: string): Promise<void> {
    const l = this.live.get(serviceId);
    if (!l) return;
    await l.wake?.catch(() => {});
    await l.persist;
  }

  /** In memory, events and listeners at once; the database write is queued (await it to wait). */
  private setState(l: Live, state: ServiceState, detail?: string): Promise<void> {
    const changed = l.state !== state;
    l.state = state;
    this.refreshGauge();
    if (changed) {
      this.d.events.publish({ type: 'container.state', resource: { type: 'container', id: l.record.id }, ownerId: l.record.ownerId, data: { name: l.record.name, state, ...(detail ? { detail } : {}) } });
    }
    for (const fn of this.listeners) fn(l.record.id, state, detail);
    return this.queue(l, () => this.d.repo.update(l.record.id, { state, ...(state === 'failed' ? { lastError: detail ?? null } : state === 'running' ? { lastError: null } : {}) }));
  }

  private refreshGauge(): void {
    const counts = Object.fromEntries(SERVICE_STATES.map((s) => [s, 0])) as Record<ServiceState, number>;
    for (const l of this.live.values()) counts[l.state]++;
    for (const s of SERVICE_STATES) this.d.metrics.services.set({ state: s }, counts[s]);
  }

  /** A service was created (its containers exist, stopped): route it to the activator, state sleeping. */
  async register(serviceId: string): Promise<void> {
    const r = await this.d.repo.find(serviceId);
    if (!r) return;
    const l = this.track(r);
    await this.serialize(l, async () => {
      this.learnFixedPort(l, await ownContainer(this.d.docker, r.id, r.spec.http.container).catch(() => null));
      l.routeKey = null; // written again (hostnames may have changed)
      await this.applyRoute(l, this.routeFor(l, null));
      l.port = null;
      l.lastFailure = null;
      await this.setState(l, 'sleeping');
    });
  }

  /** Forgets a service: removes its route (before its containers go). */
  async unregister(serviceId: string): Promise<void> {
    const l = this.live.get(serviceId);
    const run = async () => {
      if (l) l.routeKey = null;
      await this.d.caddy.removeRoute(this.routeId(serviceId));
      if (l) l.busy = true; // what follows (container removal) is ours
      for (const [h, id] of this.byHost) if (id === serviceId) this.byHost.delete(h);
    };
    await (l ? this.serialize(l, run) : run());
  }

  forget(serviceId: string): void {
    this.live.delete(serviceId);
    this.refreshGauge();
  }

  /**
   * Wakes a service; concurrent callers share one start. Resolves with the container's port once it is
   * ready and Caddy routes to it; with `early`, as soon as the container is ready (the activator
   * replays held requests straight to it while the route switches).
   */
  wake(serviceId: string, trigger: string, opts: { early?: boolean } = {}): Promise<WakeResult> {
    const l = this.live.get(serviceId);
    if (!l) return Promise.reject(new WakeError('unknown service', 503));
    if (l.state === 'running' && l.port && !l.wake) return Promise.resolve({ port: l.port, wakeId: null });
    if (l.wake) return opts.early && l.ready ? l.ready : l.wake;
    let onReady!: (r: WakeResult) => void;
    let onFail!: (e: unknown) => void;
    const ready = new Promise<WakeResult>((resolve, reject) => {
      onReady = resolve;
      onFail = reject;
    });
    ready.catch(() => {});
    const p = this.serialize(l, () => this.doWake(l, trigger, onReady));
    p.then(onReady, onFail);
    l.wake = p;
    l.ready = ready;
    void p.finally(() => {
      if (l.wake === p) {
        l.wake = null;
        l.ready = null;
      }
      this.recheckIfMissed(l);
    }).catch(() => {});
    return opts.early ? ready : p;
  }

  private async doWake(l: Live, trigger: string, onContainersReady: (r: WakeResult) => void = () => {}): Promise<WakeResult> {
    if (l.state === 'running' && l.port) return { port: l.port, wakeId: null };
    if (l.state === 'creating' || l.state === 'deleting') throw new WakeError(`the service is ${l.state}`, 503);
    const r = l.record;
    const at = Date.now();
    l.busy = true;
    void this.setState(l, 'waking');
    const deadline = at + r.spec.startTimeoutSeconds * 1000;
    let pendingWakeId: string | null = null;
    try {
      const startedAt = performance.now();
      let port: number | null = null;
      // Every container is checked (label, mounts, the stored definition) before any is started.
      const order = startOrder(r.spec.containers);
      const states: ContainerState[] = [];
      for (const c of order) {
        const s = await ownContainer(this.d.docker, r.id, c.name);
        if (!s) throw new WakeError(`container ${containerName(r.id, c.name)} is missing`, 503);
        states.push(s);
      }
      const refusal = await this.d.guard.startRefusal(r, states);
      if (refusal) throw new StartRefusedError(refusal);
      for (const [i, c] of order.entries()) {
        const before = states[i]!;
        try {
          if (before.paused) await this.d.docker.unpause(before.id);
          else if (!before.running) await this.d.docker.start(before.id);
        } catch (e) {
          throw new WakeError(`container ${c.name} did not start: ${dockerReason(e)}`, 503);
        }
        const isEntry = c.name === r.spec.http.container;
        const hc = c.healthCheck ?? (isEntry ? { type: 'http' as const, path: '/' } : { type: 'running' as const });
        const p = await this.waitReady(before.id, c.name, hc, isEntry ? r.spec.http.port : null, deadline);
        if (isEntry) port = p;
      }
      if (!port) throw new WakeError('the HTTP container publishes no port', 503);
      const startToReadyMs = performance.now() - startedAt;
      const wakeId = newId();
      pendingWakeId = wakeId;
      this.firstBytes.set(wakeId, null); // the history row is not written yet
      onContainersReady({ port, wakeId });
      const route = this.routeFor(l, port);
      if (route.fallback) {
        // One route asleep and awake: Caddy reaches the container as soon as it answers (no reload).
        if (port !== l.fixedPort) throw new WakeError(`the HTTP container is published on ${port}, not its fixed port ${l.fixedPort}`, 503);
      } else {
        // Switch Caddy to the container and make sure its running config says so before anyone is told.
        await this.applyRoute(l, route);
        const dial = await this.d.caddy.routeDial(route.id);
        if (dial !== route.dial) throw new WakeError(`Caddy's route did not switch (it points at ${dial ?? 'nothing'})`, 503);
      }
      l.port = port;
      l.lastActivity = Date.now();
      l.lastFailure = null;
      // The bookkeeping follows in order, off the request path.
      const lastActivityAt = l.lastActivity;
      void this.queue(l, async () => {
        await this.d.repo.countWake(r.id);
        await this.d.repo.update(r.id, { lastWakeAt: at, lastActivityAt });
        const firstByteMs = this.firstBytes.get(wakeId) ?? null;
        this.firstBytes.delete(wakeId);
        await this.d.repo.recordWake(r.id, { at, trigger, outcome: 'ready', startToReadyMs: Math.round(startToReadyMs), firstByteMs: firstByteMs === null ? null : Math.round(firstByteMs), error: null }, wakeId);
      });
      this.d.metrics.wakes.inc({ service: r.name, outcome: 'ready' });
      this.d.metrics.coldStart.observe({ phase: 'start_to_ready' }, startToReadyMs / 1000);
      void this.setState(l, 'running');
      this.d.events.publish({ type: 'container.woke', resource: { type: 'container', id: r.id }, ownerId: r.ownerId, data: { name: r.name, trigger, startToReadyMs: Math.round(startToReadyMs) } });
      return { port, wakeId };
    } catch (e) {
      const err = e instanceof WakeError ? e : new WakeError(e instanceof Error ? e.message : String(e), 503);
      l.lastFailure = { at: Date.now(), error: err };
      l.port = null;
      if (pendingWakeId) this.firstBytes.delete(pendingWakeId);
      this.d.log.warn({ service: r.name, err: err.message }, 'wake failed');
      // Leave nothing half-started: the route already points at the activator.
      await this.stopOwn(r, 2);
      await this.d.repo.recordWake(r.id, { at, trigger, outcome: 'failed', startToReadyMs: null, firstByteMs: null, error: err.message });
      this.d.metrics.wakes.inc({ service: r.name, outcome: 'failed' });
      await this.setState(l, 'failed', err.message);
      throw err;
    } finally {
      l.busy = false;
    }
  }

  /** Polls until the container is ready; fails fast when it exits. Returns the published HTTP port. */
  private async waitReady(name: string, label: string, hc: { type: 'http'; path: string } | { type: 'docker' } | { type: 'running' }, httpPort: number | null, deadline: number): Promise<number | null> {
    let port: number | null = null;
    for (let attempt = 0; ; attempt++) {
      const s = await this.d.docker.inspect(name);
      if (!s) throw new WakeError(`container ${label} disappeared`, 503);
      if (!s.running) {
        const tail = await this.lastLogLines(name);
        throw new WakeError(`container ${label} exited with code ${s.exitCode}${s.error ? ` (${s.error})` : ''}${tail ? `: ${tail}` : ''}`, 503);
      }
      if (httpPort) port = s.hostPort(httpPort);
      let ready = false;
      if (hc.type === 'running') ready = true;
      else if (hc.type === 'docker') {
        if (s.health === 'unhealthy') throw new WakeError(`container ${label} is unhealthy`, 503);
        ready = s.health === 'healthy';
      } else if (port) {
        ready = await httpReady(port, hc.path);
      }
      if (ready && (!httpPort || port)) return port;
      if (Date.now() > deadline) throw new WakeError(`container ${label} was not ready within the start timeout`, 504);
      await sleep(attempt < 50 ? 15 : 100);
    }
  }

  private async lastLogLines(name: string): Promise<string> {
    const lines: string[] = [];
    try {
      await this.d.docker.logs(name, { follow: false, tail: 3 }, (l) => lines.push(l.line.replace(/^\S+Z\s/, '')));
    } catch {
      /* no logs */
    }
    return lines.join(' | ').slice(0, 500);
  }

  /** Puts a running service to sleep: route to the activator first, then stop (or pause) its containers. */
  sleep(serviceId: string, reason: string): Promise<void> {
    const l = this.live.get(serviceId);
    if (!l) return Promise.resolve();
    return this.serialize(l, () => this.doSleep(l, reason)).finally(() => this.recheckIfMissed(l));
  }

  /** Replays what Docker says now when one of its events was skipped during our own change. */
  private recheckIfMissed(l: Live): void {
    if (!l.missedEvent) return;
    l.missedEvent = false;
    const r = l.record;
    void ownContainer(this.d.docker, r.id, r.spec.http.container).catch(() => null).then((s) => {
      if (!s) return this.onDockerEvent({ action: 'destroy', id: '', labels: { [LABEL_SERVICE]: r.id, [LABEL_CONTAINER]: r.spec.http.container } });
      const action = s.running && !s.paused ? 'start' : s.paused ? 'pause' : 'die';
      return this.onDockerEvent({ action, id: s.id, labels: { [LABEL_SERVICE]: r.id, [LABEL_CONTAINER]: r.spec.http.container } });
    }).catch((err: unknown) => this.d.log.warn({ err, service: r.name }, 'recheck after a Docker event failed'));
  }

  private async doSleep(l: Live, reason: string): Promise<void> {
    if (l.state !== 'running' && l.state !== 'failed') return;
    const r = l.record;
    l.busy = true;
    const wasRunning = l.state === 'running';
    try {
      if (reason === 'idle' && wasRunning && (await this.requestsInFlight(l))) {
        // A request arrived since the sweep looked: never stop a service under it.
        l.lastActivity = Date.now();
        return;
      }
      await this.setState(l, 'stopping');
      // The route leaves the container first, unless it is the one fixed route (the stopped
      // container then refuses, and Caddy goes on to the activator by itself).
      await this.applyRoute(l, this.routeFor(l, null));
      l.port = null;
      for (const c of startOrder(r.spec.containers).reverse()) {
        const s = await ownContainer(this.d.docker, r.id, c.name).catch((err: unknown) => {
          this.d.log.warn({ service: r.name, err: (err as Error).message }, 'sleep: container skipped');
          return null;
        });
        if (!s?.running) continue;
        if (r.spec.sleep.mode === 'pause' && !s.paused) await this.d.docker.pause(s.id);
        else if (r.spec.sleep.mode !== 'pause') await this.d.docker.stop(s.id, r.spec.stopTimeoutSeconds ?? 10);
      }
      if (wasRunning) {
        await this.d.repo.countSleep(r.id);
        this.d.metrics.sleeps.inc({ service: r.name });
      }
      await this.setState(l, 'sleeping');
      if (wasRunning) this.d.events.publish({ type: 'container.slept', resource: { type: 'container', id: r.id }, ownerId: r.ownerId, data: { name: r.name, reason } });
    } finally {
      l.busy = false;
    }
  }

  /**
   * One idle check, then sleep the idle. Activity is what Caddy and the kernel already count, so the
   * warm path writes nothing per request (issue 16): the connections of the service's port (an
   * established one, or one that is new since the last sweep, see tcp-activity.ts), Caddy's
   * in-flight counters, and the activator's own requests.
   * Run by the `idle-sweep` schedule (never overlapping itself); a failure (Caddy not answering)
   * is thrown for the schedule to log and show as its last error.
   */
  async tick(): Promise<void> {
    const running = [...this.live.values()].filter((l) => l.state === 'running');
    if (!running.length) return;
    const inFlight = new Map((await this.d.caddy.upstreams()).map((u) => [u.address, u.numRequests]));
    const ports = new Set(running.flatMap((l) => (l.port ? [l.port] : [])));
    const conns = await this.d.connections(ports);
    const seen = this.seenConnections;
    this.seenConnections = new Map([...ports].map((p) => [p, conns?.get(p)?.keys ?? new Set<string>()]));
    const now = Date.now();
    for (const l of running) {
      const c = l.port ? conns?.get(l.port) : undefined;
      const before = l.port ? seen.get(l.port) : undefined;
      const newConnection = !!c && [...c.keys].some((k) => !before?.has(k));
      // An open WebSocket or streaming response is a request in flight: never sleep under it.
      const busy = !!l.port && ((inFlight.get(`127.0.0.1:${l.port}`) ?? 0) > 0 || !!c?.established || newConnection);
      if (busy || this.d.activatorInFlight(l.record.id) > 0) l.lastActivity = now;
      const policy = l.record.spec.sleep;
      if (policy.mode === 'always-on' || l.wake || l.busy) continue;
      if (now - l.lastActivity >= policy.idleTimeoutSeconds * 1000) {
        await this.d.repo.update(l.record.id, { lastActivityAt: l.lastActivity });
        void this.sleep(l.record.id, 'idle').catch((err) => this.d.log.warn({ err, service: l.record.name }, 'sleep failed'));
      }
    }
  }

  /** Requests Caddy or the activator is proxying to the service right now (read just before it is stopped). */
  private async requestsInFlight(l: Live): Promise<boolean> {
    if (this.d.activatorInFlight(l.record.id) > 0) return true;
    if (!l.port) return false;
    const address = `127.0.0.1:${l.port}`;
    return (await this.d.caddy.upstreams()).some((u) => u.address === address && u.numRequests > 0);
  }

  recordFirstByte(serviceId: string, wakeId: string, ms: number): Promise<void> {
    this.d.metrics.coldStart.observe({ phase: 'first_byte' }, ms / 1000);
    // The held request is often answered before the wake's history row is written: the row takes it then.
    if (this.firstBytes.has(wakeId)) {
      this.firstBytes.set(wakeId, ms);
      return Promise.resolve();
    }
    const l = this.live.get(serviceId);
    return l ? this.queue(l, () => this.d.repo.setFirstByte(wakeId, ms)) : Promise.resolve();
  }

  /** Containers changed outside Slipway: the route and state follow. */
  private async onDockerEvent(e: { action: string; id: string; labels: Record<string, string> }): Promise<void> {
    const serviceId = e.labels[LABEL_SERVICE];
    const l = serviceId ? this.live.get(serviceId) : undefined;
    if (!l) return;
    if (l.busy || l.wake) {
      l.missedEvent = true;
      return;
    }
    const isEntry = e.labels[LABEL_CONTAINER] === l.record.spec.http.container;
    const action = e.action.split(':')[0]!;
    await this.serialize(l, async () => {
      if (l.busy) return;
      const r = l.record;
      if (l.state === 'deleting' || l.state === 'creating') return;
      if ((action === 'start' || action === 'unpause') && isEntry && l.state !== 'running') {
        const s = await ownContainer(this.d.docker, r.id, r.spec.http.container).catch(() => null);
        const port = s?.running && !s.paused ? s.hostPort(r.spec.http.port) : null;
        if (!port) return;
        const refusal = await this.d.guard.startRefusal(r, await this.ownStates(r));
        if (refusal) {
          await this.stopOwn(r, 2);
          await this.setState(l, 'failed', refusal);
          return;
        }
        this.learnFixedPort(l, s);
        await this.applyRoute(l, this.routeFor(l, port));
        l.port = port;
        l.lastActivity = Date.now();
        await this.setState(l, 'running', 'started outside Slipway');
      } else if (['die', 'stop', 'pause', 'kill', 'oom'].includes(action) && l.state === 'running') {
        if (action === 'pause') l.fixedPort = null; // a paused container still accepts connections
        await this.applyRoute(l, this.routeFor(l, null));
        l.port = null;
        const s = await this.d.docker.inspect(e.id);
        const crashed = action === 'oom' || (action === 'die' && !!s && s.exitCode !== 0 && s.exitCode !== 143 && s.exitCode !== 137);
        await this.setState(l, crashed ? 'failed' : 'sleeping', crashed ? `container ${e.labels[LABEL_CONTAINER]} exited with code ${s?.exitCode}` : 'stopped outside Slipway');
      } else if (action === 'destroy') {
        l.fixedPort = null;
        await this.applyRoute(l, this.activatorRoute(r));
        l.port = null;
        await this.setState(l, 'failed', `container ${e.labels[LABEL_CONTAINER]} was removed outside Slipway`);
      }
    });
  }

  /** Marks a service as changing (a job runs on it): requests get 503 until it is registered again. */
  async markBusyState(serviceId: string, state: 'creating' | 'deleting'): Promise<void> {
    const l = this.live.get(serviceId);
    if (!l) return;
    await this.serialize(l, async () => {
      // Its containers are about to be replaced or removed: the route must not name a port that is
      // about to be free (another service could be given it) until it is registered again.
      l.fixedPort = null;
      await this.applyRoute(l, this.activatorRoute(l.record));
      await this.setState(l, state);
    });
  }

  /** Re-reads a service's record after its spec changed. */
  async refresh(serviceId: string): Promise<void> {
    const r = await this.d.repo.find(serviceId);
    if (r) this.track(r);
  }
}

async function httpReady(port: number, path: string): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000), redirect: 'manual' });
    await res.arrayBuffer().catch(() => {});
    return res.status < 500;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
