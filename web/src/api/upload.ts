import { session } from '../auth/session';
import { ApiError } from './errors';

/** SHA-256 of the file as hex, or why it was skipped (larger than `maxBytes`, or no crypto.subtle outside HTTPS). */
export async function sha256OfFile(file: Blob, maxBytes: number): Promise<{ sha256: string } | { skipped: string }> {
  // crypto.subtle needs the whole file in memory, hence the size limit.
  if (file.size > maxBytes) return { skipped: `larger than ${maxBytes / 1024 / 1024} MiB` };
  const subtle = typeof crypto !== 'undefined' ? crypto.subtle : undefined;
  if (!subtle) return { skipped: 'the browser offers SHA-256 only over HTTPS' };
  const digest = await subtle.digest('SHA-256', new Uint8Array(await file.arrayBuffer()));
  return { sha256: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('') };
}

export interface UploadHandle<T> {
  done: Promise<T>;
  abort(): void;
}

export interface UploadOptions {
  /** Path with its query, e.g. `/api/v1/vps/images?name=…`. */
  url: string;
  file: Blob;
  /** Sent as X-Checksum-Sha256 when given (the server checks it). */
  sha256?: string;
  /** The status that means success (default 202: the upload queued a job). */
  expectStatus?: number;
  onProgress(sent: number, total: number): void;
}

/**
 * POSTs the file as the raw body (application/octet-stream) with XMLHttpRequest, which (unlike
 * fetch over HTTP/1.1) reports upload progress; hence the bearer token is set here. One token
 * refresh and retry on 401, as the typed client does. Any other status than `expectStatus` is an
 * ApiError with the server's code and message; a network error or abort is an ApiError with status 0.
 */
export function uploadWithProgress<T>(opts: UploadOptions): UploadHandle<T> {
  const expectStatus = opts.expectStatus ?? 202;
  let xhr: XMLHttpRequest | null = null;
  let aborted = false;
  const send = () => new Promise<{ status: number; text: string }>((resolve, reject) => {
    const x = new XMLHttpRequest();
    xhr = x;
    x.open('POST', opts.url);
    x.setRequestHeader('content-type', 'application/octet-stream');
    const token = session.token();
    if (token) x.setRequestHeader('authorization', `Bearer ${token}`);
    if (opts.sha256) x.setRequestHeader('x-checksum-sha256', opts.sha256);
    x.upload.onprogress = (e) => opts.onProgress(e.loaded, e.lengthComputable ? e.total : opts.file.size);
    x.onload = () => resolve({ status: x.status, text: x.responseText });
    x.onerror = () => reject(new ApiError(0, 'network_error', 'The upload was interrupted (network error)'));
    x.onabort = () => reject(new ApiError(0, 'aborted', 'Upload cancelled'));
    x.send(opts.file);
  });
  const done = (async () => {
    let r = await send();
    if (r.status === 401 && !aborted && (await session.refresh())) r = await send();
    let body: unknown;
    try {
      body = JSON.parse(r.text);
    } catch {
      body = undefined;
    }
    if (r.status !== expectStatus) {
      const e = (body as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
      throw new ApiError(r.status, e?.code ?? `http_${r.status}`, e?.message ?? `The upload failed (${r.status})`, e?.details);
    }
    return body as T;
  })();
  return {
    done,
    abort: () => {
      aborted = true;
      (xhr as XMLHttpRequest | null)?.abort();
    },
  };
}
