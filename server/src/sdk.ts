/**
 * The one import surface of modules: what a module in modules/<id>/server may use from the
 * platform. Modules import from here (`../../../server/src/sdk.js`) and nothing deeper; the
 * platform is free to move everything behind it.
 */

// The module contract and its context.
export {
  defineMigrations, defineModule, type HttpApp, type ModuleContext, type ModuleDefinition, type ModuleMigrations, type ModuleTables, type RouteAccess,
} from './platform/module.js';
export type { CoreConfig } from './config.js';
export type { Dialect, NamedMigrations } from './db/database.js';
export type { CoreTables } from './db/schema.js';

// Engines that may be missing, and the module status they give.
export {
  defineEngine, describeConnectError, findExecutable, httpGet, probeBinary, probeHttp, runProbe,
  type EngineProbe, type ProbeContext, type ProbeResult,
} from './platform/engines/engine.js';
export { MODULE_STATES, type EngineStatus, type ModuleState, type ModuleStatusView } from './platform/engines/module-status.js';

// Extension points on the context (`ctx.schedule`, `ctx.logSources`, `ctx.overview`).
export type { ScheduledFn, ScheduleOptions, ScheduleView } from './platform/schedule/scheduler.js';
export { isCommandSource, logSourceVisible, type CommandLogSource, type FileLogSource, type LogSourceProvider, type ModuleLogSource } from './platform/extensions/log-sources.js';
export type { OverviewCount, OverviewCountView } from './platform/extensions/overview.js';
// Capabilities one module provides and another uses (`ctx.provide`, `ctx.use`), contracts included.
export type { CapabilityContracts, CapabilityKey, CapabilityUse, VmDiskEditor } from './platform/extensions/capabilities.js';

// Permissions and actors.
export { can, definePermissions, isTenant, requirePermission, roleHas, SYSTEM_ACTOR, type Actor, type Permission, type PermissionDef } from './platform/rbac/permissions.js';
export { authorize, listScope, ownedOnlyFor, resource, type ResourceRef } from './platform/rbac/authorize.js';
export { PermissionRegistry } from './platform/rbac/registry.js';
export { corePermissions } from './platform/rbac/core-permissions.js';
export { ALL_ROLES, OPERATORS, READERS, RESTARTERS, ROLES, type Role } from './platform/rbac/roles.js';

// Domain errors (the error handler maps them to status codes).
export {
  AppError, ConflictError, ContentRejectedError, DomainRuleError, ForbiddenError, ModuleUnavailableError, NotFoundError, PayloadTooLargeError,
  RateLimitedError, UnauthorizedError, UnavailableError, UnsupportedMediaTypeError, ValidationError,
} from './platform/errors.js';

// Running programs (argv only), locally and over SSH; secrets redacted from what tools print.
export { ExecError, redactLine } from './infra/exec-error.js';
export { assertArgv, lineSplitter, LocalProcessRunner, type ExecOptions, type ExecResult, type JobExecOptions, type OutputStream, type ProcessRunner, type StreamHandle } from './infra/process-runner.js';
export { type ForcedCommandLine, loadOrCreatePanelKey, SshConnection, type SshConnectionOptions, SshProcessRunner, type SshProcessRunnerOptions, type SshRunnerFactory } from './infra/ssh.js';
export { REDACTED, redactSecrets, redactSecretsText } from './platform/redact.js';

// Disk images (qemu-img, argv only; untrusted images checked before use).
export {
  assertPathUnder, assertSelfContained, assertSnapshotName, ImageRefusedError, parseInfo, QemuImg, UNTRUSTED_INPUT_FORMATS,
  type ImageCheck, type ImageFormat, type ImageInfo, type ImageLayer, type ImageSnapshot, type MapEntry, type QemuImgOptions,
} from './infra/qemu-img.js';

// Hosts (the platform's): the registry modules get as ctx.hosts, and the shared shapes.
export { HostRegistry, LOCAL_HOST_ID, type HostRecord, type RemoteRunnerFactory } from './platform/hosts/host-registry.js';
export { CAPABILITY_PATHS, type Capabilities, type CapabilityName } from './platform/hosts/capabilities.js';
export {
  ConnectionTest, CreateHost, Fingerprint, Host, HostAddress, HostId, HostName, HostQuery, HostResponse, Port, ProbeHost, SshUser, UpdateHost,
} from './platform/hosts/hosts.schema.js';
// Files on a host (local or over SSH): no-follow opens under allowed roots, tails and follows.
export {
  FileFollower, FileMissingError, HostFiles, normalizeHostPath, openNoFollow, policyForFiles, rootFor, tailFile, UnsafeFileError,
  type FilePolicy, type FollowEvents, type FollowHandle,
} from './platform/hosts/host-files.js';

// Names and network targets users choose (tenant rules shared by every module).
export {
  HostnameClaims, HostnameInvalidError, HostnameReservedError, HostnameTakenError, normalizeHostname, panelHostnames, type ClaimView, type OnBehalf,
} from './platform/names/hostname-claims.js';
export {
  checkNetworkTarget, NetworkTargetRefusedError, nonPublicReason, parseAllowEntry, systemResolver,
  type CheckedTarget, type NetworkTargetPolicy, type Resolver,
} from './platform/net/network-target.js';

// Jobs.
export {
  FINISHED_STATES, JOB_STATES,
  type EnqueueOptions, type LaunchOptions, type JobContext, type JobDefinition, type JobListFilters, type JobLogLine, type JobService, type JobState, type JobStep, type JobStepView, type JobView, type LogStream,
} from './platform/jobs/types.js';

// Audit and events.
export type { AuditLog } from './platform/audit/audit.service.js';
export type { EventBus, PublishedEvent, ResourceEvent } from './platform/events/event-bus.js';

// HTTP helpers: SSE, WebSocket auth, shared zod shapes.
export { assertStreamCapacity, lastEventId, openSse, type SseStream } from './http/sse.js';
// Live logs: one wire format over SSE and WebSocket, resumable by cursor (platform/live-log).
export {
  channelSource, collectLiveLog, filterSource, LiveLogChannel, liveLogCursor, parseLeadingTimestamp, serveLiveLog, sleepUnless, TimestampCursor,
  type LiveLogEndReason, type LiveLogEvent, type LiveLogRecord, type LiveLogSource, type ServeLiveLogOptions,
} from './platform/live-log/live-log.js';
export { commandLogSource, type CommandLogOptions } from './platform/live-log/command-source.js';
export { bearerFromRequest, WS_PROTOCOL } from './http/auth-hook.js';
export { ErrorResponse, IdParam, JobAccepted, JobSummary, Limit, Ok } from './http/schemas.js';

// Ids.
export { newId, now } from './db/ids.js';

// Encryption at rest for one purpose (ctx.secretBox), users' saved SSH keys, expiry policies.
export { SecretBox } from './platform/secret-box.js';
export { SshKeyService } from './platform/auth/ssh-keys.service.js';
export { DAY_MS, LifecyclePolicies, type LifecyclePolicyView } from './platform/lifecycle/lifecycle.service.js';
export { listenParts } from './config.js';
