import { defineWebModule, icons } from '@slipway/web';
import { ServerCard } from './ServerCard';

/** The server module's pages: dashboard per host, hosts, services, logs. */
export const serverWeb = defineWebModule({
  id: 'server',
  icon: icons.server,
  pages: [
    { path: '', component: () => import('./DashboardPage'), permission: 'server.metrics.read', what: 'the host metrics' },
    { path: 'hosts', component: () => import('./HostsPage') },
    { path: 'services', component: () => import('./ServicesPage'), permission: 'server.services.read', what: 'the host services' },
    { path: 'logs', component: () => import('./LogsPage'), permission: 'server.logs.read', what: 'reading server logs' },
  ],
  dashboardCard: ServerCard,
  // Netdata missing only means fewer charts: a banner, never in place of the pages.
  whenNotReady: (status) => (status.status === 'unavailable' ? 'replace' : 'banner'),
});
