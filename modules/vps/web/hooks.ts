import { useQuery } from '@tanstack/react-query';
import { api, call, useCan, useMe } from '@slipway/web';
import type { UserRef } from './api';

/** Staff (every role but `user`) see hosts, owners and non-public plans and images. */
export function useIsStaff(): boolean {
  const me = useMe();
  return !!me && me.role !== 'user';
}

/** Usernames by id for the owner column and picker (only for roles that may list users). */
export function useUsers(): { list: UserRef[]; name(id: string): string } {
  const canList = useCan('core.users.read');
  const me = useMe();
  const q = useQuery({
    enabled: canList,
    queryKey: ['users', 'vps-owners'],
    queryFn: () => call(api.GET('/api/v1/users', { params: { query: { limit: 200, status: 'active' } } })),
    staleTime: 60_000,
  });
  const list = q.data?.items ?? [];
  const byId = new Map(list.map((u) => [u.id, u.username]));
  if (me) byId.set(me.id, me.username);
  return { list, name: (id) => byId.get(id) ?? id };
}
