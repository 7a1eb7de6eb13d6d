import type { ComponentType } from 'react';
import type { ModuleStatus } from './module-status';

/** A page of a module, mounted at `/<module id>/<path>`. */
export interface WebPage {
  /**
   * Relative to the module's base path: `''` is `/<id>` itself, `'new'` is `/<id>/new`,
   * `'$siteId'` is `/<id>/:siteId` (read it with `usePageParams()`).
   */
  path: string;
  /** Loaded on first visit (route-level code splitting): `() => import('./SitesPage')`. */
  component: () => Promise<{ default: ComponentType }>;
  /**
   * The permission the page needs (`'sites.create'`): a viewer without it is told so up front
   * ("You do not have access to this page") instead of walking a form the server will refuse.
   */
  permission?: string;
  /** What the page is for, in the words of that message: "creating sites" (never a permission name). */
  what?: string;
}

/** The web half of a module (modules/<id>/web/index.tsx), listed once in web/src/modules.ts. */
export interface WebModule {
  /** Same id as the server half (`defineModule({ id })`); also the URL prefix `/<id>`. */
  id: string;
  /**
   * Sidebar icon, e.g. one of `icons` from '@slipway/web' or any `(props: { size?: number }) => <svg/>`.
   * The title, whether the module is enabled and who sees it come from the server (GET /api/v1/modules).
   */
  icon: ComponentType<{ size?: number }>;
  /** First page is the sidebar target. Keep at least the index page (`path: ''`). */
  pages: WebPage[];
  /** Optional dashboard card (shown only to users the module is visible to): your own `<Card withBorder>`; keep it small: counts and links. */
  dashboardCard?: ComponentType;
  /**
   * What the module's pages show while it is not ready: `'replace'` shows only the status (what is
   * missing and how to fix it) instead of the page, `'banner'` shows it above the page. Default:
   * unavailable replaces, degraded is a banner.
   */
  whenNotReady?: (status: ModuleStatus, ctx: { host: string }) => 'replace' | 'banner';
}

/** Identity helper that checks the shape at compile time. */
export function defineWebModule(m: WebModule): WebModule {
  if (!/^[a-z][a-z0-9]*$/.test(m.id)) throw new Error(`bad module id ${m.id}`);
  return m;
}
