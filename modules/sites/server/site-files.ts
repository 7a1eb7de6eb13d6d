import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import {
  FileMissingError, type FollowEvents, type FollowHandle, HostFiles, policyForFiles, type ProcessRunner,
} from '../../../server/src/sdk.js';
import type { Domain } from './sites.schema.js';

/** A path the panel itself derived (webroot from `wo site info`, cert dir from config): absolute, plain. */
const SAFE_PATH = /^\/[A-Za-z0-9._/-]*$/;
export function assertSafePath(p: string): string {
  if (!SAFE_PATH.test(p) || p.split('/').includes('..')) throw new TypeError(`refusing unsafe path ${JSON.stringify(p)}`);
  return p;
}

export type SiteLogKind = 'access' | 'error';

/**
 * nginx writes each site's logs to `/var/log/nginx/<domain>.access.log` and `.error.log`
 * (WordOps templates/virtualconf.mustache 16-17, commit 804e909); WordOps only *links* them into
 * `<webroot>/logs` (site_functions.py 121-128), and the webroot belongs to the site's own PHP
 * (www-data), which can replace that link with one to any file. So the path is built from the
 * validated domain under the configured log dir, never from the webroot.
 */
export function siteLogPath(nginxLogDir: string, domain: Domain, kind: SiteLogKind): string {
  if (!/^[a-z0-9.-]+$/.test(domain) || domain.startsWith('.') || domain.includes('..')) throw new TypeError(`refusing domain ${JSON.stringify(domain)}`);
  return `${assertSafePath(nginxLogDir.replace(/\/+$/, ''))}/${domain}.${kind}.log`;
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
 * Files of a site on its host (local or SSH), all through the platform's host-files adapter:
 * disk use (`du`, never following a link), the Let's Encrypt certificate (parsed with node's
 * X509Certificate; /etc/letsencrypt is root's, and its live/ names are links into archive/ by
 * design, so that one link is resolved, within the certificate tree only) and the site logs
 * (no-follow). Every path is built here from validated parts, never taken from a request.
 */
export class SiteFiles {
  private readonly logs: HostFiles;
  private readonly certs: HostFiles;

  constructor(private readonly run: ProcessRunner, private readonly certDir: string, private readonly nginxLogDir: string) {
    assertSafePath(certDir);
    assertSafePath(nginxLogDir);
    this.logs = new HostFiles(run, { roots: [nginxLogDir] });
    // live/<name>/cert.pem → ../../archive/<name>/certN.pem: the root is the tree above live/.
    this.certs = new HostFiles(run, { roots: [path.posix.dirname(certDir.replace(/\/+$/, ''))] });
  }

  async diskUsage(webroot: string): Promise<number | null> {
    return new HostFiles(this.run, policyForFiles([assertSafePath(webroot)])).diskUsage(webroot);
  }

  /** The site's certificate, or its parent domain's (a wildcard), as WordOps looks them up (sslutils.py 15-35). */
  async certificate(domain: Domain): Promise<CertificateFacts | null> {
    const labels = domain.split('.');
    const candidates = [domain, labels.length > 2 ? labels.slice(1).join('.') : null].filter((d): d is string => !!d);
    for (const d of candidates) {
      const file = `${this.certDir.replace(/\/+$/, '')}/${d}/cert.pem`;
      let pem: string;
      try {
        pem = await this.certs.read(assertSafePath(file), { resolveLink: true, maxBytes: 256 * 1024 });
      } catch (e) {
        if (e instanceof FileMissingError) continue;
        throw e;
      }
      const cert = new X509Certificate(pem);
      const names = (cert.subjectAltName ?? '').split(',').map((s) => s.trim().replace(/^DNS:/, '')).filter(Boolean);
      return { path: file, validFrom: Date.parse(cert.validFrom), validTo: Date.parse(cert.validTo), subject: cert.subject, issuer: cert.issuer, names };
    }
    return null;
  }

  /** The last `lines` lines of the site's log (no-follow read through the host-files adapter). */
  async tail(domain: Domain, kind: SiteLogKind, lines: number): Promise<string[]> {
    return this.logs.tail(siteLogPath(this.nginxLogDir, domain, kind), lines).catch((e: unknown) => {
      if (e instanceof FileMissingError) return []; // nginx creates it on the first request
      throw e;
    });
  }

  /** Whether the site's log file is there (nginx creates it on the first request or error). */
  async logExists(domain: Domain, kind: SiteLogKind): Promise<boolean> {
    const file = siteLogPath(this.nginxLogDir, domain, kind);
    return (await this.logs.available([file])).has(file);
  }

  /** The last `lines` lines, then new ones; a log that is a link is refused (422) before anything is sent. */
  follow(domain: Domain, kind: SiteLogKind, lines: number, ev: FollowEvents): Promise<FollowHandle> {
    return this.logs.follow(siteLogPath(this.nginxLogDir, domain, kind), lines, ev);
  }
}
