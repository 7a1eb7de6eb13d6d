import { notifications } from '@mantine/notifications';
import { ApiError, describeRetry } from '../api/errors';
import { fieldLabel, fieldName, issuesOf } from '../components/fieldErrors';

/**
 * What a person reads for an error: the server's message, except that a refusal for a missing
 * permission never names the permission (`core.users.read` is for API clients), and several field
 * problems are listed one per line by field (forms put them next to their fields instead:
 * useFieldErrors).
 */
export function errorText(e: unknown): string {
  if (!(e instanceof ApiError)) return e instanceof Error ? e.message : String(e);
  if (e.status === 429) return `${e.message} ${describeRetry(e.retryAfter)}`;
  if (e.status === 403 && e.code === 'forbidden' && /\bpermission\b/.test(e.message)) return 'Your role does not allow this. Ask an administrator if you need it.';
  const issues = issuesOf(e);
  if (issues.length) {
    const lines = issues.slice(0, 3).map((i) => `${fieldLabel(fieldName(i.path))}: ${i.message}`);
    return issues.length > 3 ? `${lines.join('\n')}\n…and ${issues.length - 3} more` : lines.join('\n');
  }
  return e.message;
}

/** Error toast with the server's message in plain words (and when to retry, for 429s). */
export function notifyError(e: unknown, title = 'Something went wrong'): void {
  const validation = issuesOf(e).length > 0;
  notifications.show({ color: 'red', title: validation && title === 'Something went wrong' ? 'Check the form' : title, message: errorText(e), autoClose: 8000, style: { whiteSpace: 'pre-line' } });
}

export function notifySuccess(message: string, title?: string): void {
  notifications.show({ color: 'green', title, message, autoClose: 4000 });
}
