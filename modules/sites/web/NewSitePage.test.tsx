import { fireEvent, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { renderWithProviders } from '../../../web/src/testing/render';
import NewSitePage, { domainProblem } from './NewSitePage';

describe('create-site wizard', () => {
  it('checks the domain as the server does', () => {
    expect(domainProblem('example.com')).toBeNull();
    expect(domainProblem('bücher.example')).toBeNull();
    expect(domainProblem('-x.example.com')).not.toBeNull();
    expect(domainProblem('example')).not.toBeNull();
    expect(domainProblem('a.com;id')).not.toBeNull();
    expect(domainProblem('')).not.toBeNull();
  });

  it('offers only the options valid for the chosen type', async () => {
    renderWithProviders(<NewSitePage />);
    const next = await screen.findByRole('button', { name: 'Next' });
    expect((next as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(screen.getByLabelText('Domain'), { target: { value: 'shop.example.com' } });
    expect((next as HTMLButtonElement).disabled).toBe(false);

    // WordPress (default): PHP, cache and admin fields
    fireEvent.click(next);
    expect(await screen.findByRole('combobox', { name: 'Page cache' })).toBeTruthy();
    expect(screen.getByRole('combobox', { name: 'PHP version' })).toBeTruthy();
    expect(screen.getByLabelText(/WordPress admin user/)).toBeTruthy();

    // HTML: none of them
    fireEvent.click(screen.getByRole('button', { name: 'Back' }));
    fireEvent.click(await screen.findByLabelText('HTML'));
    fireEvent.click(screen.getByRole('button', { name: 'Next' }));
    expect(await screen.findByText('An HTML site has no PHP, database or cache options.')).toBeTruthy();
    expect(screen.queryByRole('combobox', { name: 'Page cache' })).toBeNull();
    expect(screen.queryByRole('combobox', { name: 'PHP version' })).toBeNull();

    // Reverse proxy: a backend, validated
    fireEvent.click(screen.getByRole('button', { name: 'Back' }));
    fireEvent.click(await screen.findByLabelText('Reverse proxy'));
    fireEvent.click(screen.getByRole('button', { name: 'Next' }));
    const backend = await screen.findByLabelText('Backend host');
    fireEvent.change(backend, { target: { value: '-oProxyCommand' } });
    expect((screen.getByRole('button', { name: 'Next' }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(backend, { target: { value: '10.0.0.5' } });
    expect((screen.getByRole('button', { name: 'Next' }) as HTMLButtonElement).disabled).toBe(false);

    // SSL: HSTS only once a certificate is chosen; wildcard asks for a DNS API
    fireEvent.click(screen.getByRole('button', { name: 'Next' }));
    expect(screen.queryByLabelText(/HSTS/)).toBeNull();
    fireEvent.click(await screen.findByLabelText(/Wildcard/));
    expect(screen.getByLabelText(/HSTS/)).toBeTruthy();
    expect((screen.getByLabelText(/acme.sh DNS API/) as HTMLInputElement).value).toBe('dns_cf');
  });
});
