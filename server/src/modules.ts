import type { ModuleDefinition } from './platform/module.js';
import { sitesModule } from '../../modules/sites/server/index.js';
import { serverModule } from '../../modules/server/server/index.js';
import { containersModule } from '../../modules/containers/server/index.js';

/** The one list of enabled modules. Order is registration order. */
export const modules: ModuleDefinition[] = [sitesModule, serverModule, containersModule];
