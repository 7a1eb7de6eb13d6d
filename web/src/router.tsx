import type { QueryClient } from '@tanstack/react-query';
import { createRootRouteWithContext, createRoute, createRouter, lazyRouteComponent, Navigate, type AnyRoute } from '@tanstack/react-router';
import { Root } from './shell/Root';
import { NotFound } from './shell/NotFound';
import { ModuleGate, PageGate } from './shell/ModuleGate';
import type { WebPage } from './platform/web-module';
import { webModules } from './modules';

interface RouterContext {
  queryClient: QueryClient;
}

/** Code-based routes: core pages plus each module's pages under `/<module id>`; every page loads lazily. */
export function createAppRouter(queryClient: QueryClient) {
  const rootRoute = createRootRouteWithContext<RouterContext>()({ component: Root, notFoundComponent: () => <NotFound /> });
  const page = (path: string, load: () => Promise<{ default: React.ComponentType }>) =>
    createRoute({ getParentRoute: () => rootRoute, path, component: lazyRouteComponent(load) });

  // The printed setup link and bookmarks land here; Root shows setup or sign-in by session state.
  const toHome = (path: string) => createRoute({ getParentRoute: () => rootRoute, path, component: () => <Navigate to="/" replace /> });
  const core: AnyRoute[] = [
    toHome('/setup'),
    toHome('/login'),
    page('/', () => import('./pages/DashboardPage')),
    page('/account', () => import('./pages/AccountPage')),
    page('/users', () => import('./pages/UsersPage')),
    page('/audit', () => import('./pages/AuditPage')),
    page('/jobs', () => import('./pages/JobsPage')),
    page('/jobs/$jobId', () => import('./pages/JobPage')),
    page('/modules', () => import('./pages/ModulesPage')),
  ];
  // Every module page shows the module's status while it is not ready (GET /api/v1/modules).
  const modulePage = (m: (typeof webModules)[number], path: string, load: () => Promise<{ default: React.ComponentType }>, p?: Pick<WebPage, 'permission' | 'what'>) => {
    const lazy = lazyRouteComponent(load) as unknown as React.ComponentType & { preload?: () => Promise<void> };
    const Page = lazy;
    // Keeps the lazy page's preload (hover preloading) on the wrapper.
    const component = Object.assign(() => <PageGate permission={p?.permission} what={p?.what}><ModuleGate module={m}><Page /></ModuleGate></PageGate>, { preload: lazy.preload });
    return createRoute({ getParentRoute: () => rootRoute, path, component });
  };
  const moduleRoutes = webModules.flatMap((m) =>
    m.pages.map((p) => modulePage(m, p.path ? `/${m.id}/${p.path}` : `/${m.id}`, p.component, p)),
  );
  const routeTree = rootRoute.addChildren([...core, ...moduleRoutes]);
  return createRouter({ routeTree, context: { queryClient }, defaultPreload: 'intent', scrollRestoration: true });
}
