import type { ModuleDefinition } from './platform/module.js';

/** The one list of enabled modules. Order is registration order. */
export const modules: ModuleDefinition[] = [];
