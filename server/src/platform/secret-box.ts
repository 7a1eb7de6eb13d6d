import { createHmac, hkdfSync } from 'node:crypto';
import { decryptSecret, encryptSecret } from './auth/crypto.js';

/**
 * Encryption at rest for one purpose of one module: AES-256-GCM (the platform's sealed format)
 * under a key derived (HKDF-SHA256) from the panel's data key with the purpose as info. Modules get
 * one through `ctx.secretBox(purpose)` and never see the data key, so a leaked module key opens
 * nothing else.
 */
export class SecretBox {
  private readonly key: Buffer;
  private readonly digestKey: Buffer;

  constructor(dataKey: Buffer, purpose: string) {
    if (!/^[a-z0-9][a-z0-9 ._-]{2,63}$/.test(purpose)) throw new Error(`bad secret box purpose ${purpose}`);
    this.key = Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), `slipway ${purpose}`, 32));
    this.digestKey = Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), `slipway ${purpose} digest`, 32));
  }

  seal(value: string): string {
    return encryptSecret(this.key, value);
  }

  open(sealed: string): string {
    return decryptSecret(this.key, sealed);
  }

  /** A keyed digest (hex, 16 chars): shows that a value changed, never what it is. */
  digest(value: string): string {
    return createHmac('sha256', this.digestKey).update(value).digest('hex').slice(0, 16);
  }
}
