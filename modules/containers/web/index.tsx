import { defineWebModule, icons } from '@slipway/web';

/** Containers: services that sleep when idle and wake on the first request; Docker on each host. */
export const containersWeb = defineWebModule({
  id: 'containers',
  icon: icons.box,
  pages: [
    { path: '', component: () => import('./ServicesPage') },
    { path: 'new', component: () => import('./ServiceFormPage'), permission: 'containers.create', what: 'creating services' },
    { path: 'docker', component: () => import('./DockerPage') },
    { path: '$serviceId', component: () => import('./ServicePage') },
    { path: '$serviceId/edit', component: () => import('./ServiceFormPage'), permission: 'containers.update', what: 'changing services' },
  ],
  // Without Caddy or Docker nothing here works: the status (what is missing, how to fix it) replaces the pages.
  whenNotReady: (status) => (status.status === 'unavailable' ? 'replace' : 'banner'),
});
