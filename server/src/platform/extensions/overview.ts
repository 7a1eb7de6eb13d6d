import type { Actor } from '../rbac/permissions.js';

/** One resource count of a module for the dashboard: `sites: 12`. Counts what the actor may see. */
export interface OverviewCount {
  /** Unique within the module: `sites`, `services`. */
  id: string;
  moduleId: string;
  title: string;
  /** The permission needed to see the count (usually the module's read permission). */
  permission?: string;
  count(actor: Actor): Promise<number> | number;
}

export interface OverviewCountView { id: string; module: string; title: string; count: number | null }

/** The dashboard's counts, one registry per app instance: `ctx.overview.count(...)`. */
export class OverviewCounts {
  private readonly counts = new Map<string, OverviewCount>();

  add(c: OverviewCount): () => void {
    const key = `${c.moduleId}.${c.id}`;
    this.counts.set(key, c);
    return () => this.counts.delete(key);
  }

  /** Every count the actor may see; a count that fails is null (the dashboard shows a dash). */
  async list(actor: Actor, can: (actor: Actor, permission: string) => boolean): Promise<OverviewCountView[]> {
    const visible = [...this.counts.values()].filter((c) => !c.permission || can(actor, c.permission));
    return Promise.all(visible.map(async (c) => ({
      id: c.id, module: c.moduleId, title: c.title,
      count: await Promise.resolve().then(() => c.count(actor)).then((n) => n, () => null),
    })));
  }
}
