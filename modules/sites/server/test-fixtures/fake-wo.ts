import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fake-wo.mjs');

export interface FakeSite {
  site_type: string;
  cache_type: string;
  site_path?: string;
  is_enabled?: boolean;
  is_ssl?: boolean;
  db_name?: string | null;
  db_user?: string | null;
  db_password?: string | null;
  php_version?: string | null;
  ssl_days_left?: number;
  hsts?: boolean;
  /** WordPress users and their passwords (what `wp user update --user_pass` would set). */
  wp_users?: Record<string, string>;
}

export interface FakeWoState {
  webrootBase?: string;
  nginxLogDir?: string;
  certDir?: string;
  defaultPhp?: string;
  sites?: Record<string, FakeSite>;
  delayMs?: number;
  /** Lines `wo site create` prints after setting up the webroot (tests of redaction). */
  echo?: string[];
  fail?: { letsencrypt?: boolean; renew?: boolean; nginxReload?: boolean; nginxConf?: boolean; update?: boolean };
}

export interface FakeWo {
  dir: string;
  /** Absolute path of the `wo` executable to configure as SLIPWAY_SITES_WO_BIN. */
  bin: string;
  webrootBase: string;
  certDir: string;
  /** Where the fake's nginx writes `<domain>.access.log` / `.error.log` (SLIPWAY_SITES_NGINX_LOG_DIR). */
  nginxLogDir: string;
  /** The env the sites module needs to use this fake. */
  env: Record<string, string>;
  /** Every argv the fake received, in order. */
  calls(): string[][];
  state(): Required<FakeWoState>;
  setState(s: FakeWoState): void;
  /** Writes a real self-signed cert.pem for `domain` valid for `days` more days (openssl). */
  writeCertificate(domain: string, days: number): void;
  cleanup(): void;
}

/**
 * A temp dir with an executable `wo` (a tiny sh wrapper so it also runs over SSH, where no
 * environment is passed) that runs fake-wo.mjs against that dir's state.json.
 */
export function createFakeWo(initial: FakeWoState = {}): FakeWo {
  const dir = mkdtempSync(path.join(tmpdir(), 'slipway-fake-wo-'));
  const webrootBase = path.join(dir, 'www') + '/';
  const certDir = path.join(dir, 'letsencrypt', 'live');
  const nginxLogDir = path.join(dir, 'nginx-log');
  mkdirSync(webrootBase, { recursive: true });
  mkdirSync(nginxLogDir, { recursive: true });
  mkdirSync(certDir, { recursive: true });
  const bin = path.join(dir, 'wo');
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  writeFileSync(bin, `#!/bin/sh\nFAKE_WO_DIR=${q(dir)} exec ${q(process.execPath)} ${q(script)} "$@"\n`);
  chmodSync(bin, 0o755);
  const statePath = path.join(dir, 'state.json');
  const fake: FakeWo = {
    dir,
    bin,
    webrootBase,
    certDir,
    nginxLogDir,
    env: {
      SLIPWAY_SITES_WO_DIR: dir,
      SLIPWAY_SITES_CERT_DIR: certDir,
      SLIPWAY_SITES_NGINX_LOG_DIR: nginxLogDir,
      SLIPWAY_SITES_REFRESH_INTERVAL_SECONDS: '0',
      SLIPWAY_SITES_CERT_CHECK_INTERVAL_HOURS: '0',
    },
    calls() {
      const f = path.join(dir, 'calls.jsonl');
      if (!existsSync(f)) return [];
      return readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { argv: string[] }).argv);
    },
    state() {
      return JSON.parse(readFileSync(statePath, 'utf8')) as Required<FakeWoState>;
    },
    setState(s) {
      const sites: Record<string, FakeSite> = {};
      for (const [name, site] of Object.entries(s.sites ?? {})) {
        sites[name] = { site_path: webrootBase + name, is_enabled: true, is_ssl: false, ...site };
        // nginx's own logs of the site (its webroot, and the links WordOps puts there, are not made for seeded sites).
        for (const kind of ['access', 'error']) {
          const real = path.join(nginxLogDir, `${name}.${kind}.log`);
          if (!existsSync(real)) writeFileSync(real, '');
        }
      }
      writeFileSync(statePath, JSON.stringify({ webrootBase, certDir, nginxLogDir, fail: {}, ...s, sites }, null, 2));
    },
    writeCertificate(domain, days) {
      const d = path.join(certDir, domain);
      mkdirSync(d, { recursive: true });
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', String(days),
        '-subj', `/CN=${domain}`, '-addext', `subjectAltName=DNS:${domain},DNS:www.${domain}`, '-keyout', path.join(d, 'key.pem'), '-out', path.join(d, 'cert.pem')],
      { stdio: 'ignore' });
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  fake.setState(initial);
  return fake;
}
