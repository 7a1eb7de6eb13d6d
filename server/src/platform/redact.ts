/**
 * The one redaction of secrets in text that tools print (job logs, tool errors, adapters' output),
 * before it reaches a user or the database. By pattern, not by known message, because no adapter
 * knows every line its tool (or a future version of it) prints:
 * - `key : value` / `key=value` whose key (the word right before the separator, any case, also
 *   inside `DB_PASSWORD`, `api_key`, `X-Auth-Token`, `"dbpass"`) contains pass, secret, token,
 *   key, credential, cookie or auth: the key stays, the rest of the line goes;
 * - a tab-separated field of such a key (`DB_PASS\t\t\t value`, WordOps' `wo site info`);
 * - `--password value` style flags; `Bearer …`/`Basic …` credentials; `scheme://user:pw@`;
 * - a PEM private key (from its BEGIN line on; in `redactSecretsText` up to its END line).
 * Over-redacting (`Test passed: 3`) is the accepted cost. Every pattern is linear in the line's
 * length (no nested quantifiers), so a hostile line cannot stall the log writer.
 */

const SECRET_WORD = /pass|secret|token|key|credential|cookie|auth(?!ors?\b)/i;
/** A key right before `:`/`=` (optionally quoted), starting where no key character precedes it. */
const KEY_SEPARATOR = /(?<![A-Za-z0-9_.-])["']?([A-Za-z0-9_.-]+)["']?\s*[:=]\s*(?=\S)/g;
/** `key<TAB>value`: a key of letters, spaces, `_` and `-` only, then tabs. */
const TAB_KEY = /^[\sA-Za-z_-]+$/;
/** `--flag value` / `--flag=value` (only where a run of `-` starts, so a line of dashes stays linear). */
const FLAG = /(?<![A-Za-z0-9-])(--[A-Za-z0-9-]+(?:=|\s+))([^\s=:]\S*)/g;
const HTTP_AUTH = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g;
const URL_PASSWORD = /(\/\/[^/\s:@]+:)[^@\s/]+@/g;
const PRIVATE_KEY_BEGIN = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const PRIVATE_KEY_END = /-----END [A-Z0-9 ]*PRIVATE KEY-----/;

export const REDACTED = '[redacted]';
const PRIVATE_KEY_REDACTED = '[redacted private key]';

/** One line with what looks like a secret replaced by `[redacted]`. */
export function redactSecrets(line: string): string {
  const pem = line.search(PRIVATE_KEY_BEGIN);
  if (pem !== -1) return redactSecrets(`${line.slice(0, pem)}${PRIVATE_KEY_REDACTED}`);
  let out = line.replace(URL_PASSWORD, `$1${REDACTED}@`).replace(HTTP_AUTH, `$1 ${REDACTED}`).replace(FLAG, (all, flag: string) => (SECRET_WORD.test(flag) ? `${flag}${REDACTED}` : all));
  const tab = out.indexOf('\t');
  if (tab > 0) {
    const key = out.slice(0, tab);
    if (TAB_KEY.test(key) && SECRET_WORD.test(key)) {
      const value = out.slice(tab).search(/[^\s]/);
      if (value !== -1) return `${out.slice(0, tab + value)}${REDACTED}`;
    }
  }
  for (const m of out.matchAll(KEY_SEPARATOR)) {
    if (SECRET_WORD.test(m[1]!)) {
      out = `${out.slice(0, m.index + m[0].length)}${REDACTED}`;
      break;
    }
  }
  return out;
}

/** Every line of a text through `redactSecrets`, and a private key's lines up to its END line. */
export function redactSecretsText(text: string): string {
  let inKey = false;
  return text.split('\n').map((line) => {
    if (inKey) {
      if (PRIVATE_KEY_END.test(line)) inKey = false;
      return '';
    }
    if (PRIVATE_KEY_BEGIN.test(line) && !PRIVATE_KEY_END.test(line)) inKey = true;
    return redactSecrets(line);
  }).join('\n');
}
