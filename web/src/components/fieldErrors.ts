import { useCallback, useState } from 'react';
import { ApiError } from '../api/errors';

/** One problem the server found in a request: `path` such as `body.ports.0.container`. */
export interface FieldIssue { path: string; message: string }

/** The issues of a 400 `validation_failed` answer (`details.issues`), or none. */
export function issuesOf(e: unknown): FieldIssue[] {
  if (!(e instanceof ApiError)) return [];
  const issues = (e.details as { issues?: unknown } | undefined)?.issues;
  if (!Array.isArray(issues)) return [];
  return issues.filter((i): i is FieldIssue => !!i && typeof (i as FieldIssue).path === 'string' && typeof (i as FieldIssue).message === 'string');
}

/** `body.ports.0.container` → `ports.0.container` (the form's field name); `querystring.`/`params.` likewise. */
export function fieldName(path: string): string {
  return path.replace(/^(body|querystring|params)\.?/, '');
}

/** A field name as a person reads it: `ports.0.containerPort` → "Ports 1 container port". */
export function fieldLabel(name: string): string {
  const words = name.split('.').filter(Boolean).map((p) => (/^\d+$/.test(p) ? String(Number(p) + 1) : p.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase()));
  const text = words.join(' ');
  return text ? text[0]!.toUpperCase() + text.slice(1) : 'The request';
}

/**
 * The server's field problems as a form shows them: `errors[field]` is the message to put next to
 * that field (`field` without the `body.` prefix). `take(e, fields)` keeps the issues of the given
 * fields and answers what is left for a toast (the issues of fields the form does not have, said
 * plainly), or null when every issue found its field (or there were none and `e` is not a
 * validation error: then the caller toasts `e` as usual).
 */
export function useFieldErrors() {
  const [errors, setErrors] = useState<Record<string, string>>({});
  const clear = useCallback((field?: string) => setErrors((prev) => {
    if (field === undefined) return Object.keys(prev).length ? {} : prev;
    if (!(field in prev)) return prev;
    const { [field]: _gone, ...rest } = prev;
    return rest;
  }), []);
  const take = useCallback((e: unknown, fields: readonly string[]): { handled: boolean; rest: string | null } => {
    const issues = issuesOf(e);
    if (!issues.length) return { handled: false, rest: null };
    const mine: Record<string, string> = {};
    const other: FieldIssue[] = [];
    for (const i of issues) {
      const name = fieldName(i.path);
      // A problem inside a field (`ports.0.host`) belongs to the closest field the form has.
      const field = fields.find((f) => name === f) ?? fields.find((f) => name.startsWith(`${f}.`));
      if (field && !mine[field]) mine[field] = i.message;
      else if (!field) other.push(i);
    }
    setErrors(mine);
    const rest = other.length ? other.map((i) => `${fieldLabel(fieldName(i.path))}: ${i.message}`).join('\n') : null;
    return { handled: true, rest };
  }, []);
  return { errors, take, clear, setErrors };
}

/**
 * For forms that keep their own `errors` state: of the server's field problems, those that belong
 * to none of `fields`, said plainly ("Target lun: Expected number", one per line), or null. A form
 * puts the others next to their fields and this above them, so no problem is lost or shown raw.
 */
export function otherIssuesText(e: unknown, fields: readonly string[]): string | null {
  const rest = issuesOf(e).filter((i) => {
    const name = fieldName(i.path);
    return !fields.some((f) => name === f || name.startsWith(`${f}.`));
  });
  return rest.length ? rest.map((i) => `${fieldLabel(fieldName(i.path))}: ${i.message}`).join('\n') : null;
}

/** Keeps the entries of `errors` whose key is one of `fields` (what a form can show next to a field). */
export function onlyFields<K extends string>(errors: Record<string, string>, fields: readonly K[]): Partial<Record<K, string>> {
  return Object.fromEntries(Object.entries(errors).filter(([k]) => (fields as readonly string[]).includes(k))) as Partial<Record<K, string>>;
}
