import { ActionIcon, AppShell, Burger, Group, Menu, NavLink, ScrollArea, Text, Tooltip, UnstyledButton, useComputedColorScheme, useMantineColorScheme } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { Link, useRouterState } from '@tanstack/react-router';
import type { ReactNode } from 'react';
import { session } from '../auth/session';
import { icons } from '../components/icons';
import { useLiveStatus } from '../components/useLiveEvents';
import { useMe } from '../lib/hooks';
import { HostPicker } from './HostPicker';
import { useModules } from '../platform/module-status';
import { navItems } from './nav';
import { RunningJobs } from './RunningJobs';

function ThemeToggle() {
  const { setColorScheme } = useMantineColorScheme();
  const computed = useComputedColorScheme('light');
  const next = computed === 'dark' ? 'light' : 'dark';
  return (
    <Tooltip label={`Switch to ${next} theme`}>
      <ActionIcon variant="default" size="lg" onClick={() => setColorScheme(next)} aria-label={`Switch to ${next} theme`}>
        {computed === 'dark' ? <icons.sun /> : <icons.moon />}
      </ActionIcon>
    </Tooltip>
  );
}

function UserMenu() {
  const me = useMe();
  if (!me) return null;
  return (
    <Menu position="bottom-end" width={220}>
      <Menu.Target>
        <UnstyledButton aria-label={`Account menu for ${me.username}`} data-testid="user-menu" px="xs" py={4} style={{ borderRadius: 8, border: '1px solid var(--mantine-color-default-border)' }}>
          <Group gap={6} wrap="nowrap">
            <icons.account size={16} />
            <Text size="sm" fw={500} visibleFrom="xs">{me.username}</Text>
          </Group>
        </UnstyledButton>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>{me.email} · {me.role}</Menu.Label>
        <Menu.Item component={Link} to="/account" leftSection={<icons.account size={14} />}>My account</Menu.Item>
        <Menu.Divider />
        <Menu.Item color="red" leftSection={<icons.logout size={14} />} onClick={() => void session.signOut()}>Sign out</Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );
}

function LiveDot() {
  const status = useLiveStatus();
  const live = status === 'open';
  return (
    <Tooltip label={live ? 'Live updates connected' : 'Live updates reconnecting'}>
      <span role="status" aria-label={live ? 'Live' : 'Offline'} style={{ width: 8, height: 8, borderRadius: 4, display: 'inline-block', background: live ? 'var(--mantine-color-green-6)' : 'var(--mantine-color-gray-5)' }} />
    </Tooltip>
  );
}

/** The console frame: top bar (host picker, running jobs, theme, user menu) and the sidebar. */
export function Shell({ children }: { children: ReactNode }) {
  const [opened, { toggle, close }] = useDisclosure();
  const me = useMe();
  const pathname = useRouterState({ select: (s) => s.location.pathname });
  const modules = useModules();
  const items = navItems(me?.permissions ?? [], modules.data ?? []);
  const isActive = (to: string) => (to === '/' ? pathname === '/' : pathname === to || pathname.startsWith(`${to}/`));
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 230, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="md">
      <a href="#main" className="slw-skip">Skip to content</a>
      <style>{'.slw-skip{position:absolute;left:-999px;top:8px;z-index:1000;padding:8px 12px;background:var(--mantine-color-body);border-radius:6px}.slw-skip:focus{left:8px}'}</style>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="xs" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label={opened ? 'Close navigation' : 'Open navigation'} />
            <Text component={Link} to="/" fw={800} size="lg" style={{ textDecoration: 'none', color: 'inherit' }}>Slipway</Text>
            <LiveDot />
          </Group>
          <Group gap="xs" wrap="nowrap">
            <HostPicker />
            <RunningJobs />
            <ThemeToggle />
            <UserMenu />
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main navigation">
        <ScrollArea>
          <HostPicker inDrawer />
          <nav>
            {items.map((i) => (
              <NavLink
                key={i.to} component={Link} to={i.to} label={i.label} leftSection={<i.icon size={18} />} active={isActive(i.to)} onClick={close}
                rightSection={i.status && i.status !== 'ready' ? <span role="img" aria-label={`${i.label} is ${i.status}`} title={`${i.label} is ${i.status}`} style={{ width: 8, height: 8, borderRadius: 4, display: 'inline-block', background: `var(--mantine-color-${i.status === 'unavailable' ? 'red' : 'yellow'}-6)` }} /> : undefined}
              />
            ))}
          </nav>
        </ScrollArea>
      </AppShell.Navbar>
      <AppShell.Main id="main" tabIndex={-1}>{children}</AppShell.Main>
    </AppShell>
  );
}
