import { hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Secrets {
  /** HMAC key for access JWTs (HS256). */
  jwtKey: Uint8Array;
  /** Key that encrypts secrets at rest in the database (TOTP seeds, …): AES-256-GCM. */
  dataKey: Buffer;
}

export const SECRETS_FILE = 'secrets.json';

/** Loads the panel's secrets from the data dir, generating them (mode 0600) on first start. */
export function loadOrCreateSecrets(dataDir: string): Secrets {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, SECRETS_FILE);
  if (!existsSync(file)) {
    const fresh = { jwtKey: randomBytes(48).toString('base64url'), dataKey: randomBytes(32).toString('base64url') };
    writeFileSync(file, JSON.stringify(fresh, null, 2), { mode: 0o600, flag: 'wx' });
  }
  chmodSync(file, 0o600);
  const raw = JSON.parse(readFileSync(file, 'utf8')) as { jwtKey: string; dataKey: string };
  return { jwtKey: Buffer.from(raw.jwtKey, 'base64url'), dataKey: Buffer.from(raw.dataKey, 'base64url') };
}

/**
 * The audit chain's HMAC key, derived from the data key (HKDF-SHA256), so it needs no file of its
 * own and a restored backup (which carries secrets.json) verifies its own audit log.
 */
export function auditChainKey(secrets: Pick<Secrets, 'dataKey'>): Buffer {
  return Buffer.from(hkdfSync('sha256', secrets.dataKey, Buffer.alloc(0), 'slipway audit chain v2', 32));
}
