import { Alert, Button } from '@mantine/core';
import { Link } from '@tanstack/react-router';
import { ApiError } from '../api/errors';
import { EmptyState } from '../components/EmptyState';
import { icons } from '../components/icons';
import { usePageTitle } from '../components/PageHeader';
import { errorText } from '../lib/notify';

/**
 * The one "not found" design of the console: an address that matches no page, and a page whose
 * resource does not exist or belongs to someone else (the API answers 404 for both).
 */
export function NotFound({ what, backTo = '/', backLabel }: { /** e.g. "service" */ what?: string; backTo?: string; backLabel?: string } = {}) {
  usePageTitle('Not found');
  return (
    <EmptyState
      icon={<icons.search size={26} />}
      title={what ? `This ${what} was not found` : 'Page not found'}
      description={what ? `It does not exist, was deleted, or is not yours to see. Check the address or pick it from the list.` : 'This address does not match any page of the console.'}
      action={<Button component={Link} to={backTo}>{backLabel ?? (backTo === '/' ? 'Go to the dashboard' : 'Back to the list')}</Button>}
      testId="not-found"
      heading
    />
  );
}

/** Shown when the user's role does not include the page (the sidebar hides such pages). */
export function NoAccess({ what }: { /** What the page is for, e.g. "the audit log" (never a permission name). */ what?: string; permission?: string }) {
  usePageTitle('No access');
  return <EmptyState icon={<icons.shield size={26} />} title="You do not have access to this page" description={`Your role does not include ${what ?? 'this page'}. Ask an administrator if you need it.`} action={<Button component={Link} to="/">Go to the dashboard</Button>} testId="no-access" heading />;
}

/** A page whose resource could not be loaded: not found (404), no access (403), or the error said plainly. */
export function PageError({ error, what, backTo }: { error: unknown; what: string; backTo: string }) {
  if (error instanceof ApiError && error.status === 404) return <NotFound what={what} backTo={backTo} />;
  if (error instanceof ApiError && error.status === 403) return <NoAccess what={`this ${what}`} />;
  return <Alert color="red" title={`Could not load this ${what}`} role="alert">{errorText(error)}</Alert>;
}
