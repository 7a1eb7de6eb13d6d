import { SignJWT, jwtVerify } from 'jose';
import { UnauthorizedError } from '../errors.js';

const ISSUER = 'slipway';
const ACCESS_AUDIENCE = 'slipway-api';
/** A different audience makes the MFA token useless as an access token and vice versa. */
const MFA_AUDIENCE = 'slipway-mfa-login';
const ALGORITHMS = ['HS256'];
export const MFA_TOKEN_TTL_SECONDS = 300;

export interface AccessClaims { userId: string; sessionId: string }

/** Verified access tokens, so each token's signature is checked once, not on every request. */
const VERIFIED_CACHE_MAX = 10_000;

export class TokenSigner {
  private readonly verified = new Map<string, { claims: AccessClaims; expiresAtMs: number }>();
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
    const invalid = () => new UnauthorizedError('Access token is invalid or expired', 'invalid_token');
    const hit = this.verified.get(token);
    if (hit) {
      if (hit.expiresAtMs > Date.now()) return hit.claims;
      this.verified.delete(token);
      throw invalid();
    }
    let claims: AccessClaims;
    let expiresAtMs: number;
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ALGORITHMS, issuer: ISSUER, audience: ACCESS_AUDIENCE });
      if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string' || typeof payload.exp !== 'number') throw new Error('claims missing');
      claims = { userId: payload.sub, sessionId: payload.sid };
      expiresAtMs = payload.exp * 1000;
    } catch {
      throw invalid();
    }
    if (this.verified.size >= VERIFIED_CACHE_MAX) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { claims, expiresAtMs });
    return claims;
  }

  /** `challengeId` is the token's jti: a row in auth_challenges that makes the token single-use. */
  signMfa(userId: string, challengeId: string): Promise<string> {
    return new SignJWT({ purpose: 'mfa' })
      .setJti(challengeId)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(ISSUER)
      .setAudience(MFA_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + MFA_TOKEN_TTL_SECONDS)
      .sign(this.key);
  }

  async verifyMfa(token: string): Promise<{ userId: string; challengeId: string }> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ALGORITHMS, issuer: ISSUER, audience: MFA_AUDIENCE });
      if (payload.purpose !== 'mfa' || typeof payload.sub !== 'string' || typeof payload.jti !== 'string') throw new Error('wrong purpose');
      return { userId: payload.sub, challengeId: payload.jti };
    } catch {
      throw new UnauthorizedError('The sign-in step expired; sign in again', 'invalid_mfa_token');
    }
  }
}
