/**
 * What module tests import from the platform: the SDK plus the test kit (harness, test database,
 * sshd, ports) and the few internals a test needs to start a panel or a database of its own.
 */
export * from '../sdk.js';
export * from './harness.js';
export * from './test-db.js';
export * from './sshd.js';
export * from './ports.js';
export * from './sse-client.js';
export * from './owned-resource.js';
export { buildApp, type AppDeps, type Services } from '../app.js';
export { loadConfig, listenParts, type LoadedConfig } from '../config.js';
export { migrate, openDatabase, type Database } from '../db/database.js';
export { loadOrCreateSecrets, type Secrets } from '../platform/secrets.js';
export { SshProcessRunner, loadOrCreatePanelKey, createSshRunnerFactory } from '../infra/ssh.js';
export { JobLogWriter } from '../platform/jobs/job-log.writer.js';
export { EventBus } from '../platform/events/event-bus.js';
export { AuditLog } from '../platform/audit/audit.service.js';
/** Another module for integration tests (its log viewer, say): `moduleById('server')`. */
export { moduleById } from './module-by-id.js';
