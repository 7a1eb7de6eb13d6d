import { Center, Loader } from '@mantine/core';
import { Outlet } from '@tanstack/react-router';
import { lazy, Suspense, useSyncExternalStore } from 'react';
import { session } from '../auth/session';
import { LoginPage } from '../auth/LoginPage';
import { Shell } from './Shell';

const SetupPage = lazy(() => import('../auth/SetupPage'));
const ForcedPasswordChange = lazy(() => import('../auth/ForcedPasswordChange'));
const ForcedTwoFactor = lazy(() => import('../auth/ForcedTwoFactor'));

function FullPageLoader() {
  return (
    <Center h="100dvh">
      <Loader aria-label="Loading" />
    </Center>
  );
}

/** Chooses between first-run setup, sign-in, the forced password change and the console. */
export function Root() {
  const s = useSyncExternalStore(session.subscribe, session.getSnapshot, session.getSnapshot);
  if (s.status === 'loading') return <FullPageLoader />;
  if (s.status === 'setup') return <Suspense fallback={<FullPageLoader />}><SetupPage /></Suspense>;
  if (s.status === 'signedOut') return <LoginPage reason={s.reason} />;
  if (s.user.mustChangePassword) return <Suspense fallback={<FullPageLoader />}><ForcedPasswordChange /></Suspense>;
  if (s.user.require2fa && !s.user.totpEnabled) return <Suspense fallback={<FullPageLoader />}><ForcedTwoFactor /></Suspense>;
  return (
    <Shell>
      <Suspense fallback={<Center py="xl"><Loader aria-label="Loading page" /></Center>}>
        <Outlet />
      </Suspense>
    </Shell>
  );
}
