/**
 * A tiny typed XML builder: element and attribute names are fixed by our code (checked against a
 * strict pattern), every text and attribute value is escaped, and characters XML 1.0 cannot carry
 * (NUL and other C0 controls, lone surrogates, U+FFFE/U+FFFF) are refused rather than dropped.
 * Nothing a user typed is ever concatenated into markup.
 */

export type XmlAttrValue = string | number | boolean | undefined | null;

export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, XmlAttrValue>>;
  readonly children: readonly XmlChild[];
}
export type XmlChild = XmlElement | string | null | undefined | false;

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*(:[A-Za-z_][A-Za-z0-9_.-]*)?$/;
// XML 1.0 Char production, minus the discouraged C1 controls
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u0084\u0086-\u009F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export class XmlValueError extends TypeError {}

export function el(name: string, attrs: Record<string, XmlAttrValue> = {}, ...children: (XmlChild | XmlChild[])[]): XmlElement {
  if (!NAME.test(name)) throw new XmlValueError(`invalid XML element name ${JSON.stringify(name)}`);
  for (const k of Object.keys(attrs)) if (!NAME.test(k)) throw new XmlValueError(`invalid XML attribute name ${JSON.stringify(k)}`);
  return { name, attrs, children: children.flat() };
}

function checkChars(s: string): string {
  if (FORBIDDEN.test(s)) throw new XmlValueError('value contains characters XML cannot carry (control characters or unpaired surrogates)');
  return s;
}

export function escapeText(s: string): string {
  return checkChars(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function escapeAttr(s: string): string {
  return checkChars(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;');
}

function attrString(v: XmlAttrValue): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new XmlValueError('attribute number must be finite');
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return v;
}

export function renderXml(node: XmlElement, indent = ''): string {
  const attrs = Object.entries(node.attrs)
    .map(([k, v]) => [k, attrString(v)] as const)
    .filter((e): e is readonly [string, string] => e[1] !== null)
    .map(([k, v]) => ` ${k}="${escapeAttr(v)}"`)
    .join('');
  const kids = node.children.filter((c): c is XmlElement | string => c !== null && c !== undefined && c !== false);
  if (!kids.length) return `${indent}<${node.name}${attrs}/>`;
  if (kids.every((c) => typeof c === 'string')) return `${indent}<${node.name}${attrs}>${kids.map((c) => escapeText(c as string)).join('')}</${node.name}>`;
  const inner = kids.map((c) => (typeof c === 'string' ? `${indent}  ${escapeText(c)}` : renderXml(c, `${indent}  `))).join('\n');
  return `${indent}<${node.name}${attrs}>\n${inner}\n${indent}</${node.name}>`;
}
