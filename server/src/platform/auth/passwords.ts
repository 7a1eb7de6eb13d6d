import { hash, verify } from '@node-rs/argon2';
import { ValidationError } from '../errors.js';
import { COMMON_PASSWORDS } from './common-passwords.js';
import { randomReadable } from './crypto.js';

export const PASSWORD_MIN_LENGTH = 12;
/** argon2 cost grows with input; a cap keeps a huge "password" from being a denial of service. */
export const PASSWORD_MAX_LENGTH = 256;

const SEQUENCES = ['0123456789012345678901234567890', 'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz', 'qwertyuiopasdfghjklzxcvbnm', 'zxcvbnmasdfghjklqwertyuiop', 'asdfghjklqwertyuiopzxcvbnm', 'qwertzuiopasdfghjklyxcvbnm', 'azertyuiopqsdfghjklmwxcvbn', '1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p', 'qazwsxedcrfvtgbyhnujmikolp'];
const LEET: Record<string, string> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', $: 's', '!': 'i' };

function isSequenceOrRepeat(pw: string): boolean {
  const lower = pw.toLowerCase();
  for (let unit = 1; unit <= 4; unit++) {
    if (lower.length % unit === 0 && lower.slice(0, unit).repeat(lower.length / unit) === lower) return true;
  }
  const reversed = [...lower].reverse().join('');
  return SEQUENCES.some((s) => s.includes(lower) || s.includes(reversed));
}

/** True when the password is, or is a trivial variation of, a well-known common password. */
export function isCommonPassword(pw: string): boolean {
  const lower = pw.toLowerCase();
  if (COMMON_PASSWORDS.has(lower) || isSequenceOrRepeat(lower)) return true;
  const deLeet = (s: string) => [...s].map((c) => LEET[c] ?? c).join('');
  // "P@ssw0rd2024!", "dragon123456": a common word padded with digits and symbols.
  const core = (s: string) => s.replace(/^[^a-z]+|[^a-z]+$/g, '');
  for (const candidate of [deLeet(lower), core(lower), deLeet(core(lower)), core(deLeet(lower))]) {
    if (candidate.length >= 4 && (COMMON_PASSWORDS.has(candidate) || isSequenceOrRepeat(candidate))) return true;
  }
  return false;
}

export interface PasswordRuleViolation { rule: 'min_length' | 'max_length' | 'common' | 'contains_username'; message: string }

export function checkPasswordPolicy(password: string, username?: string, email?: string): PasswordRuleViolation | null {
  if (password.length < PASSWORD_MIN_LENGTH) return { rule: 'min_length', message: `Password must be at least ${PASSWORD_MIN_LENGTH} characters long` };
  if (password.length > PASSWORD_MAX_LENGTH) return { rule: 'max_length', message: `Password must be at most ${PASSWORD_MAX_LENGTH} characters long` };
  const lower = password.toLowerCase();
  for (const ident of [username, email?.split('@')[0]]) {
    if (ident && ident.length >= 3 && lower.includes(ident.toLowerCase())) {
      return { rule: 'contains_username', message: 'Password must not contain the username or e-mail name' };
    }
  }
  if (isCommonPassword(password)) return { rule: 'common', message: 'Password is too common or too easy to guess; choose a longer, less predictable one' };
  return null;
}

/** Throws a 400 naming the broken rule. */
export function assertPasswordPolicy(password: string, username?: string, email?: string, field = 'password'): void {
  const v = checkPasswordPolicy(password, username, email);
  if (v) throw new ValidationError(v.message, { rule: v.rule, issues: [{ path: field, message: v.message }] });
}

/** argon2id with the library's defaults (19 MiB, t=2, p=1: the OWASP baseline). */
export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;
/** Made at start-up so even the first unknown-user sign-in costs the same as a real one. */
export function prepareDummyHash(): Promise<string> {
  dummyHash ??= hash(randomReadable(24));
  return dummyHash;
}
/** Spends the same time as a real check so an unknown username is not revealed by timing. */
export async function dummyVerify(password: string): Promise<void> {
  await verifyPassword(await prepareDummyHash(), password);
}

/** A temporary password handed to a user by an administrator (shown once). */
export function generateTemporaryPassword(): string {
  const raw = randomReadable(20);
  return `${raw.slice(0, 5)}-${raw.slice(5, 10)}-${raw.slice(10, 15)}-${raw.slice(15)}`;
}
