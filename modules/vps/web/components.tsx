import { Card, Tabs, Text } from '@mantine/core';
import { useNavigate } from '@tanstack/react-router';
import { StatusBadge, useCan } from '@slipway/web';
import type { ReactNode } from 'react';
import { STATE_BADGE, perms, type VpsState } from './api';

/** The module's sub-navigation (the sidebar links to the VPS list); tabs the role cannot use are hidden. */
export function VpsNav({ active }: { active: string }) {
  const navigate = useNavigate();
  const canHosts = useCan(perms.hosts);
  const tabs = [
    { value: '/vps', label: 'Servers' },
    { value: '/vps/plans', label: 'Plans' },
    { value: '/vps/images', label: 'Images' },
    ...(canHosts ? [{ value: '/vps/hosts', label: 'Hosts' }] : []),
  ];
  return (
    <Tabs value={active} onChange={(v) => v && void navigate({ to: v })} mb="md">
      <Tabs.List>
        {tabs.map((t) => <Tabs.Tab key={t.value} value={t.value}>{t.label}</Tabs.Tab>)}
      </Tabs.List>
    </Tabs>
  );
}

export function VpsStateBadge({ state }: { state: VpsState }) {
  const b = STATE_BADGE[state] ?? STATE_BADGE.unknown;
  return <span data-vps-state={state}><StatusBadge status={b.status} label={b.label} /></span>;
}

export function Fact({ label, value, mono }: { label: string; value: ReactNode; mono?: boolean }) {
  return (
    <Card withBorder padding="sm">
      <Text size="xs" c="dimmed">{label}</Text>
      <Text component="div" fw={600} ff={mono ? 'monospace' : undefined} style={{ wordBreak: 'break-all' }}>{value}</Text>
    </Card>
  );
}
