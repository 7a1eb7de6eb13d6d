import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { CoreConfig } from '../../config.js';
import type { Authenticator } from '../../http/auth-hook.js';
import { IdParam } from '../../http/schemas.js';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import type { HttpApp } from '../module.js';
import type { Actor } from '../rbac/permissions.js';
import type { AccountService } from './account.service.js';
import * as S from './auth.schemas.js';
import { clientOf } from './authenticator.js';
import { constantTimeEquals, randomToken } from './crypto.js';
import type { IssuedTokens, SessionService } from './sessions.service.js';
import type { TwoFactorService } from './two-factor.service.js';

export const REFRESH_COOKIE = 'slipway_refresh';
export const CSRF_COOKIE = 'slipway_csrf';
export const CSRF_HEADER = 'x-csrf-token';
const COOKIE_PATH = '/api/v1/auth';

const tags = ['auth'];
/** Account routes stay reachable while a password change or 2FA enrolment is pending. */
const pending = { allowPasswordChangePending: true, allowMfaEnrollmentPending: true } as const;

export interface AuthRouteDeps { account: AccountService; sessions: SessionService; twoFactor: TwoFactorService; authenticator: Authenticator; config: CoreConfig }

export function registerAuthRoutes(app: HttpApp, d: AuthRouteDeps): void {
  const secure = d.config.secureCookies ?? d.config.publicUrl?.startsWith('https:') ?? false;

  const setSessionCookies = (reply: FastifyReply, tokens: IssuedTokens) => {
    const maxAge = d.config.refreshTokenTtlDays * 86_400;
    reply.setCookie(REFRESH_COOKIE, tokens.refreshToken, { httpOnly: true, sameSite: 'strict', secure, path: COOKIE_PATH, maxAge });
    // Readable by the console's script, which echoes it in X-CSRF-Token (double submit).
    reply.setCookie(CSRF_COOKIE, randomToken(24), { httpOnly: false, sameSite: 'strict', secure, path: '/', maxAge });
  };
  const clearSessionCookies = (reply: FastifyReply) => {
    reply.clearCookie(REFRESH_COOKIE, { path: COOKIE_PATH, httpOnly: true, sameSite: 'strict', secure });
    reply.clearCookie(CSRF_COOKIE, { path: '/', sameSite: 'strict', secure });
  };
  /** The refresh token from the body, or from the cookie when the CSRF header matches its cookie. */
  const refreshTokenOf = (req: FastifyRequest, bodyToken: string | undefined): string | undefined => {
    if (bodyToken) return bodyToken;
    const cookieToken = req.cookies[REFRESH_COOKIE];
    if (!cookieToken) return undefined;
    const header = req.headers[CSRF_HEADER];
    const csrf = req.cookies[CSRF_COOKIE];
    if (typeof header !== 'string' || !csrf || !constantTimeEquals(header, csrf)) {
      throw new ForbiddenError('Missing or wrong X-CSRF-Token header (it must equal the slipway_csrf cookie)', 'csrf_failed');
    }
    return cookieToken;
  };
  const okBody = (r: Extract<Awaited<ReturnType<AccountService['login']>>, { status: 'ok' }>, oauth: boolean) => ({
    status: 'ok' as const, accessToken: r.accessToken, tokenType: r.tokenType, expiresIn: r.expiresIn, refreshToken: r.refreshToken, user: r.user,
    ...(oauth ? { access_token: r.accessToken, token_type: 'bearer', expires_in: r.expiresIn } : {}),
  });

  app.get('/setup', { config: { public: true }, schema: { operationId: 'getSetupStatus', summary: 'Whether the first-run setup is still open', tags: ['setup'], response: { 200: S.SetupStatus } } }, async () => ({ required: await d.account.setupRequired() }));

  app.post('/setup', {
    config: { public: true },
    schema: { operationId: 'completeSetup', tags: ['setup'], summary: 'Create the first administrator with the one-time setup token', body: S.SetupBody, response: { 201: S.UserResponse } },
  }, async (req, reply) => reply.code(201).send({ user: await d.account.completeSetup(req.body, clientOf(req)) }));

  app.post('/auth/login', {
    config: { public: true },
    schema: {
      operationId: 'login',
      tags, summary: 'Sign in (JSON, or the OAuth2 password form)', security: [],
      body: S.LoginBody, response: { 200: S.LoginResponse },
    },
  }, async (req, reply) => {
    const oauth = req.body.grant_type === 'password' || (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
    const r = await d.account.login(req.body, clientOf(req));
    if (r.status !== 'ok') return r;
    setSessionCookies(reply, r);
    return okBody(r, oauth);
  });

  app.post('/auth/login/mfa', {
    config: { public: true },
    schema: { operationId: 'loginSecondFactor', tags, summary: 'Second sign-in step: TOTP code or recovery code', security: [], body: S.MfaBody, response: { 200: S.LoginResponse } },
  }, async (req, reply) => {
    const r = await d.account.loginMfa(req.body, clientOf(req));
    if (r.status !== 'ok') return r;
    setSessionCookies(reply, r);
    return okBody(r, false);
  });

  app.post('/auth/refresh', {
    config: { public: true, ...pending },
    schema: { operationId: 'refreshSession', tags, summary: 'Rotate the refresh token (body or cookie + X-CSRF-Token)', security: [], body: S.RefreshBody, response: { 200: S.TokenPair } },
  }, async (req, reply) => {
    const token = refreshTokenOf(req, req.body?.refreshToken);
    if (!token) {
      throw new UnauthorizedError('No refresh token given (body or slipway_refresh cookie)', 'invalid_refresh_token');
    }
    const t = await d.sessions.refresh(token, clientOf(req));
    setSessionCookies(reply, t);
    return { accessToken: t.accessToken, tokenType: t.tokenType, expiresIn: t.expiresIn, refreshToken: t.refreshToken };
  });

  app.post('/auth/logout', {
    config: { public: true, ...pending },
    schema: { operationId: 'logout', tags, summary: 'End the current session', body: S.RefreshBody, response: { 204: z.null() } },
  }, async (req, reply) => {
    let actor: Actor | null = null;
    try {
      actor = await d.authenticator.authenticate(req);
    } catch {
      actor = null;
    }
    let sessionId = actor?.sessionId;
    if (!sessionId) {
      const token = refreshTokenOf(req, req.body?.refreshToken);
      const s = token ? await d.sessions.sessionOfRefreshToken(token) : null;
      if (s) {
        sessionId = s.sessionId;
        const c = clientOf(req);
        actor = { kind: 'user', userId: s.userId, username: s.username, role: 'user', sessionId, ip: c.ip, userAgent: c.userAgent };
      }
    }
    if (sessionId && actor) await d.account.logout(sessionId, actor);
    clearSessionCookies(reply);
    return reply.code(204).send(null);
  });

  app.get('/auth/me', {
    config: { authenticated: true, ...pending },
    schema: { operationId: 'getMe', tags, summary: 'Who am I', response: { 200: S.MeResponse } },
  }, async (req) => ({ user: await d.account.me(req.actor) }));

  app.post('/auth/password', {
    config: { authenticated: true, ...pending },
    schema: { operationId: 'changePassword', tags, summary: 'Change my password (ends my other sessions)', body: S.ChangePasswordBody, response: { 204: z.null() } },
  }, async (req, reply) => {
    await d.account.changePassword(req.actor, req.body.currentPassword, req.body.newPassword);
    return reply.code(204).send(null);
  });

  app.get('/auth/sessions', {
    config: { authenticated: true, allowMfaEnrollmentPending: true },
    schema: { operationId: 'listMySessions', tags, summary: 'My active sessions', response: { 200: S.SessionList } },
  }, async (req) => ({ items: await d.sessions.list(req.actor) }));

  app.delete('/auth/sessions/:id', {
    config: { authenticated: true, allowMfaEnrollmentPending: true },
    schema: { operationId: 'deleteMySession', tags, summary: 'End one of my sessions', params: IdParam, response: { 204: z.null() } },
  }, async (req, reply) => {
    await d.sessions.end(req.actor, req.params.id);
    return reply.code(204).send(null);
  });

  app.post('/auth/2fa/enroll', {
    config: { authenticated: true, allowMfaEnrollmentPending: true },
    schema: { operationId: 'enrollTwoFactor', tags, summary: 'Start TOTP enrolment: a new secret and its otpauth:// URI', response: { 200: S.EnrollResponse } },
  }, async (req) => d.twoFactor.enroll(req.actor));

  app.post('/auth/2fa/confirm', {
    config: { authenticated: true, allowMfaEnrollmentPending: true },
    schema: { operationId: 'confirmTwoFactor', tags, summary: 'Confirm with the first code; returns 10 recovery codes (shown once)', body: S.CodeBody, response: { 200: S.RecoveryCodes } },
  }, async (req) => d.twoFactor.confirm(req.actor, req.body.code));

  app.post('/auth/2fa/disable', {
    config: { authenticated: true },
    schema: { operationId: 'disableTwoFactor', tags, summary: 'Turn TOTP off (password and a code required)', body: S.DisableBody, response: { 204: z.null() } },
  }, async (req, reply) => {
    await d.twoFactor.disable(req.actor, req.body.password, req.body.code);
    return reply.code(204).send(null);
  });

}
