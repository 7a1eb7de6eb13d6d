import { defineWebModule, icons } from '@slipway/web';
import { ServerCard } from './ServerCard';

/** The server module's pages: dashboard per host, hosts, services, logs. */
export const serverWeb = defineWebModule({
  id: 'server',
  icon: icons.server,
  pages: [
    { path: '', component: () => import('./DashboardPage') },
    { path: 'hosts', component: () => import('./HostsPage') },
    { path: 'services', component: () => import('./ServicesPage') },
    { path: 'logs', component: () => import('./LogsPage') },
  ],
  dashboardCard: ServerCard,
  // Netdata missing only means fewer charts: a banner, never in place of the pages.
  whenNotReady: (status) => (status.status === 'unavailable' ? 'replace' : 'banner'),
});
