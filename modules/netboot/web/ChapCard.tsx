import { Alert, Button, Card, Code, Group, Stack, Switch, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { ConfirmDialog, api, call, errorText, formatRelative, notifySuccess, useCan } from '@slipway/web';
import { fieldErrors, type MachineDetail } from './api';

/**
 * Incoming iSCSI CHAP of one machine: on/off (refused while its session runs, shown at the switch),
 * the user name, when the secret was last rotated, and rotation behind a confirmation. The secret
 * itself is never shown: only the machine's tokened iPXE script carries it.
 */
export function ChapCard({ machine: m, onChanged }: { machine: MachineDetail; onChanged(): Promise<unknown> }) {
  const canManage = useCan('netboot.manage');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [rotating, setRotating] = useState(false);
  const byId = { params: { path: { id: m.id } } };
  const running = !!m.session && ['starting', 'ready', 'stopping'].includes(m.session.state);
  return (
    <Card withBorder mb="md" data-testid="chap-card">
      <Title order={5} mb="xs">iSCSI CHAP</Title>
      <Stack gap="sm">
        <Text size="sm">
          With CHAP the target also asks for a secret at login, so a machine on the LAN that copies this one's initiator name is still refused.
          The panel makes the secret and gives it only to this machine, inside its tokened boot script.
        </Text>
        <Switch
          label="Require CHAP on this machine's target"
          checked={m.chap.enabled}
          disabled={!canManage || busy}
          error={error}
          description={running ? 'Applies from the next session (stop the session to change it)' : undefined}
          onChange={(e) => {
            const on = e.currentTarget.checked;
            setBusy(true);
            setError(null);
            void call(api.PATCH('/api/v1/netboot/machines/{id}', { ...byId, body: { chap: on } }))
              .then(() => onChanged())
              .then(() => notifySuccess(on ? 'CHAP turned on' : 'CHAP turned off'))
              .catch((err: unknown) => setError(fieldErrors(err).chap ?? errorText(err)))
              .finally(() => setBusy(false));
          }}
        />
        {m.chap.enabled && (
          <>
            <Text size="sm">User: <Code data-testid="chap-user">{m.chap.user}</Code></Text>
            <Text size="sm">Secret: <Text span c="dimmed">never shown · last rotated {formatRelative(m.chap.rotatedAt)}</Text></Text>
            {canManage && <Group><Button size="xs" variant="light" onClick={() => setRotating(true)}>Rotate CHAP secret…</Button></Group>}
          </>
        )}
        {!m.chap.enabled && !m.fixedIp && <Alert color="yellow" p="xs"><Text size="xs">Without CHAP or a fixed address, the target trusts the initiator name alone.</Text></Alert>}
      </Stack>
      <ConfirmDialog
        opened={rotating}
        onClose={() => setRotating(false)}
        title={`Rotate the CHAP secret of ${m.name}?`}
        message={running
          ? 'The running target gets the new secret at once: the machine stays connected, but its next login (reboot, reconnect) needs the new script. Its current script URL stays the same.'
          : 'The next session uses the new secret. The old one stops working.'}
        confirmLabel="Rotate CHAP secret"
        onConfirm={async () => {
          await call(api.POST('/api/v1/netboot/machines/{id}/chap/rotate', byId));
          notifySuccess('CHAP secret rotated');
          await onChanged();
        }}
      />
    </Card>
  );
}
