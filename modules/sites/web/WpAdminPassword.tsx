import { Alert, Button, Code, CopyButton, Group, Modal, Stack, Text, TextInput } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, notifyError, useLiveInvalidate, useRunJob } from '@slipway/web';

/**
 * The WordPress admin password (issue 18): when one waits for the viewer (they created the site or
 * reset the password) it is shown once, on request; a reset sets a new one with
 * `wo site update --password` and shows it here when the job is done.
 */
export function WpAdminPassword({ domain, host, canReset, busy }: { domain: string; host: string; canReset: boolean; busy: boolean }) {
  const qc = useQueryClient();
  const runJob = useRunJob();
  const key = ['site-admin-password', domain, host];
  useLiveInvalidate(['job.updated'], [key]);
  const status = useQuery({
    queryKey: key,
    queryFn: () => call(api.GET('/api/v1/sites/{domain}/admin-password', { params: { path: { domain }, query: { host } } })),
  });
  const [shown, setShown] = useState<{ wpUser: string; password: string } | null>(null);
  const [resetting, setResetting] = useState(false);
  const [wpUser, setWpUser] = useState('admin');
  const [userError, setUserError] = useState<string | null>(null);

  const reveal = async () => {
    try {
      setShown(await call(api.POST('/api/v1/sites/{domain}/admin-password/reveal', { params: { path: { domain }, query: { host } } })));
    } catch (e) {
      notifyError(e, 'Could not show the password');
    } finally {
      await qc.invalidateQueries({ queryKey: key });
    }
  };

  const reset = async () => {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,59}$/.test(wpUser)) {
      setUserError('Letters, digits, _ . @ - (not starting with a symbol)');
      return;
    }
    const job = await runJob(() => call(api.POST('/api/v1/sites/{domain}/admin-password', { params: { path: { domain } }, body: { host, wpUser } })), { open: false });
    if (job) setResetting(false);
  };

  return (
    <>
      {shown ? (
        <Alert color="green" title={`WordPress password of ${shown.wpUser}`} mb="md" data-testid="wp-password-shown">
          <Stack gap="xs">
            <Group gap="xs">
              <Code fz="md" data-testid="wp-password">{shown.password}</Code>
              <CopyButton value={shown.password}>{({ copied, copy }) => <Button size="xs" variant="default" onClick={copy}>{copied ? 'Copied' : 'Copy'}</Button>}</CopyButton>
            </Group>
            <Text size="sm">Save it now: the panel keeps no readable copy and will not show it again. Sign in at <Code>https://{domain}/wp-admin</Code>.</Text>
            <Button size="xs" variant="subtle" w="fit-content" onClick={() => setShown(null)}>I have saved it</Button>
          </Stack>
        </Alert>
      ) : status.data?.waiting ? (
        <Alert color="blue" title="The WordPress admin password is ready" mb="md" data-testid="wp-password-waiting">
          <Group justify="space-between">
            <Text size="sm">The password of <b>{status.data.wpUser}</b> can be shown once, to you only.</Text>
            <Button size="xs" onClick={() => void reveal()}>Show password</Button>
          </Group>
        </Alert>
      ) : null}
      {canReset && (
        <Button size="xs" variant="default" w="fit-content" disabled={busy} onClick={() => setResetting(true)}>Reset WordPress password</Button>
      )}
      <Modal opened={resetting} onClose={() => setResetting(false)} title="Reset the WordPress password">
        <Stack>
          <Text size="sm">WordOps sets a new generated password for this WordPress user. It is shown to you once when the job is done.</Text>
          <TextInput label="WordPress user" value={wpUser} error={userError} onChange={(e) => { setWpUser(e.currentTarget.value); setUserError(null); }} />
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setResetting(false)}>Cancel</Button>
            <Button onClick={() => void reset()}>Reset password</Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}
