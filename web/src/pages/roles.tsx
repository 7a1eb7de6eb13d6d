import { Select, Stack, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { api, call } from '../api/client';

export function useRoles() {
  return useQuery({ queryKey: ['roles'], staleTime: 5 * 60_000, queryFn: () => call(api.GET('/api/v1/roles')) });
}

/** Role picker that shows each role's description (from GET /roles) where the role is chosen. */
export function RoleSelect({ value, onChange, label = 'Role', allowed }: { value: string; onChange(v: string): void; label?: string; allowed?: string[] }) {
  const roles = useRoles();
  const items = (roles.data?.items ?? []).filter((r) => !allowed || allowed.includes(r.name));
  const current = items.find((r) => r.name === value);
  return (
    <Stack gap={4}>
      <Select
        label={label}
        data={items.map((r) => ({ value: r.name, label: r.name }))}
        value={value}
        onChange={(v) => v && onChange(v)}
        allowDeselect={false}
        renderOption={({ option }) => (
          <Stack gap={0}>
            <Text size="sm" fw={500}>{option.label}</Text>
            <Text size="xs" c="dimmed">{items.find((r) => r.name === option.value)?.description}</Text>
          </Stack>
        )}
        comboboxProps={{ withinPortal: true }}
      />
      {current ? <Text size="xs" c="dimmed" data-testid="role-description">{current.description}</Text> : null}
    </Stack>
  );
}
