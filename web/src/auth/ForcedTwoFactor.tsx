import { Button } from '@mantine/core';
import { useState } from 'react';
import { AuthCard } from './AuthCard';
import { RecoveryCodes, TwoFactorSetup } from './TwoFactorSetup';
import { session } from './session';

/** Shown when the panel requires 2FA for this user's role and it is not set up yet. */
export default function ForcedTwoFactor() {
  const [codes, setCodes] = useState<string[] | null>(null);
  return (
    <AuthCard title="Set up two-factor authentication" subtitle="An administrator requires two-factor authentication for your account.">
      {codes ? <RecoveryCodes codes={codes} onDone={() => void session.loadMe()} /> : <TwoFactorSetup onEnabled={setCodes} />}
      <Button variant="subtle" color="gray" onClick={() => void session.signOut()}>Sign out</Button>
    </AuthCard>
  );
}
