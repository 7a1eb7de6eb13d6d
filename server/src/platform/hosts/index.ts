import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { CoreTables } from '../../db/schema.js';
import { createSshRunnerFactory } from '../../infra/ssh.js';
import type { AuditLog } from '../audit/audit.service.js';
import type { EventBus } from '../events/event-bus.js';
import type { HttpApp } from '../module.js';
import { LOCAL_HOST_ID, type HostRegistry } from './host-registry.js';
import { registerHostRoutes } from './hosts.routes.js';
import { HostsService } from './hosts.service.js';

export { detectCapabilities, CAPABILITY_PATHS, type Capabilities, type CapabilityName } from './capabilities.js';
export { HostRegistry, LOCAL_HOST_ID, type HostRecord, type RemoteRunnerFactory } from './host-registry.js';
export { HostsService } from './hosts.service.js';

export interface HostsPlatform {
  service: HostsService;
  registerRoutes(http: HttpApp): void;
  /** Detects the local host's capabilities (in the background: a slow `ls` never delays the start). */
  start(): void;
  close(): void;
}

/**
 * Hosts are the platform's: the registry gets the SSH runner factory (the panel's own key from the
 * data dir, host keys pinned), `/api/v1/hosts` is served whatever modules are enabled.
 */
export function createHostsPlatform(d: { db: Kysely<CoreTables>; hosts: HostRegistry; audit: AuditLog; events: EventBus; dataDir: string; log: FastifyBaseLogger }): HostsPlatform {
  const ssh = createSshRunnerFactory({ dataDir: d.dataDir });
  d.hosts.setRemoteRunnerFactory(ssh);
  const service = new HostsService({ db: d.db, hosts: d.hosts, audit: d.audit, events: d.events, dataDir: d.dataDir });
  return {
    service,
    registerRoutes: (http) => registerHostRoutes(http, service, () => ssh.publicKey()),
    start: () => void service.detectAndStore(LOCAL_HOST_ID).catch((e: unknown) => d.log.warn({ err: e }, 'capability detection of the local host failed')),
    close: () => ssh.close(),
  };
}
