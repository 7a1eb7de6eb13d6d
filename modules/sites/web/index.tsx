import { defineWebModule, icons } from '@slipway/web';
import { SitesCard } from './SitesCard';

/** The sites module's pages: the sites table, the create wizard, one site. */
export const sitesWeb = defineWebModule({
  id: 'sites',
  icon: icons.globe,
  pages: [
    { path: '', component: () => import('./SitesPage') },
    { path: 'new', component: () => import('./NewSitePage'), permission: 'sites.create', what: 'creating sites' },
    { path: '$siteId', component: () => import('./SitePage') },
  ],
  dashboardCard: SitesCard,
  // Without WordOps on this machine the local host has no sites to show: say why instead of "no sites yet".
  // Remote WordOps hosts keep working (the status then shows as a banner).
  whenNotReady: (status, { host }) => (status.status === 'unavailable' || host === 'local' ? 'replace' : 'banner'),
});
