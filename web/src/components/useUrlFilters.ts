import { useNavigate, useSearch } from '@tanstack/react-router';
import { useCallback, useMemo } from 'react';

/**
 * List filters kept in the address (`/jobs?state=failed&type=sites.`), so a reload or a shared
 * link shows the same list. Values are strings ('' = not set); `set` replaces the history entry.
 */
export function useUrlFilters<K extends string>(keys: readonly K[]) {
  const search = useSearch({ strict: false }) as Record<string, unknown>;
  const navigate = useNavigate();
  const values = useMemo(() => {
    const out = {} as Record<K, string>;
    for (const k of keys) {
      const v = search[k];
      out[k] = v === undefined || v === null ? '' : String(v);
    }
    return out;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [JSON.stringify(keys.map((k) => search[k]))]);
  const write = useCallback((next: Partial<Record<K, string>>) => {
    void navigate({
      to: '.',
      replace: true,
      search: (prev: Record<string, unknown>) => {
        const out: Record<string, unknown> = { ...prev };
        // Strings stay strings in the address ("8.3", not the number 8.3).
        for (const [k, v] of Object.entries(next) as [string, string | undefined][]) {
          if (v) out[k] = v;
          else delete out[k];
        }
        return out;
      },
    } as never);
  }, [navigate]);
  const set = useCallback((k: K, v: string | null) => write({ [k]: v ?? '' } as Partial<Record<K, string>>), [write]);
  const clear = useCallback(() => write(Object.fromEntries(keys.map((k) => [k, ''])) as Partial<Record<K, string>>), [write, keys]);
  const active = keys.some((k) => values[k] !== '');
  return { values, set, write, clear, active };
}
