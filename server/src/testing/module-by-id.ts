import { modules } from '../modules.js';
import type { ModuleDefinition } from '../platform/module.js';

/**
 * A module of the panel by id, for a module's integration tests that need another one next to it
 * (the server module's log viewer showing a site's logs): modules never import each other.
 */
export function moduleById(id: string): ModuleDefinition {
  const m = modules.find((x) => x.id === id);
  if (!m) throw new Error(`no module ${id}`);
  return m;
}
