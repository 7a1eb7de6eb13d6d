import type { QueryClient } from '@tanstack/react-query';
import { createRootRouteWithContext, createRoute, createRouter, lazyRouteComponent, Navigate, type AnyRoute } from '@tanstack/react-router';
import { Root } from './shell/Root';
import { NotFound } from './shell/NotFound';
import { webModules } from './modules';

interface RouterContext {
  queryClient: QueryClient;
}

/** Code-based routes: core pages plus each module's pages under `/<module id>`; every page loads lazily. */
export function createAppRouter(queryClient: QueryClient) {
  const rootRoute = createRootRouteWithContext<RouterContext>()({ component: Root, notFoundComponent: NotFound });
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
  ];
  const moduleRoutes = webModules.flatMap((m) =>
    m.pages.map((p) => page(p.path ? `/${m.id}/${p.path}` : `/${m.id}`, p.component)),
  );
  const routeTree = rootRoute.addChildren([...core, ...moduleRoutes]);
  return createRouter({ routeTree, context: { queryClient }, defaultPreload: 'intent', scrollRestoration: true });
}
