import { isMap, parseAllDocuments } from 'yaml';
import { ApiError, fieldName, issuesOf, sha256OfFile as hashFile, uploadWithProgress, type ApiBody, type ApiData, type ApiQuery, type UploadHandle as Upload } from '@slipway/web';

/** UI constants of the VPS pages (the states and actions of modules/vps/server/vps.schema.ts, as option lists). */
export const VPS_STATES = ['creating', 'running', 'paused', 'in shutdown', 'shut off', 'crashed', 'pmsuspended', 'deleting', 'failed', 'unknown'] as const;
export type VpsState = (typeof VPS_STATES)[number];
export const VPS_ACTIONS = ['start', 'shutdown', 'poweroff', 'reboot', 'reset', 'suspend', 'resume'] as const;
export type VpsAction = (typeof VPS_ACTIONS)[number];

/** Shapes of the VPS API, derived from the OpenAPI document (web/src/api/schema.d.ts; /api/docs, tag "vps"). */
export type Vps = ApiData<'/api/v1/vps/{id}', 'get'>['vps'];
export type Expiry = NonNullable<Vps['expiry']>;
export type Plan = ApiData<'/api/v1/vps/plans', 'get'>['items'][number];
export type Image = ApiData<'/api/v1/vps/images', 'get'>['items'][number];
export type Snapshot = ApiData<'/api/v1/vps/{id}/snapshots', 'get'>['items'][number];
export type SshKey = ApiData<'/api/v1/ssh-keys', 'get'>['items'][number];
export type HostCapacity = ApiData<'/api/v1/vps/hosts', 'get'>['items'][number];
export type UnmanagedDomain = ApiData<'/api/v1/vps/unmanaged', 'get'>['items'][number];
export type UserRef = ApiData<'/api/v1/users', 'get'>['items'][number];
export type Quota = ApiData<'/api/v1/vps/quotas/{userId}', 'get'>['quota'];
export type CreateVpsBody = ApiBody<'/api/v1/vps', 'post'>;

/** VPS_STATES lists exactly the server's states: a state added or renamed there fails the typecheck here. */
const statesMatch: [VpsState] extends [Vps['state']] ? ([Vps['state']] extends [VpsState] ? true : false) : false = true;
void statesMatch;

export const perms = {
  read: 'vps.read', create: 'vps.create', operate: 'vps.operate', delete: 'vps.delete',
  plans: 'vps.plans.manage', quotas: 'vps.quotas.manage', expiry: 'vps.expiry.manage', images: 'vps.images.manage', hosts: 'vps.hosts.read',
} as const;

/** StatusBadge colours know "running"/"failed"/"suspended"; libvirt's other states are mapped here. */
export const STATE_BADGE: Record<VpsState, { status: string; label: string }> = {
  creating: { status: 'queued', label: 'creating…' },
  running: { status: 'active', label: 'running' },
  paused: { status: 'suspended', label: 'suspended' },
  'in shutdown': { status: 'warning', label: 'shutting down…' },
  'shut off': { status: 'stopped', label: 'shut off' },
  crashed: { status: 'failed', label: 'crashed' },
  pmsuspended: { status: 'suspended', label: 'guest suspended' },
  deleting: { status: 'cancelled', label: 'deleting…' },
  failed: { status: 'failed', label: 'failed' },
  unknown: { status: 'unknown', label: 'unknown' },
};

/** Which actions make sense in a state (the server refuses the rest with 409 anyway). */
export function actionAllowed(a: VpsAction, s: VpsState): boolean {
  switch (a) {
    case 'start': return s === 'shut off' || s === 'crashed';
    case 'shutdown': case 'reboot': case 'suspend': return s === 'running';
    case 'poweroff': return s === 'running' || s === 'paused' || s === 'in shutdown' || s === 'crashed' || s === 'pmsuspended';
    case 'reset': return s === 'running' || s === 'paused';
    case 'resume': return s === 'paused';
  }
}

export const memoryText = (mb: number) => (mb >= 1024 && mb % 1024 === 0 ? `${mb / 1024} GB` : `${mb} MB`);
export const sizeText = (p: { vcpus: number; memoryMb: number; diskGb: number }) => `${p.vcpus} vCPU · ${memoryText(p.memoryMb)} · ${p.diskGb} GB disk`;

