import { Center, Stack, Text, ThemeIcon, Title } from '@mantine/core';
import type { ReactNode } from 'react';
import { icons } from './icons';

/** What a list shows when it has nothing, with the next step to take. */
export function EmptyState({ title, description, action, icon, testId, heading }: { title: string; description?: ReactNode; action?: ReactNode; icon?: ReactNode; testId?: string; /** The page's h1 (a whole-page state such as "not found"). */ heading?: boolean }) {
  return (
    <Center py="xl" data-testid={testId}>
      <Stack align="center" gap="xs" maw={420} ta="center">
        <ThemeIcon variant="light" size={48} radius="xl" color="gray">{icon ?? <icons.box size={26} />}</ThemeIcon>
        {heading ? <Title order={1} size="h4">{title}</Title> : <Text fw={600}>{title}</Text>}
        {description ? <Text c="dimmed" size="sm">{description}</Text> : null}
        {action}
      </Stack>
    </Center>
  );
}
