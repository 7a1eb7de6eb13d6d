import { defineWebModule } from '@slipway/web';

/** Stacked layers: apps built and released in layers (the built-in set's box is the containers module's). */
function AppsIcon({ size = 18 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth={2} strokeLinecap="round" strokeLinejoin="round" aria-hidden="true" focusable="false">
      <path d="M12 3l9 5-9 5-9-5z" />
      <path d="M3 13l9 5 9-5" />
      <path d="M3 17.5l9 5 9-5" />
    </svg>
  );
}

/** Apps (Dokku): the apps list, the new-app form, one app's page with its tabs. */
export const appsWeb = defineWebModule({
  id: 'apps',
  icon: AppsIcon,
  pages: [
    { path: '', component: () => import('./AppsPage') },
    { path: 'new', component: () => import('./NewAppPage'), permission: 'apps.deploy', what: 'creating apps' },
    { path: '$appName', component: () => import('./AppPage') },
  ],
  // Dokku is optional on this machine (apps may live on remote Dokku hosts): the platform's
  // default applies (unavailable replaces the pages with the engine's status, degraded is a banner).
});
