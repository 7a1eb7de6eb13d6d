import { Select } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { authedFetch } from '../api/client';
import { hostChoice, useCan, useCurrentHost } from '../lib/hooks';
import { corePermissions } from './nav';

interface HostItem { id: string; name: string }

/**
 * Chooses the host module pages act on; "This server" until more hosts are added. In the top bar
 * from `xs` up; `inDrawer`: the same picker at the top of the phone navigation drawer.
 */
export function HostPicker({ inDrawer = false }: { inDrawer?: boolean } = {}) {
  const current = useCurrentHost();
  const canRead = useCan(corePermissions.hostsRead);
  const hosts = useQuery({
    queryKey: ['hosts'],
    enabled: canRead,
    staleTime: 60_000,
    queryFn: async (): Promise<HostItem[]> => {
      try {
        const res = await authedFetch('/api/v1/hosts');
        const body = (await res.json()) as { items?: HostItem[] } | HostItem[];
        return Array.isArray(body) ? body : (body.items ?? []);
      } catch {
        return [];
      }
    },
  });
  const items = hosts.data?.length ? hosts.data : [{ id: 'local', name: 'This server' }];
  const data = items.map((h) => ({ value: h.id, label: h.id === 'local' ? 'This server' : h.name }));
  const value = data.some((d) => d.value === current) ? current : data[0]!.value;
  return (
    <Select
      aria-label={inDrawer ? undefined : 'Host'}
      label={inDrawer ? 'Host' : undefined}
      size={inDrawer ? 'sm' : 'xs'}
      w={inDrawer ? undefined : 150}
      visibleFrom={inDrawer ? undefined : 'xs'}
      hiddenFrom={inDrawer ? 'xs' : undefined}
      mb={inDrawer ? 'xs' : undefined}
      data-testid={inDrawer ? 'drawer-host-picker' : undefined}
      data={data}
      value={value}
      allowDeselect={false}
      onChange={(v) => v && hostChoice.set(v)}
      comboboxProps={{ withinPortal: true }}
    />
  );
}
