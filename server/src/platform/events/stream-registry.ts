import { RateLimitedError } from '../errors.js';
import type { Actor } from '../rbac/permissions.js';

/** What a stream (SSE response, WebSocket) offers the registry: a way to end it. */
export interface StreamHandle {
  /** Ends the stream; `reason` says why (WebSocket close reason, SSE `end` event). */
  close(reason: string): void;
}

export interface StreamLimits {
  /** Concurrent streams of one session (or one API token). */
  perCredential: number;
  /** Concurrent streams of one user across all their sessions and tokens. */
  perUser: number;
}

/** Generous for a console with a few tabs open; tight enough that one tenant cannot hold thousands of followers. */
export const DEFAULT_STREAM_LIMITS: StreamLimits = { perCredential: 16, perUser: 32 };

interface Entry {
  userId: string | null;
  /** The role the stream was authorised with: a change of role ends it. */
  role: string;
  sessionId?: string;
  tokenId?: string;
  route: string;
  handle: StreamHandle;
}

/** Why streams were ended (the reason a client sees). */
export type StreamEndReason = 'logout' | 'session_revoked' | 'user_suspended' | 'role_changed' | 'password_changed' | 'password_reset'
  | 'two_factor_changed' | 'token_revoked' | 'user_deleted' | 'credentials_changed' | string;

/**
 * Every live stream (SSE and WebSocket) of the panel, by the session or API token that opened it.
 * Revocation (logout, session end, suspend, role change, password reset, token revoke) closes the
 * streams of what was revoked at once, and the per-user/per-credential limits cap how many
 * followers one tenant may hold open (429 beyond). `http/sse.ts` and the WebSocket hook in
 * `http/auth-hook.ts` register every stream automatically; module code that keeps a stream of its
 * own outside those calls `register`.
 */
export class StreamRegistry {
  private readonly entries = new Set<Entry>();

  constructor(private readonly limits: StreamLimits = DEFAULT_STREAM_LIMITS) {}

  private counts(actor: Actor): { credential: number; user: number } {
    let credential = 0;
    let user = 0;
    for (const e of this.entries) {
      if (actor.userId && e.userId === actor.userId) user++;
      if ((actor.sessionId && e.sessionId === actor.sessionId) || (actor.tokenId && e.tokenId === actor.tokenId)) credential++;
    }
    return { credential, user };
  }

  /** Throws 429 when the actor already holds as many streams as allowed. */
  assertCapacity(actor: Actor): void {
    if (actor.kind === 'system') return;
    const c = this.counts(actor);
    if (c.credential >= this.limits.perCredential || c.user >= this.limits.perUser) {
      const which = c.credential >= this.limits.perCredential ? `${this.limits.perCredential} per session or API token` : `${this.limits.perUser} per user`;
      throw new RateLimitedError(`Too many live streams open (at most ${which}); close one first`, 5);
    }
  }

  /** Registers an open stream; returns the function that unregisters it (call it when the stream ends). */
  register(actor: Actor, handle: StreamHandle, route = ''): () => void {
    this.assertCapacity(actor);
    const entry: Entry = { userId: actor.userId, role: actor.role, sessionId: actor.sessionId, tokenId: actor.tokenId, route, handle };
    this.entries.add(entry);
    return () => {
      this.entries.delete(entry);
    };
  }

  private closeWhere(match: (e: Entry) => boolean, reason: StreamEndReason): number {
    let n = 0;
    for (const e of [...this.entries]) {
      if (!match(e)) continue;
      this.entries.delete(e);
      n++;
      try {
        e.handle.close(reason);
      } catch {
        // A stream that fails to close is already gone.
      }
    }
    return n;
  }

  closeSession(sessionId: string, reason: StreamEndReason): number {
    return this.closeWhere((e) => e.sessionId === sessionId, reason);
  }

  /** Every stream of the user: all sessions and API tokens (suspend, role change, resets). */
  closeUser(userId: string, reason: StreamEndReason, opts: { keepSessionId?: string } = {}): number {
    return this.closeWhere((e) => e.userId === userId && (!opts.keepSessionId || e.sessionId !== opts.keepSessionId), reason);
  }

  closeToken(tokenId: string, reason: StreamEndReason): number {
    return this.closeWhere((e) => e.tokenId === tokenId, reason);
  }

  /** The user's session streams, optionally but one session (password change, 2FA change). */
  closeUserSessions(userId: string, reason: StreamEndReason, keepSessionId?: string): number {
    return this.closeWhere((e) => e.userId === userId && !!e.sessionId && e.sessionId !== keepSessionId, reason);
  }

  /** What the open streams were opened with, for re-checking against the database. */
  credentials(): { sessionIds: string[]; tokenIds: string[] } {
    const sessionIds = new Set<string>();
    const tokenIds = new Set<string>();
    for (const e of this.entries) {
      if (e.sessionId) sessionIds.add(e.sessionId);
      if (e.tokenId) tokenIds.add(e.tokenId);
    }
    return { sessionIds: [...sessionIds], tokenIds: [...tokenIds] };
  }

  /** Closes every stream for which `verdict` gives a reason (revocations made by another process). */
  sweep(verdict: (e: { userId: string | null; role: string; sessionId?: string; tokenId?: string }) => StreamEndReason | null): number {
    let n = 0;
    for (const e of [...this.entries]) {
      const reason = verdict(e);
      if (reason) n += this.closeWhere((x) => x === e, reason);
    }
    return n;
  }

  /** The user's API-token streams (tokens revoked in bulk). */
  closeUserTokens(userId: string, reason: StreamEndReason): number {
    return this.closeWhere((e) => e.userId === userId && !!e.tokenId, reason);
  }

  count(filter: { userId?: string; sessionId?: string; tokenId?: string } = {}): number {
    let n = 0;
    for (const e of this.entries) {
      if (filter.userId && e.userId !== filter.userId) continue;
      if (filter.sessionId && e.sessionId !== filter.sessionId) continue;
      if (filter.tokenId && e.tokenId !== filter.tokenId) continue;
      n++;
    }
    return n;
  }

  /** On shutdown. */
  closeAll(reason: StreamEndReason = 'shutdown'): number {
    return this.closeWhere(() => true, reason);
  }
}
