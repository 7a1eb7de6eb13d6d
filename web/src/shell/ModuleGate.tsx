import { Alert } from '@mantine/core';
import type { ReactNode } from 'react';
import { useCurrentHost } from '../lib/hooks';
import { useModuleStatus } from '../platform/module-status';
import type { WebModule } from '../platform/web-module';
import { ModuleStatusBanner } from './ModuleStatusBanner';

/**
 * Wraps every page of a module: while the module is not ready its status (reason, fix) is shown,
 * above the page or instead of it (the module's `whenNotReady`); a module the server does not list
 * is not enabled on this panel.
 */
export function ModuleGate({ module, children }: { module: Pick<WebModule, 'id' | 'whenNotReady'>; children: ReactNode }) {
  const status = useModuleStatus(module.id);
  const host = useCurrentHost();
  if (status === undefined) return <>{children}</>; // still loading: the page shows its own skeleton
  if (status === null) {
    return <Alert color="gray" title="Not enabled" data-testid={`module-status-${module.id}`}>This module is not enabled on this panel (SLIPWAY_MODULES).</Alert>;
  }
  if (status.status === 'ready') return <>{children}</>;
  const mode = module.whenNotReady?.(status, { host }) ?? (status.status === 'unavailable' ? 'replace' : 'banner');
  return (
    <>
      <ModuleStatusBanner status={status} />
      {mode === 'banner' ? children : null}
    </>
  );
}
