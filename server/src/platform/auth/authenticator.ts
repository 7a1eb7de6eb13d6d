import type { FastifyRequest } from 'fastify';
import { bearerFromRequest, type Authenticator } from '../../http/auth-hook.js';
import { ForbiddenError } from '../errors.js';
import type { AuditLog } from '../audit/audit.service.js';
import type { Actor } from '../rbac/permissions.js';
import type { ApiTokenService } from './api-tokens.service.js';
import type { TokenSigner } from './jwt.js';
import type { ClientInfo, SessionService } from './sessions.service.js';
import type { SettingsService } from './settings.service.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Allowed while the user must enrol in 2FA (panel policy) and has not yet: account and 2FA routes. */
    allowMfaEnrollmentPending?: boolean;
  }
}

export function clientOf(req: FastifyRequest): ClientInfo {
  const ua = req.headers['user-agent'];
  return { ip: req.ip, userAgent: typeof ua === 'string' ? ua.slice(0, 512) : undefined };
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Bearer access JWT (checked against its live session) or API token → actor; enforces the 2FA requirement. */
export function createAuthenticator(deps: {
  signer: TokenSigner; sessions: SessionService; apiTokens: ApiTokenService; settings: SettingsService; audit: AuditLog;
}): Authenticator {
  return {
    async authenticate(req: FastifyRequest): Promise<Actor | null> {
      const bearer = bearerFromRequest(req);
      if (!bearer) return null;
      const client = clientOf(req);
      let actor: Actor;
      let totpEnabled: boolean;
      let policyRole;
      if (bearer.startsWith('slw_')) {
        const t = await deps.apiTokens.authenticate(bearer, client);
        const { ownerRole, totpEnabled: tEnabled, ...rest } = t;
        actor = rest;
        totpEnabled = tEnabled;
        policyRole = ownerRole;
        if (!READ_METHODS.has(req.method)) {
          await deps.audit.record({ actor, action: 'api_token.use', target: { type: 'api_token', id: actor.tokenId! }, details: { method: req.method, route: req.routeOptions.url } });
        }
      } else {
        const claims = await deps.signer.verifyAccess(bearer);
        const s = await deps.sessions.state(claims.sessionId, claims.userId);
        actor = { kind: 'user', userId: s.userId, username: s.username, role: s.role, sessionId: s.sessionId, ip: client.ip, userAgent: client.userAgent, mustChangePassword: s.mustChangePassword };
        totpEnabled = s.totpEnabled;
        policyRole = s.role;
      }
      if (!totpEnabled && !req.routeOptions.config?.allowMfaEnrollmentPending) {
        const settings = await deps.settings.security();
        if (deps.settings.requires2fa(settings, policyRole)) {
          throw new ForbiddenError('Set up two-factor authentication before continuing', 'two_factor_enrollment_required');
        }
      }
      return actor;
    },
  };
}
