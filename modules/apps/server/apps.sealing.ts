import { createHmac, hkdfSync } from 'node:crypto';
import { decryptSecret, encryptSecret } from '../../../server/src/platform/auth/crypto.js';

/**
 * Env values at rest: AES-256-GCM (`v1.<iv>.<tag>.<data>`, the platform's sealed-secret format)
 * under a key derived (HKDF-SHA256) from the panel's data key for this one purpose, so a leaked
 * apps key opens nothing else and the data key itself is never used directly.
 */
export class AppSecretsBox {
  private readonly key: Buffer;
  private readonly digestKey: Buffer;

  constructor(dataKey: Buffer) {
    this.key = Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), 'slipway apps env v1', 32));
    this.digestKey = Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), 'slipway apps config digest v1', 32));
  }

  seal(value: string): string {
    return encryptSecret(this.key, value);
  }

  open(sealed: string): string {
    return decryptSecret(this.key, sealed);
  }

  /** A keyed digest of an app's env (keys and values, sorted): shows that config changed, never what it is. */
  digest(env: Readonly<Record<string, string>>): string {
    const canonical = JSON.stringify(Object.keys(env).sort().map((k) => [k, env[k]]));
    return createHmac('sha256', this.digestKey).update(canonical).digest('hex').slice(0, 16);
  }
}
