/** A few of the most common passwords; the server checks a much longer list. */
const COMMON = new Set([
  'password', 'password1', 'password123', '123456789012', 'qwertyuiop', 'qwertyuiopas', 'iloveyou', 'letmein',
  'welcome', 'welcome123', 'admin', 'administrator', 'changeme', 'passw0rd', 'p@ssw0rd', 'p@ssword123', 'trustno1',
  'sunshine', 'princess', 'football', 'baseball', 'dragon', 'monkey', 'master', 'abc123', 'qwerty123', '1q2w3e4r5t6y',
  'correcthorsebatterystaple', 'passwordpassword', 'aaaaaaaaaaaa', '111111111111', '000000000000',
]);

export const PASSWORD_POLICY = 'At least 12 characters, not a common password, and not your username or email.';

export interface PasswordCheck {
  /** 0..4 */
  score: number;
  label: 'Too weak' | 'Weak' | 'Fair' | 'Good' | 'Strong';
  problems: string[];
  acceptable: boolean;
}

/** Client-side strength estimate and the policy rules; the server has the final say. */
export function checkPassword(password: string, username = '', email = ''): PasswordCheck {
  const problems: string[] = [];
  const lower = password.toLowerCase();
  if (password.length < 12) problems.push(`Use at least 12 characters (${password.length} so far).`);
  if (COMMON.has(lower) || /^(.)\1+$/.test(password)) problems.push('This is a common password.');
  const u = username.trim().toLowerCase();
  const local = email.trim().toLowerCase().split('@')[0] ?? '';
  if ((u.length >= 3 && lower.includes(u)) || (local.length >= 3 && lower.includes(local))) problems.push('Do not use your username or email.');
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(password)).length;
  const unique = new Set(password).size;
  let score = 0;
  if (password.length >= 12) score++;
  if (password.length >= 16) score++;
  if (classes >= 3) score++;
  if (password.length >= 20 || (classes === 4 && password.length >= 14)) score++;
  if (unique < 6) score = Math.min(score, 1);
  if (problems.length) score = Math.min(score, 1);
  const label = (['Too weak', 'Weak', 'Fair', 'Good', 'Strong'] as const)[score]!;
  return { score, label, problems, acceptable: problems.length === 0 };
}
