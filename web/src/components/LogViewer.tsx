import { ActionIcon, Badge, Box, Button, Group, Paper, Text, TextInput, Tooltip } from '@mantine/core';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useLayoutEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { icons } from './icons';
import type { LogBuffer, LogLine } from './log-buffer';

const ROW_HEIGHT = 20;
const ROW_STYLE = { height: ROW_HEIGHT, lineHeight: `${ROW_HEIGHT}px`, whiteSpace: 'pre', paddingInline: 8 } as const;
const LOG_CSS = '.slw-log-err{color:var(--mantine-color-red-4)}.slw-log-warn{color:var(--mantine-color-yellow-4)}';

export interface LogViewerProps {
  buffer: LogBuffer;
  /** File name for the download button. */
  fileName?: string;
  height?: number | string;
  /** Shown in the toolbar, e.g. "live" / "ended". */
  status?: string;
  /** Downloads the complete log from the server instead of the in-memory buffer. */
  onDownload?(): void;
  /** What an empty log says (default "Waiting for output…"), e.g. that its file does not exist yet. */
  emptyText?: string;
}

/**
 * A virtualized log view: follows the tail, pauses (button, or by scrolling up), filters by search
 * text, downloads. Only visible rows are in the DOM, so 100,000 lines stay smooth.
 */
export function LogViewer({ buffer, fileName = 'log.txt', height = 420, status, onDownload, emptyText }: LogViewerProps) {
  const version = useSyncExternalStore(buffer.subscribe, buffer.getVersion, buffer.getVersion);
  const [following, setFollowing] = useState(true);
  const [query, setQuery] = useState('');
  const scrollRef = useRef<HTMLDivElement>(null);
  const programmaticScroll = useRef(false);

  // Indexes of matching lines; null means "all lines".
  const matches = useMemo(() => {
    const q = query.trim().toLowerCase();
    if (!q) return null;
    const out: number[] = [];
    const lines = buffer.all();
    for (let i = 0; i < lines.length; i++) if (lines[i]!.line.toLowerCase().includes(q)) out.push(i);
    return out;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [query, version, buffer]);
  const count = matches ? matches.length : buffer.length;
  const lineAt = (i: number): LogLine | undefined => buffer.at(matches ? matches[i]! : i);

  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 15,
    initialRect: { width: 800, height: typeof height === 'number' ? height : 420 },
  });

  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (!following || count === 0 || !el) return;
    // Jump straight to the bottom (the browser clamps); no smooth scrolling while lines pour in.
    programmaticScroll.current = true;
    el.scrollTop = virtualizer.getTotalSize();
  }, [following, count, version, virtualizer]);

  const items = virtualizer.getVirtualItems();

  const onScroll = () => {
    const el = scrollRef.current;
    if (!el) return;
    if (programmaticScroll.current) {
      programmaticScroll.current = false;
      return;
    }
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < ROW_HEIGHT * 2;
    if (!atBottom && following) setFollowing(false);
    else if (atBottom && !following && !matches) setFollowing(true);
  };

  // The toolbar's Mantine controls re-render only when their own state changes, not on every batch of lines.
  const controls = useMemo(
    () => (
      <>
        <Button
          size="xs"
          variant={following ? 'light' : 'filled'}
          leftSection={following ? <icons.pause size={14} /> : <icons.play size={14} />}
          onClick={() => setFollowing((f) => !f)}
          aria-pressed={following}
        >
          {following ? 'Pause' : 'Follow'}
        </Button>
        <TextInput
          size="xs"
          placeholder="Search log"
          aria-label="Search log"
          leftSection={<icons.search size={14} />}
          value={query}
          onChange={(e) => setQuery(e.currentTarget.value)}
          w={200}
        />
      </>
    ),
    [following, query],
  );
  const downloadButton = useMemo(() => {
    const download = () => {
      if (onDownload) return onDownload();
      const blob = new Blob([buffer.toText()], { type: 'text/plain' });
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = fileName;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    };
    return (
      <Tooltip label="Download log">
        <ActionIcon variant="default" onClick={download} aria-label="Download log"><icons.download size={16} /></ActionIcon>
      </Tooltip>
    );
  }, [buffer, fileName, onDownload]);

  return (
    <Paper withBorder>
      <style>{LOG_CSS}</style>
      <Group justify="space-between" p="xs" gap="xs" wrap="wrap">
        <Group gap="xs">
          {controls}
          {matches ? <Text size="xs" c="dimmed" data-testid="log-matches">{matches.length} matching</Text> : null}
        </Group>
        <Group gap="xs">
          {status ? <Badge variant="dot" size="sm">{status}</Badge> : null}
          <Text size="xs" c="dimmed" data-testid="log-count">
            {buffer.length.toLocaleString('en-US')} lines{buffer.dropped ? ` (${buffer.dropped.toLocaleString('en-US')} older dropped)` : ''}
          </Text>
          {downloadButton}
        </Group>
      </Group>
      <Box
        ref={scrollRef}
        onScroll={onScroll}
        role="log"
        aria-live="off"
        aria-label="Log output"
        tabIndex={0}
        style={{ height, overflow: 'auto', fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace', fontSize: 12.5, background: 'var(--mantine-color-dark-8)', color: 'var(--mantine-color-gray-3)', contain: 'strict' }}
      >
        {count === 0 ? (
          <Text size="sm" c="gray.4" p="sm" data-testid="log-empty">{query ? 'No line matches.' : (emptyText ?? 'Waiting for output…')}</Text>
        ) : (
          <div style={{ height: virtualizer.getTotalSize(), position: 'relative', minWidth: '100%' }}>
            {/* One translated block of rows (one style change per frame), rows keyed by position so the same DOM nodes are reused as the window moves. */}
            <div style={{ position: 'absolute', top: 0, left: 0, minWidth: '100%', transform: `translateY(${items[0]?.start ?? 0}px)` }}>
              {items.map((row, slot) => {
                const l = lineAt(row.index);
                return (
                  <div key={slot} data-log-line className={l && (l.stream === 'stderr' || l.stream === 'error') ? 'slw-log-err' : l?.stream === 'warn' ? 'slw-log-warn' : undefined} style={ROW_STYLE}>
                    {l?.line ?? ''}
                  </div>
                );
              })}
            </div>
          </div>
        )}
      </Box>
      {!following && !matches && count > 0 ? (
        <Group justify="flex-end" p={4}>
          <Button size="compact-xs" variant="subtle" leftSection={<icons.arrowDown size={12} />} onClick={() => setFollowing(true)}>Jump to end</Button>
        </Group>
      ) : null}
    </Paper>
  );
}
