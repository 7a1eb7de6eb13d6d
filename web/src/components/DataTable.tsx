import { Alert, Box, Button, Group, Pagination, Paper, Skeleton, Stack, Table, Text } from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import type { ReactNode } from 'react';

/** Below Mantine's `sm` breakpoint (where `hideOnMobile` columns go): rows reflow to cards. */
export const PHONE_QUERY = '(max-width: 47.99em)';

export interface Column<T> {
  key: string;
  header: ReactNode;
  render(row: T): ReactNode;
  /** Hide this column on phone-width screens. */
  hideOnMobile?: boolean;
  width?: number | string;
}

export interface DataTableProps<T> {
  columns: Column<T>[];
  rows: T[] | undefined;
  rowKey(row: T): string;
  loading?: boolean;
  error?: unknown;
  /** Shown when rows is an empty array (use <EmptyState/>). */
  empty?: ReactNode;
  onRowClick?(row: T): void;
  /** Page-number pagination (offset APIs). */
  pagination?: { page: number; totalPages: number; onChange(page: number): void };
  /** Cursor pagination (APIs answering `nextBefore`). */
  cursor?: { hasPrevious: boolean; hasNext: boolean; onPrevious(): void; onNext(): void };
  caption?: string;
}

/**
 * One row as a card at phone width: the first column is its title, a column without a header (the
 * row's actions, a ⋯ menu) sits beside it, every other column is a labelled line, so nothing is
 * off-screen.
 */
function RowCard<T>({ row, columns, onRowClick }: { row: T; columns: Column<T>[]; onRowClick?(row: T): void }) {
  const shown = columns.filter((c) => !c.hideOnMobile);
  const isAction = (c: Column<T>) => c.header === '' || c.header === null || c.header === undefined;
  const [title, ...others] = shown.filter((c) => !isAction(c));
  const actions = shown.filter(isAction);
  return (
    <Paper
      withBorder
      p="sm"
      role="listitem"
      data-testid="data-card"
      onClick={onRowClick ? () => onRowClick(row) : undefined}
      onKeyDown={onRowClick ? (e) => (e.key === 'Enter' && e.target === e.currentTarget ? onRowClick(row) : undefined) : undefined}
      tabIndex={onRowClick ? 0 : undefined}
      style={onRowClick ? { cursor: 'pointer' } : undefined}
    >
      <Group justify="space-between" align="flex-start" wrap="nowrap" gap="xs">
        <Box style={{ minWidth: 0, overflowWrap: 'anywhere' }}>{title ? title.render(row) : null}</Box>
        {actions.length ? <Group gap={4} wrap="wrap" justify="flex-end" onClick={(e) => e.stopPropagation()}>{actions.map((c) => <Box key={c.key}>{c.render(row)}</Box>)}</Group> : null}
      </Group>
      {others.length ? (
        <Box component="dl" m={0} mt={6} style={{ display: 'grid', gridTemplateColumns: 'minmax(80px, max-content) 1fr', columnGap: 12, rowGap: 4, alignItems: 'center' }}>
          {others.map((c) => (
            <div key={c.key} style={{ display: 'contents' }}>
              <Text component="dt" size="xs" c="dimmed">{c.header}</Text>
              <Box component="dd" m={0} style={{ minWidth: 0, overflowWrap: 'anywhere', fontSize: 'var(--mantine-font-size-sm)' }}>{c.render(row)}</Box>
            </div>
          ))}
        </Box>
      ) : null}
    </Paper>
  );
}

/** Table with loading skeleton, error, empty state and pagination; at phone width each row is a card. */
export function DataTable<T>({ columns, rows, rowKey, loading, error, empty, onRowClick, pagination, cursor, caption }: DataTableProps<T>) {
  const phone = useMediaQuery(PHONE_QUERY) ?? false;
  if (error) {
    return <Alert color="red" title="Could not load">{error instanceof Error ? error.message : String(error)}</Alert>;
  }
  if (loading && !rows) {
    return (
      <Paper withBorder p="md" aria-busy="true" aria-label="Loading">
        {[0, 1, 2, 3].map((i) => <Skeleton key={i} height={22} mb={10} />)}
      </Paper>
    );
  }
  if (rows && rows.length === 0 && empty) return <Paper withBorder>{empty}</Paper>;
  const cards = phone ? (
    <Stack gap="xs" p="xs" role="list" aria-label={caption ?? 'Rows'} data-testid="data-cards">
      {(rows ?? []).map((row) => <RowCard key={rowKey(row)} row={row} columns={columns} onRowClick={onRowClick} />)}
    </Stack>
  ) : null;
  return (
    <Paper withBorder>
      {cards ?? <Table.ScrollContainer minWidth={560}>
        <Table highlightOnHover={!!onRowClick} verticalSpacing="xs" striped>
          {caption ? <Table.Caption>{caption}</Table.Caption> : null}
          <Table.Thead>
            <Table.Tr>
              {columns.map((c) => (
                <Table.Th key={c.key} w={c.width} visibleFrom={c.hideOnMobile ? 'sm' : undefined}>{c.header}</Table.Th>
              ))}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(rows ?? []).map((row) => (
              <Table.Tr
                key={rowKey(row)}
                onClick={onRowClick ? () => onRowClick(row) : undefined}
                onKeyDown={onRowClick ? (e) => (e.key === 'Enter' ? onRowClick(row) : undefined) : undefined}
                tabIndex={onRowClick ? 0 : undefined}
                style={onRowClick ? { cursor: 'pointer' } : undefined}
              >
                {columns.map((c) => (
                  <Table.Td key={c.key} visibleFrom={c.hideOnMobile ? 'sm' : undefined}>{c.render(row)}</Table.Td>
                ))}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>}
      {pagination && pagination.totalPages > 1 ? (
        <Group justify="center" p="sm">
          <Pagination total={pagination.totalPages} value={pagination.page} onChange={pagination.onChange} size="sm" getControlProps={(c) => ({ 'aria-label': `${c} page` })} />
        </Group>
      ) : null}
      {cursor && (cursor.hasNext || cursor.hasPrevious) ? (
        <Group justify="space-between" p="sm">
          <Button variant="default" size="xs" disabled={!cursor.hasPrevious} onClick={cursor.onPrevious}>Newer</Button>
          <Text size="xs" c="dimmed">{loading ? 'Loading…' : ''}</Text>
          <Button variant="default" size="xs" disabled={!cursor.hasNext} onClick={cursor.onNext}>Older</Button>
        </Group>
      ) : null}
    </Paper>
  );
}

/**
 * A plain table that may be wider than a phone: a labelled, focusable region that scrolls sideways,
 * and at phone width says so ("Scroll sideways for more columns") with a marked right edge.
 */
export function ScrollTable({ label, minWidth = 520, children }: { label: string; minWidth?: number; children: ReactNode }) {
  const phone = useMediaQuery(PHONE_QUERY) ?? false;
  return (
    <Box>
      {phone ? <Text size="xs" c="dimmed" mb={4} aria-hidden="true">Scroll sideways for more columns →</Text> : null}
      <Box
        role="region"
        aria-label={`${label} (scrolls sideways)`}
        tabIndex={0}
        data-testid="table-scroll"
        style={{ overflowX: 'auto', borderInlineEnd: phone ? '3px solid var(--mantine-color-default-border)' : undefined }}
      >
        <Box miw={minWidth}>{children}</Box>
      </Box>
    </Box>
  );
}
