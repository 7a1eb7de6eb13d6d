import { SignJWT, jwtVerify } from 'jose';
import { UnauthorizedError } from '../errors.js';

const ISSUER = 'slipway';
const ACCESS_AUDIENCE = 'slipway-api';
/** A different audience makes the MFA token useless as an access token and vice versa. */
const MFA_AUDIENCE = 'slipway-mfa-login';
const ALGORITHMS = ['HS256'];
export const MFA_TOKEN_TTL_SECONDS = 300;

export interface AccessClaims { userId: string; sessionId: string }

export class TokenSigner {
  constructor(private readonly key: Uint8Array) {}

  signAccess(claims: AccessClaims, ttlSeconds: number): Promise<string> {
    return new SignJWT({ sid: claims.sessionId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(ISSUER)
      .setAudience(ACCESS_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
      .sign(this.key);
  }

  async verifyAccess(token: string): Promise<AccessClaims> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ALGORITHMS, issuer: ISSUER, audience: ACCESS_AUDIENCE });
      if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string') throw new Error('claims missing');
      return { userId: payload.sub, sessionId: payload.sid };
    } catch {
      throw new UnauthorizedError('Access token is invalid or expired', 'invalid_token');
    }
  }

  signMfa(userId: string): Promise<string> {
    return new SignJWT({ purpose: 'mfa' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(ISSUER)
      .setAudience(MFA_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + MFA_TOKEN_TTL_SECONDS)
      .sign(this.key);
  }

  async verifyMfa(token: string): Promise<string> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ALGORITHMS, issuer: ISSUER, audience: MFA_AUDIENCE });
      if (payload.purpose !== 'mfa' || typeof payload.sub !== 'string') throw new Error('wrong purpose');
      return payload.sub;
    } catch {
      throw new UnauthorizedError('The sign-in step expired; sign in again', 'invalid_mfa_token');
    }
  }
}
