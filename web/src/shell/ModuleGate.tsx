import { Alert, Title } from '@mantine/core';
import { usePageTitle } from '../components/PageHeader';
import type { ReactNode } from 'react';
import { useCurrentHost, useMe } from '../lib/hooks';
import { NoAccess } from './NotFound';
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
      {/* In place of the page, the module's name is the page's h1 and tab title. */}
      {mode === 'replace' ? <ReplacedTitle title={status.title} /> : null}
      <ModuleStatusBanner status={status} />
      {mode === 'banner' ? children : null}
    </>
  );
}

/** A page that needs a permission: a viewer without it is told so up front, before any form. */
export function PageGate({ permission, what, children }: { permission?: string; what?: string; children: ReactNode }) {
  const me = useMe();
  if (!permission || !me || me.permissions.includes(permission)) return <>{children}</>;
  return <NoAccess what={what} />;
}

function ReplacedTitle({ title }: { title: string }) {
  usePageTitle(title);
  return <Title order={1} size="h2" mb="md">{title}</Title>;
}
