import { X509Certificate } from 'node:crypto';
import { ExecError } from '../../../server/src/infra/exec-error.js';
import type { ProcessRunner, StreamHandle } from '../../../server/src/infra/process-runner.js';
import type { Domain } from './sites.schema.js';

/** A path the panel itself derived (webroot from `wo site info`, cert dir from config): absolute, plain. */
const SAFE_PATH = /^\/[A-Za-z0-9._/-]*$/;
export function assertSafePath(p: string): string {
  if (!SAFE_PATH.test(p) || p.split('/').includes('..')) throw new TypeError(`refusing unsafe path ${JSON.stringify(p)}`);
  return p;
}

export type SiteLogKind = 'access' | 'error';

/** WordOps links each site's nginx logs into <webroot>/logs (site_functions.py 113-121). */
export function siteLogPath(webroot: string, kind: SiteLogKind): string {
  return `${assertSafePath(webroot.replace(/\/+$/, ''))}/logs/${kind}.log`;
}

export interface CertificateFacts {
  path: string;
  validFrom: number;
  validTo: number;
  subject: string;
  issuer: string;
  names: string[];
}

/**
 * Files of a site on its host, read through the process runner (local or SSH) with coreutils:
 * disk use (`du`), the Let's Encrypt certificate (`cat`, parsed with node's X509Certificate) and
 * the site logs (`tail`). Every path is built here from validated parts, never taken from a request.
 */
export class SiteFiles {
  constructor(private readonly run: ProcessRunner, private readonly certDir: string) {
    assertSafePath(certDir);
  }

  async diskUsage(webroot: string): Promise<number | null> {
    try {
      const r = await this.run.exec('du', ['-sb', '--', assertSafePath(webroot)], { timeoutMs: 120_000 });
      const n = Number(r.stdout.trim().split(/\s+/)[0]);
      return Number.isFinite(n) ? n : null;
    } catch (e) {
      if (e instanceof ExecError && e.reason === 'exit') return null;
      throw e;
    }
  }

  /** The site's certificate, or its parent domain's (a wildcard), as WordOps looks them up (sslutils.py 15-35). */
  async certificate(domain: Domain): Promise<CertificateFacts | null> {
    const labels = domain.split('.');
    const candidates = [domain, labels.length > 2 ? labels.slice(1).join('.') : null].filter((d): d is string => !!d);
    for (const d of candidates) {
      const file = `${this.certDir.replace(/\/+$/, '')}/${d}/cert.pem`;
      let pem: string;
      try {
        pem = (await this.run.exec('cat', ['--', assertSafePath(file)], { timeoutMs: 15_000 })).stdout;
      } catch (e) {
        if (e instanceof ExecError && e.reason === 'exit') continue;
        throw e;
      }
      const cert = new X509Certificate(pem);
      const names = (cert.subjectAltName ?? '').split(',').map((s) => s.trim().replace(/^DNS:/, '')).filter(Boolean);
      return { path: file, validFrom: Date.parse(cert.validFrom), validTo: Date.parse(cert.validTo), subject: cert.subject, issuer: cert.issuer, names };
    }
    return null;
  }

  async tail(webroot: string, kind: SiteLogKind, lines: number): Promise<string[]> {
    try {
      const r = await this.run.exec('tail', ['-n', String(lines), '--', siteLogPath(webroot, kind)], { timeoutMs: 15_000 });
      return r.stdout.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);
    } catch (e) {
      if (e instanceof ExecError && e.reason === 'exit') return [];
      throw e;
    }
  }

  follow(webroot: string, kind: SiteLogKind, lines: number, signal?: AbortSignal): StreamHandle {
    return this.run.stream('tail', ['-n', String(lines), '-F', '--', siteLogPath(webroot, kind)], { signal });
  }
}
