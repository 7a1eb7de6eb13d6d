import { Button } from '@mantine/core';
import { Link } from '@tanstack/react-router';
import { EmptyState } from '../components/EmptyState';
import { icons } from '../components/icons';

export function NotFound() {
  return <EmptyState title="Page not found" description="This address does not match any page of the console." action={<Button component={Link} to="/">Go to the dashboard</Button>} />;
}

/** Shown when the user's role lacks the page's permission (the sidebar hides such pages). */
export function NoAccess({ permission }: { permission: string }) {
  return <EmptyState icon={<icons.shield size={26} />} title="You do not have access to this page" description={`Your role lacks the permission ${permission}. Ask an administrator if you need it.`} action={<Button component={Link} to="/">Go to the dashboard</Button>} />;
}
