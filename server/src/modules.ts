import type { ModuleDefinition } from './platform/module.js';
import { sitesModule } from '../../modules/sites/server/index.js';
import { serverModule } from '../../modules/server/server/index.js';
import { containersModule } from '../../modules/containers/server/index.js';
import { netbootModule } from '../../modules/netboot/server/index.js';
import { appsModule } from '../../modules/apps/server/index.js';
import { vpsModule } from '../../modules/vps/server/index.js';

/** The one list of the panel's modules. Order is registration order. */
export const modules: ModuleDefinition[] = [sitesModule, serverModule, containersModule, appsModule, netbootModule, vpsModule];

/** The modules SLIPWAY_MODULES enables (all when unset); ids were checked by loadConfig. */
export function enabledModules(ids: readonly string[] | undefined, all: readonly ModuleDefinition[] = modules): ModuleDefinition[] {
  return ids?.length ? all.filter((m) => ids.includes(m.id)) : [...all];
}
