import { Alert, Button, Card, Group, NumberInput, SegmentedControl, Stack, Text, TextInput, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { DataTable, api, call, errorText, icons, notifyError, useCan, type ApiBody } from '@slipway/web';
import { appKey, appParams, fieldErrors, type App, type Checks, type ShowJob } from './api';

const SCALE_MAX = 50;
const PROCESS_RE = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/;

type CheckState = 'enabled' | 'skipped' | 'disabled';
const checkState = (c: Checks, t: string): CheckState =>
  c.disabled.includes(t) || c.disabled.includes('_all_') ? 'disabled' : c.skipped.includes(t) || c.skipped.includes('_all_') ? 'skipped' : 'enabled';
const ACTION: Record<CheckState, 'enable' | 'skip' | 'disable'> = { enabled: 'enable', skipped: 'skip', disabled: 'disable' };

/** Zero-downtime checks per process type (enabled / skipped / disabled) and wait-to-retire. */
export function ChecksTab({ app: a }: { app: App }) {
  const key = appKey(a.host, a.name);
  const qc = useQueryClient();
  const canConfigure = useCan('apps.configure');
  const checks = useQuery({ queryKey: [...key, 'checks'], queryFn: () => call(api.GET('/api/v1/apps/{name}/checks', { params: appParams(a.name, a.host) })) });
  const [wait, setWait] = useState<number | ''>('');
  const [busy, setBusy] = useState<string | null>(null);
  useEffect(() => setWait(checks.data?.waitToRetire ?? ''), [checks.data?.waitToRetire]);
  const types = [...new Set([...Object.keys(a.scale), ...(checks.data ? [...checks.data.disabled, ...checks.data.skipped].filter((t) => t !== '_all_') : [])])];
  if (!types.length) types.push('web');

  const change = async (what: string, body: ApiBody<'/api/v1/apps/{name}/checks', 'patch'>) => {
    setBusy(what);
    try {
      qc.setQueryData([...key, 'checks'], await call(api.PATCH('/api/v1/apps/{name}/checks', { params: appParams(a.name, a.host), body })));
    } catch (e) {
      notifyError(e);
    } finally {
      setBusy(null);
    }
  };
  const c = checks.data;
  return (
    <Stack>
      <Text size="sm" c="dimmed">Before Dokku switches traffic to a new release it checks the new containers; a deploy whose checks fail is marked failed and the previous release stays live.</Text>
      <DataTable
        rows={c ? types.map((t) => ({ t })) : undefined}
        loading={checks.isLoading}
        error={checks.error}
        rowKey={(r) => r.t}
        columns={[
          { key: 't', header: 'Process type', render: (r) => <Text ff="monospace" size="sm">{r.t}</Text> },
          {
            key: 's', header: 'Checks', render: (r) => (
              <SegmentedControl
                size="xs"
                aria-label={`Checks for ${r.t}`}
                disabled={!canConfigure || busy !== null}
                value={checkState(c!, r.t)}
                onChange={(v) => void change(r.t, { [ACTION[v as CheckState]]: [r.t] })}
                data={[{ value: 'enabled', label: 'Enabled' }, { value: 'skipped', label: 'Skipped' }, { value: 'disabled', label: 'Disabled' }]}
              />
            ),
          },
        ]}
      />
      <Text size="xs" c="dimmed">Skipped: the default checks are not run, but the container must start. Disabled: old containers stop before new ones start (downtime).</Text>
      <Card withBorder maw={560}>
        <Title order={5} mb="xs">Wait to retire</Title>
        <Group align="flex-end">
          <NumberInput label="Seconds the old containers keep running after a deploy" description={c?.computedWaitToRetire !== null && c?.computedWaitToRetire !== undefined ? `Effective now: ${c.computedWaitToRetire} s${c.waitToRetire === null ? ' (default)' : ''}` : undefined}
            min={0} max={3600} value={wait} onChange={(v) => setWait(v === '' ? '' : Number(v))} disabled={!canConfigure} w={320} placeholder="default" />
          {canConfigure && <Button variant="default" loading={busy === 'wait'} onClick={() => void change('wait', { waitToRetire: wait === '' ? null : wait })} disabled={(wait === '' ? null : wait) === (c?.waitToRetire ?? null)}>Save</Button>}
        </Group>
      </Card>
    </Stack>
  );
}

/** Process counts per type (`ps:scale`, as a job). */
export function ScaleTab({ app: a, showJob }: { app: App; showJob: ShowJob }) {
  const key = appKey(a.host, a.name);
  const canDeploy = useCan('apps.deploy');
  const scale = useQuery({ queryKey: [...key, 'scale'], queryFn: () => call(api.GET('/api/v1/apps/{name}/scale', { params: appParams(a.name, a.host) })).then((r) => r.processes) });
  const [counts, setCounts] = useState<Record<string, number>>({});
  const [newType, setNewType] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => setCounts(scale.data ?? {}), [scale.data]);
  const changed = Object.entries(counts).filter(([p, n]) => (scale.data ?? {})[p] !== n);
  const badType = newType && !PROCESS_RE.test(newType) ? 'Letters, digits, _ and - (at most 63)' : null;

  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      const { job } = await call(api.PUT('/api/v1/apps/{name}/scale', { params: appParams(a.name, a.host), body: { processes: Object.fromEntries(changed) } }));
      showJob(job, `Scale ${a.name}`);
    } catch (e) {
      setError(Object.values(fieldErrors(e))[0] ?? errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack maw={640}>
      <Text size="sm" c="dimmed">Process types come from the app's Procfile (or the image's command for <code>web</code>). 0 stops a type.</Text>
      {error && <Alert color="red">{error}</Alert>}
      <DataTable
        rows={scale.data ? Object.keys(counts).sort().map((p) => ({ p })) : undefined}
        loading={scale.isLoading}
        error={scale.error}
        rowKey={(r) => r.p}
        empty={<Text p="md" size="sm" c="dimmed">No process types yet: they appear after the first deploy.</Text>}
        columns={[
          { key: 'p', header: 'Process type', render: (r) => <Text ff="monospace" size="sm">{r.p}</Text> },
          {
            key: 'n', header: 'Count', render: (r) => (
              <NumberInput aria-label={`Count of ${r.p}`} min={0} max={SCALE_MAX} clampBehavior="strict" allowDecimal={false} w={120} size="xs" disabled={!canDeploy}
                value={counts[r.p] ?? 0} onChange={(v) => setCounts({ ...counts, [r.p]: Number(v) || 0 })} />
            ),
          },
        ]}
      />
      {canDeploy && (
        <Group justify="space-between" align="flex-start">
          <Group align="flex-start" gap="xs">
            <TextInput aria-label="Process type" placeholder="worker" size="xs" value={newType} onChange={(e) => setNewType(e.currentTarget.value)} error={badType} w={160} ff="monospace" />
            <Button size="xs" variant="default" leftSection={<icons.plus size={14} />} disabled={!newType || !!badType || newType in counts}
              onClick={() => { setCounts({ ...counts, [newType]: 1 }); setNewType(''); }}>Add type</Button>
          </Group>
          <Button loading={busy} disabled={!changed.length} onClick={() => void save()}>Apply scale</Button>
        </Group>
      )}
    </Stack>
  );
}
