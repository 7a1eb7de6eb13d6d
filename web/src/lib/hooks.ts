import { useParams } from '@tanstack/react-router';
import { useSyncExternalStore } from 'react';
import { session, type Me } from '../auth/session';

/** The signed-in user (GET /auth/me); null while signed out. */
export function useMe(): Me | null {
  const s = useSyncExternalStore(session.subscribe, session.getSnapshot, session.getSnapshot);
  return s.status === 'signedIn' ? s.user : null;
}

/** Whether the signed-in user's role has this permission (the server enforces it anyway). */
export function useCan(permission: string): boolean {
  return useMe()?.permissions.includes(permission) ?? false;
}

/** Path params of the current page, e.g. `$siteId` → `usePageParams().siteId`. */
export function usePageParams(): Record<string, string> {
  return useParams({ strict: false }) as Record<string, string>;
}

/** The host chosen in the top bar's host picker ('local' until hosts exist). */
class HostChoice {
  private value = (typeof localStorage !== 'undefined' && localStorage.getItem('slipway.host')) || 'local';
  private readonly listeners = new Set<() => void>();
  get = () => this.value;
  set(v: string) {
    this.value = v;
    try {
      localStorage.setItem('slipway.host', v);
    } catch {
      /* private mode */
    }
    for (const l of this.listeners) l();
  }
  subscribe = (fn: () => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };
}
export const hostChoice = new HostChoice();

export function useCurrentHost(): string {
  return useSyncExternalStore(hostChoice.subscribe, hostChoice.get, hostChoice.get);
}
