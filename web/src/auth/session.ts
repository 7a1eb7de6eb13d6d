import { ApiError, errorFromResponse } from '../api/errors';

/** The signed-in user as GET /auth/me returns it. */
export interface Me {
  id: string;
  username: string;
  email: string;
  role: string;
  totpEnabled: boolean;
  mustChangePassword: boolean;
  permissions: string[];
  require2fa?: boolean;
}

export type SessionState =
  | { status: 'loading' }
  | { status: 'setup' }
  | { status: 'signedOut'; reason?: string }
  | { status: 'signedIn'; user: Me };

interface TokenPair { accessToken: string; expiresIn: number }

/**
 * Browser session: the access token lives in memory only; the refresh token is the httpOnly cookie,
 * used with the CSRF double-submit header. Refreshes silently a minute before expiry and once on a 401.
 */
class Session {
  private state: SessionState = { status: 'loading' };
  private accessToken: string | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: Promise<boolean> | null = null;
  private readonly listeners = new Set<() => void>();

  get snapshot(): SessionState {
    return this.state;
  }

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  getSnapshot = (): SessionState => this.state;

  token(): string | null {
    return this.accessToken;
  }

  private set(next: SessionState) {
    this.state = next;
    for (const l of this.listeners) l();
  }

  /** First load: setup needed? else try the refresh cookie. */
  async start(): Promise<void> {
    // Both requests at once: a fresh load should cost one round trip before /auth/me.
    const setupRequired = fetch(abs('/api/v1/setup'))
      .then(async (res) => res.ok && ((await res.json()) as { required?: boolean }).required === true)
      .catch(() => false); // the API may be briefly unreachable: fall through to sign-in
    const refreshed = readCookie('slipway_csrf') ? this.refresh() : Promise.resolve(false);
    if (await setupRequired) return this.set({ status: 'setup' });
    if (await refreshed) await this.loadMe();
    else this.set({ status: 'signedOut' });
  }

  /** Accepts a login/MFA `{ status: 'ok', accessToken, expiresIn }` answer. */
  async signedIn(pair: TokenPair): Promise<void> {
    this.useTokens(pair);
    await this.loadMe();
  }

  async loadMe(): Promise<Me | null> {
    const res = await this.authedFetch(new Request(abs('/api/v1/auth/me')));
    if (!res.ok) {
      this.clear('Your session ended. Sign in again.');
      return null;
    }
    const { user } = (await res.json()) as { user: Me };
    this.set({ status: 'signedIn', user });
    return user;
  }

  private useTokens(pair: TokenPair) {
    this.accessToken = pair.accessToken;
    clearTimeout(this.refreshTimer);
    // Refresh a minute early (or at 80% of a short lifetime).
    const ms = Math.max(5_000, Math.min(pair.expiresIn * 1000 - 60_000, pair.expiresIn * 800));
    this.refreshTimer = setTimeout(() => {
      void this.refresh().then((ok) => {
        if (!ok) this.clear('Your session expired. Sign in again.');
      });
    }, ms);
  }

  /** Exchanges the refresh cookie for a new access token; concurrent callers share one request. */
  refresh(): Promise<boolean> {
    this.refreshing ??= (async () => {
      try {
        const res = await fetch(abs('/api/v1/auth/refresh'), {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'content-type': 'application/json', 'x-csrf-token': readCookie('slipway_csrf') ?? '' },
          body: '{}',
        });
        if (!res.ok) return false;
        const data = (await res.json()) as TokenPair;
        this.useTokens(data);
        return true;
      } catch {
        return false;
      } finally {
        // Callers already hold this promise; the next refresh starts a new request.
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** fetch with the bearer token; one refresh and retry on 401. */
  async authedFetch(request: Request): Promise<Response> {
    const retry = request.clone();
    const res = await fetch(this.withAuth(request));
    if (res.status !== 401 || isAuthExchange(request.url)) return res;
    if (!(await this.refresh())) {
      this.clear('Your session ended. Sign in again.');
      return res;
    }
    return fetch(this.withAuth(retry));
  }

  private withAuth(request: Request): Request {
    if (!this.accessToken) return request;
    const headers = new Headers(request.headers);
    headers.set('authorization', `Bearer ${this.accessToken}`);
    return new Request(request, { headers });
  }

  async signOut(): Promise<void> {
    try {
      await fetch(abs('/api/v1/auth/logout'), {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', 'x-csrf-token': readCookie('slipway_csrf') ?? '', ...(this.accessToken ? { authorization: `Bearer ${this.accessToken}` } : {}) },
        body: '{}',
      });
    } finally {
      this.clear();
    }
  }

  /** Drops the in-memory token (sign-out, revoked session). */
  clear(reason?: string): void {
    clearTimeout(this.refreshTimer);
    this.accessToken = null;
    this.set(reason ? { status: 'signedOut', reason } : { status: 'signedOut' });
  }

  /** Setup finished: show sign-in. */
  setupDone(): void {
    this.set({ status: 'signedOut' });
  }
}

/** Absolute URL on this origin (Request needs one outside a browser page, e.g. in tests). */
export function abs(path: string): string {
  return typeof location === 'undefined' ? path : new URL(path, location.origin).toString();
}

function isAuthExchange(url: string): boolean {
  return /\/api\/v1\/auth\/(login|refresh|logout)/.test(url);
}

export function readCookie(name: string): string | undefined {
  if (typeof document === 'undefined') return undefined;
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

export const session = new Session();

/** The address fragment at load (`#token=` of the printed setup link), before routing can drop it. */
export const initialHash = typeof window === 'undefined' ? '' : window.location.hash;

export { ApiError, errorFromResponse };
