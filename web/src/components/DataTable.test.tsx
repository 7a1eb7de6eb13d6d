import { fireEvent, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { renderWithMantine } from '../testing/render';
import { DataTable, PHONE_QUERY, type Column } from './DataTable';

interface Row { id: string; name: string; status: string; twoFa: string }
const rows: Row[] = [{ id: '1', name: 'sam', status: 'active', twoFa: 'off' }];
const columns = (onAction: (r: Row) => void): Column<Row>[] => [
  { key: 'name', header: 'User', render: (r) => r.name },
  { key: 'status', header: 'Status', render: (r) => r.status },
  { key: '2fa', header: '2FA', hideOnMobile: true, render: (r) => r.twoFa },
  { key: 'actions', header: '', render: (r) => <button type="button" aria-label={`Actions for ${r.name}`} onClick={() => onAction(r)}>⋯</button> },
];

function phone(matches: boolean) {
  const original = window.matchMedia;
  vi.stubGlobal('matchMedia', (q: string) => ({ ...original(q), matches: q === PHONE_QUERY ? matches : false, media: q }));
}
afterEach(() => vi.unstubAllGlobals());

describe('DataTable at phone width', () => {
  it('is a table on wide screens', () => {
    phone(false);
    renderWithMantine(<DataTable rows={rows} rowKey={(r) => r.id} columns={columns(() => {})} />);
    expect(screen.getByRole('table')).toBeTruthy();
    expect(screen.queryByTestId('data-card')).toBeNull();
  });

  it('turns each row into a card: title, actions beside it, labelled values; the actions do not open the row', async () => {
    phone(true);
    const opened: string[] = [];
    const acted: string[] = [];
    renderWithMantine(<DataTable rows={rows} rowKey={(r) => r.id} caption="Users" onRowClick={(r) => opened.push(r.id)} columns={columns((r) => acted.push(r.id))} />);
    const card = await screen.findByTestId('data-card');
    expect(screen.queryByRole('table')).toBeNull();
    expect(screen.getByRole('list', { name: 'Users' })).toBeTruthy();
    const c = within(card);
    expect(c.getByText('sam')).toBeTruthy();
    expect(c.getByText('Status').tagName).toBe('DT');
    expect(c.getByText('active').closest('dd')).toBeTruthy();
    expect(c.queryByText('2FA')).toBeNull(); // hideOnMobile stays hidden
    fireEvent.click(c.getByRole('button', { name: 'Actions for sam' }));
    expect(acted).toEqual(['1']);
    expect(opened).toEqual([]);
    fireEvent.click(c.getByText('active'));
    expect(opened).toEqual(['1']);
  });
});
