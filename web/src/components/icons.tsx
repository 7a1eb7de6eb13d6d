import type { ReactNode } from 'react';

interface IconProps {
  size?: number;
}

function icon(paths: ReactNode) {
  return function Icon({ size = 18 }: IconProps) {
    return (
      <svg width={size} height={size} viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth={2} strokeLinecap="round" strokeLinejoin="round" aria-hidden="true" focusable="false">
        {paths}
      </svg>
    );
  };
}

/** A small built-in icon set (no icon library dependency); modules may use these or their own SVG. */
export const icons = {
  dashboard: icon(<><rect x="3" y="3" width="7" height="9" /><rect x="14" y="3" width="7" height="5" /><rect x="14" y="12" width="7" height="9" /><rect x="3" y="16" width="7" height="5" /></>),
  users: icon(<><circle cx="9" cy="8" r="4" /><path d="M2 21v-1a6 6 0 0 1 6-6h2a6 6 0 0 1 6 6v1" /><path d="M16 4a4 4 0 0 1 0 8" /><path d="M22 21v-1a6 6 0 0 0-4-5.6" /></>),
  audit: icon(<><path d="M9 4h6l1 2h3v15H5V6h3z" /><path d="M9 12l2 2 4-4" /></>),
  jobs: icon(<><path d="M4 6h16" /><path d="M4 12h10" /><path d="M4 18h7" /><circle cx="18" cy="16" r="3" /></>),
  account: icon(<><circle cx="12" cy="8" r="4" /><path d="M4 21v-1a7 7 0 0 1 16 0v1" /></>),
  server: icon(<><rect x="3" y="4" width="18" height="7" rx="2" /><rect x="3" y="13" width="18" height="7" rx="2" /><path d="M7 7.5h.01M7 16.5h.01" /></>),
  globe: icon(<><circle cx="12" cy="12" r="9" /><path d="M3 12h18" /><path d="M12 3a14 14 0 0 1 0 18a14 14 0 0 1 0-18" /></>),
  box: icon(<><path d="M12 3l8 4.5v9L12 21l-8-4.5v-9z" /><path d="M12 12l8-4.5M12 12v9M12 12L4 7.5" /></>),
  cpu: icon(<><rect x="6" y="6" width="12" height="12" rx="1" /><path d="M9 2v4M15 2v4M9 18v4M15 18v4M2 9h4M2 15h4M18 9h4M18 15h4" /></>),
  network: icon(<><rect x="9" y="2" width="6" height="6" /><rect x="2" y="16" width="6" height="6" /><rect x="16" y="16" width="6" height="6" /><path d="M12 8v4M5 16v-4h14v4" /></>),
  sun: icon(<><circle cx="12" cy="12" r="4" /><path d="M12 2v2M12 20v2M4.9 4.9l1.4 1.4M17.7 17.7l1.4 1.4M2 12h2M20 12h2M4.9 19.1l1.4-1.4M17.7 6.3l1.4-1.4" /></>),
  moon: icon(<path d="M20 14.5A8 8 0 1 1 9.5 4a6.5 6.5 0 0 0 10.5 10.5z" />),
  logout: icon(<><path d="M15 4h4v16h-4" /><path d="M10 8l-4 4 4 4" /><path d="M6 12h11" /></>),
  search: icon(<><circle cx="11" cy="11" r="7" /><path d="M20 20l-4-4" /></>),
  download: icon(<><path d="M12 4v11" /><path d="M7 10l5 5 5-5" /><path d="M5 20h14" /></>),
  pause: icon(<><path d="M9 5v14M15 5v14" /></>),
  play: icon(<path d="M7 4l13 8-13 8z" />),
  plus: icon(<path d="M12 5v14M5 12h14" />),
  trash: icon(<><path d="M4 7h16" /><path d="M9 7V4h6v3" /><path d="M6 7l1 13h10l1-13" /></>),
  refresh: icon(<><path d="M20 11a8 8 0 1 0-2.3 5.7" /><path d="M20 4v7h-7" /></>),
  key: icon(<><circle cx="8" cy="15" r="4" /><path d="M11 12l9-9M17 6l3 3" /></>),
  shield: icon(<path d="M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6z" />),
  arrowDown: icon(<><path d="M12 5v14" /><path d="M6 13l6 6 6-6" /></>),
} satisfies Record<string, (p: IconProps) => ReactNode>;
