import { QueryClient } from '@tanstack/react-query';
import { ApiError } from './api/errors';

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 10_000,
        refetchOnWindowFocus: false,
        // Client errors will not fix themselves; retry only network/5xx once.
        retry: (n, e) => !(e instanceof ApiError && e.status < 500) && n < 1,
      },
    },
  });
}
