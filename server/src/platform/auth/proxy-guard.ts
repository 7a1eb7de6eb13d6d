import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';

/** A platform-level problem shown in GET /api/v1/ready and /api/v1/modules (`services.warnings()`). */
export interface PlatformWarning {
  code: string;
  message: string;
  fix?: string;
  since: number;
}

const PROXY_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'] as const;
/** Still answered while requests are refused: monitoring sees the warning, /metrics answers 403. */
const EXEMPT = new Set(['/api/v1/health', '/api/v1/ready', '/metrics']);

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/**
 * Behind a reverse proxy on the same machine every request arrives from 127.0.0.1. Without
 * SLIPWAY_TRUST_PROXY the panel cannot tell clients apart: the per-address sign-in lockout would
 * lock everyone out at once (25 bad logins from anyone), sessions and the audit log would record
 * 127.0.0.1, and loopback-only /metrics would be public.
 *
 * So when a loopback peer sends proxy headers and no proxy is trusted, the panel goes loudly
 * degraded: it logs one error, reports `proxy_untrusted` in /ready and /modules, and refuses the
 * request with 503 and the fix. Refusing is the safe choice: keying limits on the account alone
 * would still let a flood lock out every account and would leave addresses in the audit log wrong.
 * Once proxy headers were seen (or a proxy is trusted) /metrics always requires its token.
 */
export class ProxyGuard {
  private untrustedSince: number | null = null;

  constructor(private readonly trustProxy: string | undefined, private readonly log?: Pick<FastifyBaseLogger, 'error'>) {}

  /** The panel is behind a reverse proxy (trusted, or seen in the headers). */
  get behindProxy(): boolean {
    return !!this.trustProxy || this.untrustedSince !== null;
  }

  warnings(): PlatformWarning[] {
    if (this.untrustedSince === null) return [];
    return [{
      code: 'proxy_untrusted',
      message: 'Requests arrive from a reverse proxy on this machine (X-Forwarded-For, Forwarded or X-Real-IP from 127.0.0.1) but SLIPWAY_TRUST_PROXY is not set: every client would look like 127.0.0.1, so such requests are refused',
      fix: 'Set SLIPWAY_TRUST_PROXY to the proxy\'s address (e.g. 127.0.0.1) and SLIPWAY_METRICS_TOKEN, then restart the panel',
      since: this.untrustedSince,
    }];
  }

  /** onRequest: answers 503 for a proxied request the panel cannot attribute; returns whether it did. */
  check(req: FastifyRequest, reply: FastifyReply): boolean {
    if (this.trustProxy) return false;
    if (!isLoopback(req.socket.remoteAddress)) return false;
    if (!PROXY_HEADERS.some((h) => req.headers[h] !== undefined)) return false;
    if (this.untrustedSince === null) {
      this.untrustedSince = Date.now();
      this.log?.error({ warning: 'proxy_untrusted' }, this.warnings()[0]!.message);
    }
    if (EXEMPT.has(req.url.split('?')[0]!)) return false;
    const w = this.warnings()[0]!;
    void reply.code(503).header('retry-after', '60').send({ error: { code: 'proxy_untrusted', message: `${w.message}. ${w.fix}.`, details: { fix: w.fix } } });
    return true;
  }
}
