import { MantineProvider } from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createMemoryHistory, createRootRoute, createRoute, createRouter, RouterProvider } from '@tanstack/react-router';
import { render } from '@testing-library/react';
import type { ReactElement, ReactNode } from 'react';

/** Renders a component with the console's providers (Mantine, notifications, Query, a memory router). */
export function renderWithProviders(ui: ReactElement) {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const rootRoute = createRootRoute({ component: () => ui });
  const router = createRouter({ routeTree: rootRoute, history: createMemoryHistory({ initialEntries: ['/'] }) });
  return render(
    <MantineProvider>
      <Notifications />
      <QueryClientProvider client={queryClient}>
        <RouterProvider router={router} />
      </QueryClientProvider>
    </MantineProvider>,
  );
}

/**
 * Renders a page at a real route path (`pattern` such as '/vps/$vpsId'), so its params are read as
 * the console reads them; '/jobs/$jobId' exists too (a "job page" paragraph) for pages that open a job.
 */
export function renderAt(path: string, pattern: string, Page: () => ReactNode) {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const root = createRootRoute();
  const route = createRoute({ getParentRoute: () => root, path: pattern, component: Page });
  const jobs = createRoute({ getParentRoute: () => root, path: '/jobs/$jobId', component: () => <p>job page</p> });
  const router = createRouter({ routeTree: root.addChildren([route, jobs]), history: createMemoryHistory({ initialEntries: [path] }) });
  return render(
    <MantineProvider>
      <Notifications />
      <QueryClientProvider client={queryClient}><RouterProvider router={router} /></QueryClientProvider>
    </MantineProvider>,
  );
}

/** Mantine-only wrapper for components that do not need the router or Query. */
export function renderWithMantine(ui: ReactElement) {
  return render(<MantineProvider><Notifications />{ui}</MantineProvider>);
}
