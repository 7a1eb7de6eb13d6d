import { Tabs } from '@mantine/core';
import { useNavigate } from '@tanstack/react-router';

const TABS = [
  { value: '/server', label: 'Dashboard' },
  { value: '/server/hosts', label: 'Hosts' },
  { value: '/server/services', label: 'Services' },
  { value: '/server/logs', label: 'Logs' },
];

/** The module's sub-navigation (the sidebar links to the dashboard only). */
export function ServerNav({ active }: { active: string }) {
  const navigate = useNavigate();
  return (
    <Tabs value={active} onChange={(v) => v && void navigate({ to: v })} mb="md">
      <Tabs.List>
        {TABS.map((t) => (
          <Tabs.Tab key={t.value} value={t.value}>{t.label}</Tabs.Tab>
        ))}
      </Tabs.List>
    </Tabs>
  );
}
