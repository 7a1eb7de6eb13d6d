import { Alert, Button, Group, Pagination, Paper, Skeleton, Table, Text } from '@mantine/core';
import type { ReactNode } from 'react';

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

/** Table with loading skeleton, error, empty state and pagination; scrolls sideways on small screens. */
export function DataTable<T>({ columns, rows, rowKey, loading, error, empty, onRowClick, pagination, cursor, caption }: DataTableProps<T>) {
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
  return (
    <Paper withBorder>
      <Table.ScrollContainer minWidth={560}>
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
      </Table.ScrollContainer>
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
