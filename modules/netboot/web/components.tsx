import { Badge, Card, Tabs, Text, Tooltip } from '@mantine/core';
import { useNavigate } from '@tanstack/react-router';
import { formatRelative } from '@slipway/web';
import type { ReactNode } from 'react';
import type { MachineStatus, Machine } from './api';

const TABS = [
  { value: '/netboot', label: 'Machines' },
  { value: '/netboot/images', label: 'Images' },
  { value: '/netboot/sessions', label: 'Sessions' },
  { value: '/netboot/settings', label: 'Boot server' },
];

/** The module's sub-navigation (the sidebar links to the machines table). */
export function NetbootNav({ active }: { active: string }) {
  const navigate = useNavigate();
  return (
    <Tabs value={active} onChange={(v) => v && void navigate({ to: v })} mb="md">
      <Tabs.List>
        {TABS.map((t) => <Tabs.Tab key={t.value} value={t.value}>{t.label}</Tabs.Tab>)}
      </Tabs.List>
    </Tabs>
  );
}

const STATUS_COLOR: Record<MachineStatus, string> = { online: 'green', booting: 'yellow', offline: 'gray' };
const STATUS_HINT: Record<MachineStatus, string> = {
  online: 'iSCSI session present: the machine runs from its network disk',
  booting: 'the boot script was fetched; no iSCSI login yet',
  offline: 'no boot script fetch and no iSCSI login',
};

/** offline (grey: powered off is normal), booting (script fetched), online (iSCSI login present). */
export function MachineStatusBadge({ status }: { status: MachineStatus }) {
  return (
    <Tooltip label={STATUS_HINT[status]} withArrow>
      <Badge color={STATUS_COLOR[status]} variant={status === 'online' ? 'filled' : status === 'offline' ? 'outline' : 'light'} radius="sm" data-status={status}>{status}</Badge>
    </Tooltip>
  );
}

/** Status with who is connected: `online · 10.0.2.15 · since 2 minutes ago`. */
export function MachineStatusCell({ m }: { m: Machine }) {
  const c = m.connections[0];
  return (
    <div>
      <MachineStatusBadge status={m.status} />
      {m.state === 'pending' && <Badge ml={4} color="orange" variant="light" radius="sm">pending</Badge>}
      {c ? (
        <Text size="xs" c="dimmed" title={c.initiator}>{c.address} · since {formatRelative(c.since)}{m.connections.length > 1 ? ` (+${m.connections.length - 1})` : ''}</Text>
      ) : m.status === 'booting' && m.lastScriptAt ? (
        <Text size="xs" c="dimmed">script fetched {formatRelative(m.lastScriptAt)}</Text>
      ) : null}
    </div>
  );
}

export function Fact({ label, value, hint }: { label: string; value: ReactNode; hint?: ReactNode }) {
  return (
    <Card withBorder padding="sm">
      <Text size="xs" c="dimmed">{label}</Text>
      <Text fw={600} component="div">{value}</Text>
      {hint ? <Text size="xs" c="dimmed">{hint}</Text> : null}
    </Card>
  );
}
