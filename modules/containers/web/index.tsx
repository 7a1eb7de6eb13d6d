import { defineWebModule, icons } from '@slipway/web';

/** Containers: services that sleep when idle and wake on the first request; Docker on each host. */
export const containersWeb = defineWebModule({
  id: 'containers',
  title: 'Containers',
  icon: icons.box,
  navPermission: 'containers.read',
  pages: [
    { path: '', component: () => import('./ServicesPage') },
    { path: 'new', component: () => import('./ServiceFormPage') },
    { path: 'docker', component: () => import('./DockerPage') },
    { path: '$serviceId', component: () => import('./ServicePage') },
    { path: '$serviceId/edit', component: () => import('./ServiceFormPage') },
  ],
});
