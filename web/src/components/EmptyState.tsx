import { Center, Stack, Text, ThemeIcon } from '@mantine/core';
import type { ReactNode } from 'react';
import { icons } from './icons';

/** What a list shows when it has nothing, with the next step to take. */
export function EmptyState({ title, description, action, icon }: { title: string; description?: ReactNode; action?: ReactNode; icon?: ReactNode }) {
  return (
    <Center py="xl">
      <Stack align="center" gap="xs" maw={420} ta="center">
        <ThemeIcon variant="light" size={48} radius="xl" color="gray">{icon ?? <icons.box size={26} />}</ThemeIcon>
        <Text fw={600}>{title}</Text>
        {description ? <Text c="dimmed" size="sm">{description}</Text> : null}
        {action}
      </Stack>
    </Center>
  );
}
