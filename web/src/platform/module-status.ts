import { useQuery } from '@tanstack/react-query';
import { getJson } from '../api/client';
import { useLiveInvalidate } from '../components/useLiveEvents';

export type ModuleState = 'ready' | 'degraded' | 'unavailable';

export interface EngineStatus {
  id: string;
  title: string;
  optional: boolean;
  ok: boolean;
  version: string | null;
  reason: string | null;
  fix: string | null;
  checkedAt: number | null;
}

export interface ScheduleStatus {
  name: string;
  everyMs: number;
  running: boolean;
  runs: number;
  lastRunAt: number | null;
  lastDurationMs: number | null;
  lastOk: boolean | null;
  lastError: string | null;
  lastErrorAt: number | null;
  /** Replicas: `cluster` runs on one replica at a time, `replica` on every one for its own machine. */
  scope?: 'cluster' | 'replica';
  /** This replica runs it now. */
  held?: boolean;
}

/** One enabled module as GET /api/v1/modules reports it: the one list of which modules exist and show. */
export interface ModuleStatus {
  id: string;
  title: string;
  status: ModuleState;
  reason: string | null;
  fix: string | null;
  navPermission: string | null;
  /** The signed-in user has navPermission: the module shows in the navigation. */
  visible: boolean;
  engines: EngineStatus[];
  schedules: ScheduleStatus[];
  /** Machine-local duties of the module this replica holds. */
  localDuties?: { name: string; description: string }[];
  checkedAt: number | null;
}

export const MODULES_QUERY_KEY = ['modules'] as const;

/** The enabled modules and their status, refreshed live (module.status events) and every 30 s. */
export function useModules() {
  useLiveInvalidate(['module.'], [[...MODULES_QUERY_KEY]]);
  return useQuery({
    queryKey: MODULES_QUERY_KEY,
    queryFn: async () => (await getJson<{ items: ModuleStatus[] }>('/api/v1/modules')).items,
    refetchInterval: 30_000,
    staleTime: 5_000,
  });
}

/** One module's status; undefined while loading, null when the module is not enabled on this panel. */
export function useModuleStatus(id: string): ModuleStatus | null | undefined {
  const q = useModules();
  if (!q.data) return undefined;
  return q.data.find((m) => m.id === id) ?? null;
}
