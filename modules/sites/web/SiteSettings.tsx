import { Alert, Button, Card, Group, List, Select, Stack, Switch, Text, Title } from '@mantine/core';
import { useEffect, useState } from 'react';
import { LatestJob, api, call, errorText, useRunJob, type ApiBody, type ApiData } from '@slipway/web';
import { CACHE_TYPES, PHP_VERSIONS, WP_TYPES, cacheLabel } from './api';

type Site = ApiData<'/api/v1/sites/{domain}', 'get'>['site'];
type Change = Omit<ApiBody<'/api/v1/sites/{domain}', 'put'>, 'host'>;
interface Draft { php: string | null; cache: string; ssl: boolean; hsts: boolean; enabled: boolean }

const draftOf = (s: Site): Draft => ({ php: s.php, cache: s.cache ?? 'basic', ssl: s.ssl.enabled, hsts: !!s.hsts, enabled: s.enabled });
const onOff = (v: boolean) => (v ? 'on' : 'off');

/** What Apply will change, in words (never the API's field names). */
export function describeChanges(s: Site, d: Draft): { body: Change; lines: string[] } {
  const before = draftOf(s);
  const body: Change = {};
  const lines: string[] = [];
  if (d.php !== before.php && d.php) { body.php = d.php as Change['php']; lines.push(`PHP ${before.php ?? '—'} → ${d.php}`); }
  if (d.cache !== before.cache) { body.cache = d.cache as Change['cache']; lines.push(`Page cache: ${cacheLabel(before.cache)} → ${cacheLabel(d.cache)}`); }
  if (d.ssl !== before.ssl) { body.ssl = d.ssl; lines.push(d.ssl ? 'Issue a Let\'s Encrypt certificate and turn SSL on' : 'Turn SSL off (the certificate stays until it expires)'); }
  const hsts = d.ssl && d.hsts;
  if (hsts !== before.hsts && (d.ssl || before.hsts)) { body.hsts = hsts; lines.push(`HSTS ${onOff(before.hsts)} → ${onOff(hsts)}`); }
  if (d.enabled !== before.enabled) { body.enabled = d.enabled; lines.push(d.enabled ? 'Enable the site (nginx serves it again)' : 'Disable the site (visitors get no answer from it)'); }
  return { body, lines };
}

/**
 * The site's settings as a form: nothing runs while the operator picks values; Apply shows what
 * will change and starts one job; the job's progress, and its error if it fails, show right here.
 */
export function SiteSettings({ site: s, busy, resource }: { site: Site; busy: boolean; resource: string }) {
  const runJob = useRunJob();
  const [draft, setDraft] = useState<Draft>(() => draftOf(s));
  const [error, setError] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);
  // A new inventory (after a job) resets the form to what the site now is.
  useEffect(() => setDraft(draftOf(s)), [s.php, s.cache, s.ssl.enabled, s.hsts, s.enabled]);
  const wp = WP_TYPES.includes(s.type);
  const { body, lines } = describeChanges(s, draft);
  const set = <K extends keyof Draft>(k: K) => (v: Draft[K]) => { setDraft((d) => ({ ...d, [k]: v })); setError(null); };

  const apply = async () => {
    setStarting(true);
    setError(null);
    try {
      await runJob(async () => {
        try {
          return await call(api.PUT('/api/v1/sites/{domain}', { params: { path: { domain: s.domain } }, body: { host: s.host, ...body } }));
        } catch (e) {
          setError(errorText(e));
          throw e;
        }
      }, { open: false, fields: true });
    } finally {
      setStarting(false);
    }
  };

  return (
    <Card withBorder>
      <Title order={2} size="h5" mb="xs">Settings</Title>
      <Stack gap="sm">
        {s.type !== 'html' && s.type !== 'proxy' && (
          <Select label="PHP version" data={PHP_VERSIONS.map((v) => ({ value: v, label: `PHP ${v}` }))} value={draft.php} disabled={busy} onChange={(v) => v && set('php')(v)} allowDeselect={false} />
        )}
        {wp && (
          <Select label="Page cache" data={CACHE_TYPES.map((c) => ({ value: c.value, label: c.label }))} value={draft.cache} disabled={busy} onChange={(v) => v && set('cache')(v)} allowDeselect={false} />
        )}
        <Group>
          <Switch label="Let's Encrypt SSL" checked={draft.ssl} disabled={busy} onChange={(e) => set('ssl')(e.currentTarget.checked)} />
          <Switch label="HSTS" checked={draft.ssl && draft.hsts} disabled={busy || !draft.ssl} onChange={(e) => set('hsts')(e.currentTarget.checked)} />
          <Switch label="Enabled" checked={draft.enabled} disabled={busy} onChange={(e) => set('enabled')(e.currentTarget.checked)} />
        </Group>
        {lines.length > 0 && (
          <Alert color="blue" title="Apply will change" data-testid="settings-summary">
            <List size="sm">{lines.map((l) => <List.Item key={l}>{l}</List.Item>)}</List>
          </Alert>
        )}
        {error && <Alert color="red" title="The change was not started" data-testid="settings-error">{error}</Alert>}
        <Group gap="xs">
          <Button onClick={() => void apply()} disabled={busy || !lines.length} loading={starting}>{lines.length ? `Apply ${lines.length} change${lines.length === 1 ? '' : 's'}` : 'Apply'}</Button>
          {lines.length > 0 && <Button variant="default" onClick={() => { setDraft(draftOf(s)); setError(null); }}>Discard</Button>}
          {s.ssl.enabled && (
            <Button variant="default" disabled={busy} onClick={() => void runJob(() => call(api.PUT('/api/v1/sites/{domain}', { params: { path: { domain: s.domain } }, body: { host: s.host, renewCertificate: true } })), { open: false })}>Renew certificate</Button>
          )}
        </Group>
        <LatestJob resource={resource} />
        {!lines.length && <Text size="xs" c="dimmed">Pick new values, then Apply: nothing changes before that.</Text>}
      </Stack>
    </Card>
  );
}
