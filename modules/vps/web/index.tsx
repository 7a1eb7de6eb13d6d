import { defineWebModule } from '@slipway/web';

/** A monitor with a terminal prompt: a virtual machine (the built-in cpu icon is the Modules page's). */
function VpsIcon({ size = 18 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth={2} strokeLinecap="round" strokeLinejoin="round" aria-hidden="true" focusable="false">
      <rect x="3" y="4" width="18" height="13" rx="2" />
      <path d="M8 21h8M12 17v4M7 9l2.5 2L7 13M12 13h4" />
    </svg>
  );
}

/** VPS: libvirt virtual machines from plans and images, with consoles, snapshots and expiry. */
export const vpsWeb = defineWebModule({
  id: 'vps',
  icon: VpsIcon,
  pages: [
    { path: '', component: () => import('./VpsListPage') },
    { path: 'new', component: () => import('./NewVpsPage'), permission: 'vps.create', what: 'creating servers' },
    { path: 'plans', component: () => import('./PlansPage') },
    { path: 'images', component: () => import('./ImagesPage') },
    { path: 'hosts', component: () => import('./HostsPage') },
    { path: '$vpsId', component: () => import('./VpsPage') },
  ],
  // Without libvirt nothing here works: the status (what is missing, how to fix it) replaces the pages.
  whenNotReady: (status) => (status.status === 'unavailable' ? 'replace' : 'banner'),
});
