import type { ComponentType } from 'react';

/** A page of a module, mounted at `/<module id>/<path>`. */
export interface WebPage {
  /**
   * Relative to the module's base path: `''` is `/<id>` itself, `'new'` is `/<id>/new`,
   * `'$siteId'` is `/<id>/:siteId` (read it with `usePageParams()`).
   */
  path: string;
  /** Loaded on first visit (route-level code splitting): `() => import('./SitesPage')`. */
  component: () => Promise<{ default: ComponentType }>;
}

/** The web half of a module (modules/<id>/web/index.tsx), listed once in web/src/modules.ts. */
export interface WebModule {
  /** Same id as the server half (`defineModule({ id })`); also the URL prefix `/<id>`. */
  id: string;
  /** Shown in the sidebar. */
  title: string;
  /** Sidebar icon, e.g. one of `icons` from '@slipway/web' or any `(props: { size?: number }) => <svg/>`. */
  icon: ComponentType<{ size?: number }>;
  /** The sidebar entry shows only when the signed-in user has this permission (from GET /auth/me). */
  navPermission: string;
  /** First page is the sidebar target. Keep at least the index page (`path: ''`). */
  pages: WebPage[];
  /** Optional dashboard card (shown only with navPermission): render your own `<Card withBorder>`; keep it small: counts and links. */
  dashboardCard?: ComponentType;
}

/** Identity helper that checks the shape at compile time. */
export function defineWebModule(m: WebModule): WebModule {
  if (!/^[a-z][a-z0-9]*$/.test(m.id)) throw new Error(`bad module id ${m.id}`);
  return m;
}
