import { fireEvent, screen, waitFor } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api/errors';
import { renderWithMantine } from '../testing/render';
import { ConfirmDialog } from './ConfirmDialog';

describe('ConfirmDialog', () => {
  it('enables the destructive action only once the name is typed exactly', async () => {
    const onConfirm = vi.fn(async () => {});
    const onClose = vi.fn();
    renderWithMantine(<ConfirmDialog opened onClose={onClose} title="Delete user?" message="Gone for good." typeToConfirm="bob" confirmLabel="Delete user" onConfirm={onConfirm} />);
    const button = (await screen.findByRole('button', { name: 'Delete user' })) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    fireEvent.change(screen.getByLabelText(/Type bob to confirm/), { target: { value: 'bo' } });
    expect(button.disabled).toBe(true);
    fireEvent.change(screen.getByLabelText(/Type bob to confirm/), { target: { value: 'bob' } });
    expect(button.disabled).toBe(false);
    fireEvent.click(button);
    await waitFor(() => expect(onConfirm).toHaveBeenCalledTimes(1));
    await waitFor(() => expect(onClose).toHaveBeenCalled());
  });

  it('stays open and shows the server\'s message when the action fails', async () => {
    const onClose = vi.fn();
    renderWithMantine(<ConfirmDialog opened onClose={onClose} title="Cancel job?" message="Sure?" confirmLabel="Cancel job" onConfirm={() => Promise.reject(new ApiError(409, 'conflict', 'The job already finished'))} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Cancel job' }));
    expect(await screen.findByText('The job already finished')).toBeTruthy();
    expect(onClose).not.toHaveBeenCalled();
  });
});
