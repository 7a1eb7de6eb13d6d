import { Alert, Button, Group, Select, Stack, Text } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError, api, call, errorText, notifySuccess, useCan } from '@slipway/web';
import { appKey, appParams, fieldErrors, type App } from './api';

/**
 * An app found on a Dokku host that nobody owns (not created in Slipway): staff give it to a user,
 * who then sees and manages it. Users never see ownerless apps, so only staff meet this panel.
 */
export function OwnerPanel({ app: a }: { app: App }) {
  const canAssign = useCan('apps.assign');
  const qc = useQueryClient();
  const [ownerId, setOwnerId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const owners = useQuery({ enabled: canAssign && a.ownerId === null, queryKey: ['apps', 'owner-choices'], queryFn: () => call(api.GET('/api/v1/apps/-/owners')).then((r) => r.items), staleTime: 60_000 });
  if (a.ownerId !== null) return null;

  const assign = async () => {
    setError(null);
    setProblem(null);
    if (!ownerId) {
      setError('Pick the user who will own this app');
      return;
    }
    setBusy(true);
    try {
      await call(api.PUT('/api/v1/apps/{name}/owner', { params: appParams(a.name, a.host), body: { ownerId } }));
      const who = owners.data?.find((u) => u.id === ownerId)?.username ?? 'the user';
      notifySuccess(`${a.name} now belongs to ${who}`);
      await qc.invalidateQueries({ queryKey: appKey(a.host, a.name) });
      await qc.invalidateQueries({ queryKey: ['apps', 'list'] });
    } catch (e) {
      const f = fieldErrors(e);
      if (f.ownerId) setError(f.ownerId);
      else if (e instanceof ApiError && e.code === 'already_owned') setProblem(`${e.message}: reload the page to see who.`);
      else setProblem(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Alert color="yellow" title="No owner" mb="md" data-testid="ownerless">
      <Stack gap="xs">
        <Text size="sm">
          This app was found on {a.host}: it was not created in Slipway, so no user owns it and only staff see it.
          {canAssign ? ' Give it to a user to let them manage it.' : ' An operator or administrator can give it to a user.'}
        </Text>
        {problem && <Text size="sm" c="red">{problem}</Text>}
        {canAssign && (
          <Group align="flex-start" gap="xs">
            <Select
              label="Owner"
              aria-label="Owner"
              placeholder={owners.isLoading ? 'Loading users…' : 'Pick a user'}
              searchable
              data={(owners.data ?? []).map((u) => ({ value: u.id, label: `${u.username} (${u.role})` }))}
              value={ownerId}
              onChange={(v) => {
                setOwnerId(v);
                setError(null);
              }}
              error={error}
              w={280}
              nothingFoundMessage="No active user of that name"
            />
            <Button mt={25} onClick={() => void assign()} loading={busy}>Assign owner</Button>
          </Group>
        )}
      </Stack>
    </Alert>
  );
}
