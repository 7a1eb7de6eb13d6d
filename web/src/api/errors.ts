/** An error answered by the API: `{ error: { code, message, details } }` plus the HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    /** Seconds to wait before retrying (429 and lockouts), from the Retry-After header. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function retryAfterSeconds(res: Response): number | undefined {
  const h = res.headers.get('retry-after');
  if (!h) return undefined;
  const n = Number(h);
  if (Number.isFinite(n)) return Math.max(0, Math.ceil(n));
  const at = Date.parse(h);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

export async function errorFromResponse(res: Response, body?: unknown): Promise<ApiError> {
  let data = body;
  if (data === undefined) {
    try {
      data = await res.clone().json();
    } catch {
      data = undefined;
    }
  }
  const e = (data as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
  return new ApiError(res.status, e?.code ?? `http_${res.status}`, e?.message ?? (res.statusText || `Request failed (${res.status})`), e?.details, retryAfterSeconds(res));
}

/** "in 2 minutes" style text for Retry-After. */
export function describeRetry(seconds: number | undefined): string {
  if (seconds === undefined) return 'Try again later.';
  if (seconds < 60) return `Try again in ${seconds} second${seconds === 1 ? '' : 's'}.`;
  const m = Math.ceil(seconds / 60);
  return `Try again in ${m} minute${m === 1 ? '' : 's'}.`;
}
