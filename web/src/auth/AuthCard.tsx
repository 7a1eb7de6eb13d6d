import { Center, Paper, Stack, Text, Title } from '@mantine/core';
import type { ReactNode } from 'react';
import { usePageTitle } from '../components/PageHeader';

export function AuthCard({ title, subtitle, children }: { title: string; subtitle?: ReactNode; children: ReactNode }) {
  usePageTitle(title);
  return (
    <Center mih="100dvh" p="md" bg="var(--mantine-color-body)">
      <Paper withBorder shadow="sm" p="xl" w="100%" maw={440} component="main">
        <Stack gap="md">
          <Stack gap={2}>
            <Text fw={800} c="indigo">Slipway</Text>
            <Title order={1} size="h2">{title}</Title>
            {subtitle ? <Text c="dimmed" size="sm">{subtitle}</Text> : null}
          </Stack>
          {children}
        </Stack>
      </Paper>
    </Center>
  );
}
