import { Alert, Group, Select, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { EmptyState, LogViewer, PageHeader, api, authedFetch, call, notifyError, useCurrentHost, useLiveLog } from '@slipway/web';
import type { LogSource } from './api';
import { ServerNav } from './ServerNav';

/** Live view of one allow-listed log source: last lines, then follow; filter by text and level. */
export default function LogsPage() {
  const host = useCurrentHost();
  const sources = useQuery({ queryKey: ['server-logs', host], queryFn: async () => (await call(api.GET('/api/v1/server/logs', { params: { query: { host } } }))).items });
  const available = useMemo(() => (sources.data ?? []).filter((s) => s.available), [sources.data]);
  // Deep links (e.g. from the services table) name the source: /server/logs?source=journal-nginx
  const [source, setSource] = useState<string | null>(() => (typeof window === 'undefined' ? null : new URLSearchParams(window.location.search).get('source')));
  const [level, setLevel] = useState<string | null>(null);
  const [text, setText] = useState('');
  const [q] = useDebouncedValue(text, 400);
  const chosen = source && available.some((s) => s.id === source) ? source : (available[0]?.id ?? null);

  const query = useMemo(() => {
    const p = new URLSearchParams({ host, lines: '500' });
    if (q) p.set('q', q);
    if (level) p.set('level', level);
    return p.toString();
  }, [host, q, level]);

  // One live-log follow per source and filter; a reconnect resumes after the last line (no re-appended tail).
  const live = useLiveLog(chosen ? `/api/v1/server/logs/${encodeURIComponent(chosen)}/stream?${query}` : null, { maxLines: 50_000 });
  const notice = live.end && live.end.reason !== 'finished' ? (live.end.message ?? `The log ended (${live.end.reason})`) : null;

  const download = async () => {
    try {
      const res = await authedFetch(`/api/v1/server/logs/${encodeURIComponent(chosen!)}/download?${query.replace('lines=500', 'lines=100000')}`);
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = `${chosen}.log`;
      a.click();
      URL.revokeObjectURL(url);
    } catch (e) {
      notifyError(e);
    }
  };

  return (
    <>
      <PageHeader title="Logs" description="Allow-listed log files and service journals of this host, live." />
      <ServerNav active="/server/logs" />
      <Group mb="sm" align="flex-end">
        <Select
          label="Source"
          data={available.map((s) => ({ value: s.id, label: s.path ? `${s.title} (${s.path})` : s.command ? `${s.title} (${s.command})` : s.title }))}
          value={chosen}
          onChange={setSource}
          allowDeselect={false}
          w={360}
          searchable
        />
        <Select label="Level" data={[{ value: 'error', label: 'errors' }, { value: 'warn', label: 'warnings and up' }, { value: 'info', label: 'info and up' }]} value={level} onChange={setLevel} clearable placeholder="all" w={180} />
        <TextInput label="Server-side filter" placeholder="text to match" value={text} onChange={(e) => setText(e.currentTarget.value)} w={240} />
      </Group>
      {notice && <Alert color="red" mb="sm">{notice}</Alert>}
      {sources.data && !available.length ? (
        <EmptyState title="No log sources here" description="None of the configured log files exists on this host and no journal is available." />
      ) : (
        chosen && <LogViewer buffer={live.buffer} fileName={`${chosen}.log`} status={live.label} height="65vh" onDownload={() => void download()} />
      )}
    </>
  );
}
