import { ApiError, fieldName, issuesOf, sha256OfFile as hashFile, uploadWithProgress, type ApiBody, type ApiData, type ApiQuery, type UploadHandle as Upload } from '@slipway/web';

/** Shapes of the netboot API, derived from the OpenAPI document (web/src/api/schema.d.ts; /api/docs, tag "netboot"). */
export type MachineDetail = ApiData<'/api/v1/netboot/machines/{id}', 'get'>['machine'];
export type Machine = ApiData<'/api/v1/netboot/machines', 'get'>['items'][number];
export type BootMode = Machine['bootMode'];
export type MachineStatus = Machine['status'];
export type Connection = Machine['connections'][number];
export type Session = ApiData<'/api/v1/netboot/sessions', 'get'>['items'][number];
export type SessionState = Session['state'];
export type ImageList = ApiData<'/api/v1/netboot/images', 'get'>;
export type Image = ImageList['items'][number];
export type Disk = ImageList['disk'];
export type ImageDetail = ApiData<'/api/v1/netboot/images/{id}', 'get'>;
export type Version = ImageDetail['versions'][number];
export type Ref = NonNullable<Version['author']>;
export type Settings = ApiData<'/api/v1/netboot/settings', 'get'>;
/** What registering a machine sends (an edit sends the changed fields: PATCH /api/v1/netboot/machines/{id}). */
type CreateMachineBody = ApiBody<'/api/v1/netboot/machines', 'post'>;
/** Every field required except `chap`, which the server defaults to off. */
export type MachineBody = Required<Omit<CreateMachineBody, 'chap'>> & Pick<CreateMachineBody, 'chap'>;

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
  const d = e.details as { field?: string } | undefined;
  const out: Record<string, string> = {};
  for (const i of issuesOf(e)) {
    const f = fieldName(i.path).split('.')[0];
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

export type UploadHandle = Upload<ApiData<'/api/v1/netboot/images', 'post'>>;

/**
 * POST /api/v1/netboot/images?name=… with the file as the raw body (application/octet-stream),
 * reporting bytes sent (uploadWithProgress: one token refresh and retry on 401).
 */
export function uploadImage(opts: ApiQuery<'/api/v1/netboot/images', 'post'> & { file: Blob; sha256?: string; onProgress(sent: number, total: number): void }): UploadHandle {
  const q = new URLSearchParams({ name: opts.name });
  if (opts.comment) q.set('comment', opts.comment);
  return uploadWithProgress({ url: `/api/v1/netboot/images?${q}`, file: opts.file, sha256: opts.sha256, onProgress: opts.onProgress });
}
