import { ApiError, sha256OfFile as hashFile, uploadWithProgress, type UploadHandle as Upload } from '@slipway/web';

export { getJson, sendJson } from '@slipway/web';

/** Shapes of the netboot API (see /api/docs, tag "netboot"; modules/netboot/server/netboot.schema.ts). */
export type BootMode = 'iscsi' | 'local' | 'menu';
export type MachineStatus = 'offline' | 'booting' | 'online';
export type SessionState = 'starting' | 'ready' | 'stopping' | 'stopped' | 'failed';

export interface Ref { id: string; name: string }
export interface Connection { initiator: string; address: string; since: number }
export interface Session {
  id: string; machineId: string; machineName: string | null; versionId: string; state: SessionState;
  tid: number | null; targetIqn: string; initiatorIqn: string; jobId: string | null; error: string | null;
  startedAt: number; readyAt: number | null; stoppedAt: number | null; connections: Connection[];
}
export interface Machine {
  id: string; name: string; mac: string; fixedIp: string | null; group: string | null; state: 'pending' | 'active';
  imageId: string | null; versionId: string | null; effectiveVersionId: string | null; bootMode: BootMode; keepWriteback: boolean; notes: string;
  status: MachineStatus; connections: Connection[]; session: Session | null;
  lastScriptAt: number | null; lastBootAt: number | null;
  writeback: { bytes: number; versionId: string | null } | null;
  targetIqn: string; initiatorIqn: string;
  /** The per-MAC script URL; the token is `[redacted]` unless the user has netboot.manage. */
  ipxeScriptUrl: string;
  createdAt: number; updatedAt: number;
}
export interface MachineDetail extends Machine { history: Session[] }
export interface Version {
  id: string; number: number; comment: string; author: Ref | null; virtualSize: number; fileSize: number; sha256: string | null;
  fromMachineId: string | null; parentVersionId: string | null; createdAt: number; latest: boolean; machines: Ref[]; inUse: boolean;
}
export interface Image {
  id: string; name: string; status: 'converting' | 'ready' | 'failed'; error: string | null; createdBy: Ref | null;
  latestVersionId: string | null; latestVersion: number | null; versionCount: number; sizeBytes: number; virtualSize: number | null;
  createdAt: number; updatedAt: number;
}
export interface Disk { root: string; freeBytes: number; reserveBytes: number; usableBytes: number }
export interface Settings {
  interface: string; subnet: string | null; proxyDhcp: boolean;
  serverAddress: string; iscsiPort: number; bootBaseUrl: string; entryScriptUrl: string; iqnPrefix: string; tidRange: { min: number; max: number };
  bootFiles: { bios: string; efi: string; dir: string } | null;
  dnsmasq: { config: string | null; path: string; reason: string | null };
  disk: Disk;
}
export interface JobRef { job: { id: string; title: string } }

export const BOOT_MODES: { value: BootMode; label: string }[] = [
  { value: 'iscsi', label: 'Diskless (iSCSI)' },
  { value: 'local', label: 'Local disk' },
  { value: 'menu', label: 'iPXE menu' },
];
export const bootModeLabel = (m: BootMode) => BOOT_MODES.find((b) => b.value === m)?.label ?? m;

// ---- the server's allow-lists, mirrored so mistakes show at the field before anything is sent ----

const HEX_GROUPS = [
  /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i,
  /^([0-9a-f]{2})([0-9a-f]{2})\.([0-9a-f]{2})([0-9a-f]{2})\.([0-9a-f]{2})([0-9a-f]{2})$/i,
  /^([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i,
];

/** As the server's parseMac: the normalised `aa:bb:cc:dd:ee:ff`, or the reason it is refused. */
export function checkMac(input: string): { mac: string } | { problem: string } {
  const s = input.trim();
  if (!s) return { problem: 'a MAC address is required' };
  if (s.length > 17) return { problem: 'a MAC address is at most 17 characters' };
  let m: RegExpExecArray | null = null;
  for (const re of HEX_GROUPS) if ((m = re.exec(s))) break;
  if (!m) return { problem: 'a MAC address is six hex octets such as 52:54:00:12:34:56' };
  if (s.includes(':') && s.includes('-')) return { problem: 'a MAC address uses one separator' };
  const octets = m.slice(1, 7).map((h) => h.toLowerCase());
  if (octets.every((o) => o === '00')) return { problem: 'the all-zero MAC address is not a machine' };
  if (octets.every((o) => o === 'ff')) return { problem: 'the broadcast MAC address is not a machine' };
  if (parseInt(octets[0]!, 16) & 1) return { problem: 'a multicast MAC address is not a machine' };
  return { mac: octets.join(':') };
}

export function macProblem(input: string): string | null {
  const r = checkMac(input);
  return 'problem' in r ? r.problem : null;
}

/** One lower-case DNS label (it becomes part of IQNs and file names). */
export function nameProblem(input: string): string | null {
  if (!input) return 'a machine name is required';
  if (input.length > 63) return 'a machine name is at most 63 characters';
  if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(input)) return 'a machine name has lower-case letters, digits and inner hyphens only (like a host name)';
  return null;
}

export function groupProblem(input: string): string | null {
  return !input || /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/.test(input) ? null : 'letters, digits, space, ".", "_" and "-", 1-64 characters';
}

export function imageNameProblem(input: string): string | null {
  return /^[a-z0-9][a-z0-9._-]{0,63}$/.test(input) ? null : 'lower-case letters, digits, ".", "_" and "-", 1-64 characters, starting with a letter or digit';
}

/** Field messages from an API error: zod issues (`body.mac`) and conflicts naming their field. */
export function fieldErrors(e: unknown): Record<string, string> {
  if (!(e instanceof ApiError)) return {};
  const d = e.details as { issues?: { path?: string; message: string }[]; field?: string } | undefined;
  const out: Record<string, string> = {};
  for (const i of d?.issues ?? []) {
    const f = (i.path ?? '').replace(/^body\.?/, '').split('.')[0];
    if (f && !out[f]) out[f] = i.message;
  }
  if (d?.field) out[d.field] = e.message;
  return out;
}

export function connectionText(c: Connection): string {
  return `${c.initiator} from ${c.address}`;
}

// ---- upload with progress ----

/** Files up to this size are hashed in the browser (crypto.subtle needs the whole file in memory). */
export const HASH_MAX_BYTES = 512 * 1024 * 1024;

/** SHA-256 of the file as hex, or why it was skipped (too large, or no crypto.subtle outside HTTPS). */
export const sha256OfFile = (file: Blob) => hashFile(file, HASH_MAX_BYTES);

export type UploadHandle = Upload<{ image: Image; job: { id: string; title: string } }>;

/**
 * POST /api/v1/netboot/images?name=… with the file as the raw body (application/octet-stream),
 * reporting bytes sent (uploadWithProgress: one token refresh and retry on 401).
 */
export function uploadImage(opts: { file: Blob; name: string; comment?: string; sha256?: string; onProgress(sent: number, total: number): void }): UploadHandle {
  const q = new URLSearchParams({ name: opts.name });
  if (opts.comment) q.set('comment', opts.comment);
  return uploadWithProgress({ url: `/api/v1/netboot/images?${q}`, file: opts.file, sha256: opts.sha256, onProgress: opts.onProgress });
}
