const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * The browser's check of a fully qualified host name (a site's domain, an app's domain): IDN
 * becomes punycode, RFC 1123 labels, at least two labels, one trailing dot allowed. The servers'
 * parsers (sites parseDomain, apps parseHostname) check again, with the look-alike rules, and
 * their reason wins. `noun` and `example` only word the messages.
 */
export function domainNameProblem(input: string, o: { noun?: string; example?: string } = {}): string | null {
  const noun = o.noun ?? 'host name';
  const v = input.trim().toLowerCase().replace(/\.$/, '');
  if (!v) return 'Enter a domain';
  if (v.length > 253) return 'At most 253 characters';
  let ascii = v;
  try {
    ascii = new URL(`http://${v}`).hostname;
  } catch {
    return `Not a valid ${noun}`;
  }
  // eslint-disable-next-line no-control-regex
  if (ascii !== v && !/[^\x00-\x7f]/.test(v)) return 'Only letters, digits, hyphens and dots';
  const labels = ascii.split('.');
  if (labels.length < 2) return `A ${noun} has at least two labels (${o.example ?? 'app.example.com'})`;
  if (!labels.every((l) => LABEL.test(l))) return 'Each label: letters, digits, hyphens, not starting or ending with -';
  return null;
}
