import { Button, Group, Modal, Stack, Text, TextInput } from '@mantine/core';
import { useState, type ReactNode } from 'react';
import { notifyError } from '../lib/notify';

export interface ConfirmDialogProps {
  opened: boolean;
  onClose(): void;
  title: string;
  message: ReactNode;
  /** When set, the user must type this exact text (e.g. the resource's name) before confirming. */
  typeToConfirm?: string;
  confirmLabel?: string;
  /** Red confirm button for destructive actions (default true). */
  danger?: boolean;
  /** May be async; the dialog shows progress, closes on success and toasts the server's message on failure. */
  onConfirm(): unknown;
}

/** Confirmation for anything destructive; type-to-confirm for what cannot be undone. */
export function ConfirmDialog({ opened, onClose, title, message, typeToConfirm, confirmLabel = 'Confirm', danger = true, onConfirm }: ConfirmDialogProps) {
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const ready = !typeToConfirm || typed === typeToConfirm;
  const close = () => {
    setTyped('');
    onClose();
  };
  const confirm = async () => {
    if (!ready) return;
    setBusy(true);
    try {
      await onConfirm();
      close();
    } catch (e) {
      notifyError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal opened={opened} onClose={close} title={title} centered>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void confirm();
        }}
      >
        <Stack>
          <Text size="sm" component="div">{message}</Text>
          {typeToConfirm ? (
            <TextInput
              label={<>Type <b>{typeToConfirm}</b> to confirm</>}
              value={typed}
              onChange={(e) => setTyped(e.currentTarget.value)}
              autoComplete="off"
              data-autofocus
            />
          ) : null}
          <Group justify="flex-end">
            <Button variant="default" onClick={close} disabled={busy}>Cancel</Button>
            <Button type="submit" color={danger ? 'red' : undefined} disabled={!ready} loading={busy}>{confirmLabel}</Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
