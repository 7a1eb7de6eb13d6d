import { defineWebModule, icons } from '@slipway/web';
import { ServerCard } from './ServerCard';

/** The server module's pages: dashboard per host, hosts, services, logs. */
export const serverWeb = defineWebModule({
  id: 'server',
  title: 'Server',
  icon: icons.server,
  navPermission: 'server.metrics.read',
  pages: [
    { path: '', component: () => import('./DashboardPage') },
    { path: 'hosts', component: () => import('./HostsPage') },
    { path: 'services', component: () => import('./ServicesPage') },
    { path: 'logs', component: () => import('./LogsPage') },
  ],
  dashboardCard: ServerCard,
});
