import { describe, expect, it } from 'vitest';
import { checkPasswordPolicy, hashPassword, isCommonPassword, verifyPassword } from './passwords.js';
import { constantTimeEquals, decryptSecret, encryptSecret } from './crypto.js';
import { randomBytes } from 'node:crypto';
import { describeDevice } from './user-agent.js';

describe('password policy', () => {
  it.each([
    ['short1!', 'min_length'],
    ['x'.repeat(257), 'max_length'],
    ['password1234', 'common'],
    ['P@ssw0rd2024!', 'common'],
    ['Qwertyuiop123', 'common'],
    ['123456789012', 'common'],
    ['aaaaaaaaaaaa', 'common'],
    ['abababababab', 'common'],
    ['iloveyou!!!!', 'common'],
    ['Dragon123456', 'common'],
    ['zxcvbnmasdfg', 'common'],
    ['2024-Manchester-2024', 'common'],
    ['correcthorsebatterystaple', 'common'],
    ['alice-is-my-name-2024', 'contains_username'],
  ])('refuses %s (%s)', (pw, rule) => {
    expect(checkPasswordPolicy(pw, 'alice', 'alice@example.test')?.rule).toBe(rule);
  });

  it.each(['Harbour-lantern-47-quietly', 'tp7#Gq2!vX9zLm', 'seven purple kettles hum', 'Mango tractor 88 silence'])('accepts %s', (pw) => {
    expect(checkPasswordPolicy(pw, 'alice', 'alice@example.test')).toBeNull();
  });

  it('knows well over a thousand common passwords', () => {
    for (const pw of ['letmein', 'trustno1', 'sunshine', 'princess', 'football', 'baseball', 'starwars', 'whatever', 'monkey', 'shadow']) {
      expect(isCommonPassword(pw), pw).toBe(true);
    }
  });

  it('hashes with argon2id and verifies', async () => {
    const h = await hashPassword('Harbour-lantern-47-quietly');
    expect(h.startsWith('$argon2id$')).toBe(true);
    expect(await verifyPassword(h, 'Harbour-lantern-47-quietly')).toBe(true);
    expect(await verifyPassword(h, 'Harbour-lantern-47-quietlY')).toBe(false);
    expect(await verifyPassword('not-a-hash', 'x')).toBe(false);
  });
});

describe('crypto helpers', () => {
  it('seals secrets with AES-256-GCM and detects tampering', () => {
    const key = randomBytes(32);
    const sealed = encryptSecret(key, 'JBSWY3DPEHPK3PXP');
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP');
    expect(decryptSecret(key, sealed)).toBe('JBSWY3DPEHPK3PXP');
    const parts = sealed.split('.');
    const flipped = Buffer.from(parts[3]!, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    expect(() => decryptSecret(key, [...parts.slice(0, 3), flipped.toString('base64url')].join('.'))).toThrow();
    expect(() => decryptSecret(randomBytes(32), sealed)).toThrow();
  });

  it('compares strings exactly', () => {
    expect(constantTimeEquals('abc', 'abc')).toBe(true);
    expect(constantTimeEquals('abc', 'abd')).toBe(false);
    expect(constantTimeEquals('abc', 'abcd')).toBe(false);
  });

  it('names devices from user agents', () => {
    expect(describeDevice('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36')).toBe('Chrome on Windows');
    expect(describeDevice('Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15')).toBe('Safari on macOS');
    expect(describeDevice('Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1')).toBe('Safari on iOS');
    expect(describeDevice('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0')).toBe('Edge on Windows');
    expect(describeDevice('curl/8.5.0')).toBe('curl');
    expect(describeDevice(null)).toBe('Unknown device');
  });
});
