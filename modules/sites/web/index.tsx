import { defineWebModule, icons } from '@slipway/web';
import { SitesCard } from './SitesCard';

/** The sites module's pages: the sites table, the create wizard, one site. */
export const sitesWeb = defineWebModule({
  id: 'sites',
  title: 'Sites',
  icon: icons.globe,
  navPermission: 'sites.read',
  pages: [
    { path: '', component: () => import('./SitesPage') },
    { path: 'new', component: () => import('./NewSitePage') },
    { path: '$siteId', component: () => import('./SitePage') },
  ],
  dashboardCard: SitesCard,
});
