import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox } from './secret-box.js';

describe('SecretBox', () => {
  const dataKey = randomBytes(32);
  it('round-trips, never stores the plaintext, and keys each purpose apart', () => {
    const box = new SecretBox(dataKey, 'apps env v1');
    const sealed = box.seal('hunter2-very-secret');
    expect(sealed).not.toContain('hunter2');
    expect(box.open(sealed)).toBe('hunter2-very-secret');
    expect(() => new SecretBox(dataKey, 'vps seeds v1').open(sealed)).toThrow();
    expect(() => new SecretBox(randomBytes(32), 'apps env v1').open(sealed)).toThrow();
  });
  it('digests without revealing and refuses odd purposes', () => {
    const box = new SecretBox(dataKey, 'apps env v1');
    expect(box.digest('a')).toBe(box.digest('a'));
    expect(box.digest('a')).not.toBe(box.digest('b'));
    expect(() => new SecretBox(dataKey, '')).toThrow();
  });
});
