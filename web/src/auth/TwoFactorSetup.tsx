import { Alert, Button, Code, Group, Image, List, SimpleGrid, Stack, Text, TextInput } from '@mantine/core';
import { useState } from 'react';
import { api, call } from '../api/client';
import { notifyError } from '../lib/notify';

/** Recovery codes, shown once after enrolment, with download. */
export function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone(): void }) {
  const download = () => {
    const url = URL.createObjectURL(new Blob([`Slipway recovery codes (each works once)\n\n${codes.join('\n')}\n`], { type: 'text/plain' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = 'slipway-recovery-codes.txt';
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return (
    <Stack>
      <Alert color="green" title="Two-factor authentication is on">
        Save these recovery codes somewhere safe. Each one signs you in once if you lose your device. They are shown only now.
      </Alert>
      <SimpleGrid cols={2} spacing={4} data-testid="recovery-codes">
        {codes.map((c) => <Code key={c} fz="sm">{c}</Code>)}
      </SimpleGrid>
      <Group>
        <Button variant="default" onClick={download}>Download codes</Button>
        <Button onClick={onDone}>I saved them</Button>
      </Group>
    </Stack>
  );
}

/** TOTP enrolment: QR code (and the secret for manual entry), then confirm with the first code. */
export function TwoFactorSetup({ onEnabled }: { onEnabled(codes: string[]): void }) {
  const [enrolment, setEnrolment] = useState<{ secret: string; otpauthUri: string; qr: string } | null>(null);
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const start = async () => {
    setBusy(true);
    try {
      const r = await call(api.POST('/api/v1/auth/2fa/enroll', {}));
      const QR = await import('qrcode');
      const qr = await QR.toDataURL(r.otpauthUri, { margin: 1, width: 220 });
      setEnrolment({ ...r, qr });
    } catch (e) {
      notifyError(e);
    } finally {
      setBusy(false);
    }
  };
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await call(api.POST('/api/v1/auth/2fa/confirm', { body: { code: code.replace(/\s/g, '') } }));
      onEnabled(r.recoveryCodes);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  if (!enrolment) {
    return (
      <Stack align="flex-start">
        <Text size="sm">Protect your account with a code from an authenticator app (TOTP) at each sign-in.</Text>
        <Button onClick={() => void start()} loading={busy}>Set up two-factor authentication</Button>
      </Stack>
    );
  }
  return (
    <form onSubmit={(e) => { e.preventDefault(); void confirm(); }}>
      <Stack>
        <List type="ordered" size="sm" spacing={4}>
          <List.Item>Scan this QR code with your authenticator app.</List.Item>
          <List.Item>Enter the 6-digit code it shows to confirm.</List.Item>
        </List>
        <Group align="flex-start" wrap="wrap">
          <Image src={enrolment.qr} alt="QR code for your authenticator app" w={220} h={220} radius="sm" bg="white" />
          <Stack gap={4} maw={260}>
            <Text size="xs" c="dimmed">Cannot scan? Enter this key:</Text>
            <Code data-testid="totp-secret" style={{ wordBreak: 'break-all' }}>{enrolment.secret}</Code>
          </Stack>
        </Group>
        {error ? <Alert color="red" role="alert">{error}</Alert> : null}
        <TextInput label="Code from the app" value={code} onChange={(e) => setCode(e.currentTarget.value)} inputMode="numeric" autoComplete="one-time-code" maxLength={7} required w={200} />
        <Group><Button type="submit" loading={busy}>Confirm and turn on</Button></Group>
      </Stack>
    </form>
  );
}