// The same rules as the server (modules/vps/server/vps.schema.ts, cloud-init.ts), so the form says what is wrong before sending.
export const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export function hostnameProblem(h: string): string | null {
  if (!h) return 'Enter a hostname';
  if (!HOSTNAME.test(h)) return '1–63 lowercase letters, digits and hyphens, not starting or ending with a hyphen';
  if (/^\d+$/.test(h)) return 'Not all digits';
  return null;
}
export const USER_DATA_MAX_BYTES = 64 * 1024;

/** Client-side check of cloud-init user-data (the server validates it again and its reason wins). */
export function userDataProblem(text: string): string | null {
  if (!text.trim()) return null;
  if (new TextEncoder().encode(text).length > USER_DATA_MAX_BYTES) return 'User-data is larger than 64 KiB';
  if (text.includes('\u0000')) return 'User-data must not contain NUL bytes';
  const first = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0]!.trimEnd();
  if (first !== '#cloud-config') return 'User-data must start with the line "#cloud-config" (scripts, #include and MIME archives are not accepted)';
  const docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true, strict: true });
  if (!Array.isArray(docs)) return 'User-data is not valid YAML';
  if (docs.length !== 1) return 'User-data must be exactly one YAML document';
  const doc = docs[0]!;
  const problem = [...doc.errors, ...doc.warnings][0];
  if (problem) {
    const line = problem.linePos?.[0]?.line;
    return `User-data is not valid YAML${line ? ` (line ${line})` : ''}: ${problem.message.split('\n')[0]}`;
  }
  if (!isMap(doc.contents)) return 'User-data must be a YAML mapping (key: value pairs) under #cloud-config';
  try {
    doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return `User-data is not valid YAML: ${(e as Error).message.split('\n')[0]}`;
  }
  return null;
}

/**
 * The server's reason for a field: `details.field` (service rules) or zod's `details.issues[].path`
 * (read with the console's `issuesOf`/`fieldName`, as the core forms do).
 */
export function fieldErrors(e: unknown): Record<string, string> {
  if (!(e instanceof ApiError)) return {};
  const d = e.details as { field?: string } | undefined;
  const out: Record<string, string> = {};
  if (d?.field) out[d.field] = e.message;
  for (const i of issuesOf(e)) {
    const p = fieldName(i.path).split('.')[0]!;
    if (p) out[p] ??= i.message;
  }
  return out;
}

// ---- image upload with progress ----

/** Files up to this size are hashed in the browser (crypto.subtle needs the whole file in memory). */
export const HASH_MAX_BYTES = 256 * 1024 * 1024;

/** SHA-256 of the file as hex, or why it was skipped (too large, or no crypto.subtle outside HTTPS). */
export const sha256OfFile = (file: Blob) => hashFile(file, HASH_MAX_BYTES);

export type UploadHandle = Upload<ApiData<'/api/v1/vps/images', 'post'>>;

/** The image's facts, sent as the upload's query string. */
export type ImageMeta = ApiQuery<'/api/v1/vps/images', 'post'>;

/**
 * POST /api/v1/vps/images?name=… with the file as the raw body (application/octet-stream) and an
 * optional X-Checksum-Sha256, reporting bytes sent (uploadWithProgress: one token refresh and retry on 401).
 */
export function uploadImage(opts: { file: Blob; meta: ImageMeta; sha256?: string; onProgress(sent: number, total: number): void }): UploadHandle {
  const q = new URLSearchParams({ name: opts.meta.name });
  if (opts.meta.os) q.set('os', opts.meta.os);
  if (opts.meta.version) q.set('version', opts.meta.version);
  if (opts.meta.minDiskGb) q.set('minDiskGb', String(opts.meta.minDiskGb));
  if (opts.meta.cloudInit !== undefined) q.set('cloudInit', String(opts.meta.cloudInit));
  if (opts.meta.public !== undefined) q.set('public', String(opts.meta.public));
  return uploadWithProgress({ url: `/api/v1/vps/images?${q}`, file: opts.file, sha256: opts.sha256, onProgress: opts.onProgress });
}
