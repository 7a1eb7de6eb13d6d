import { notifications } from '@mantine/notifications';
import { ApiError, describeRetry } from '../api/errors';

/** Error toast with the server's message (and when to retry, for 429s). */
export function notifyError(e: unknown, title = 'Something went wrong'): void {
  const message = e instanceof ApiError ? (e.status === 429 ? `${e.message} ${describeRetry(e.retryAfter)}` : e.message) : e instanceof Error ? e.message : String(e);
  notifications.show({ color: 'red', title, message, autoClose: 8000 });
}

export function notifySuccess(message: string, title?: string): void {
  notifications.show({ color: 'green', title, message, autoClose: 4000 });
}
