import { defineWebModule } from '@slipway/web';
import { NetbootCard } from './NetbootCard';

/** A monitor with a network cable below it: machines that boot from the network. */
function NetbootIcon({ size = 18 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth={2} strokeLinecap="round" strokeLinejoin="round" aria-hidden="true" focusable="false">
      <rect x="3" y="3" width="18" height="12" rx="2" /><path d="M12 15v4" /><path d="M6 21h12" /><path d="M9 9l3 3 3-3" />
    </svg>
  );
}

/** Netboot: diskless machines booting over iPXE + iSCSI, their writebacks, images and versions. */
export const netbootWeb = defineWebModule({
  id: 'netboot',
  icon: NetbootIcon,
  pages: [
    { path: '', component: () => import('./MachinesPage') },
    { path: 'machines/$machineId', component: () => import('./MachinePage') },
    { path: 'images', component: () => import('./ImagesPage') },
    { path: 'images/$imageId', component: () => import('./ImagePage') },
    { path: 'sessions', component: () => import('./SessionsPage') },
    { path: 'settings', component: () => import('./SettingsPage') },
  ],
  dashboardCard: NetbootCard,
  // Without tgt, qemu-storage-daemon or FUSE nothing boots: the status replaces the pages; missing
  // iPXE boot files or dnsmasq (degraded) is a banner.
  whenNotReady: (status) => (status.status === 'unavailable' ? 'replace' : 'banner'),
});
