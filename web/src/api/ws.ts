import { abs, session } from '../auth/session';

/**
 * Opens an authenticated WebSocket: browsers cannot set headers, so the access token travels as the
 * subprotocol `bearer.<token>` next to `slipway.v1` (the server answers with `slipway.v1`).
 * `path` like `/api/v1/jobs/<id>/logs/ws?since=42`.
 */
export function openSocket(path: string): WebSocket {
  const url = new URL(abs(path));
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const token = session.token();
  return new WebSocket(url, token ? ['slipway.v1', `bearer.${token}`] : ['slipway.v1']);
}
