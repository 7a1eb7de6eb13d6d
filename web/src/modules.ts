import type { WebModule } from './platform/web-module';
import { serverWeb } from '../../modules/server/web';
import { sitesWeb } from '../../modules/sites/web';
import { containersWeb } from '../../modules/containers/web';
import { appsWeb } from '../../modules/apps/web';
import { netbootWeb } from '../../modules/netboot/web';
import { vpsWeb } from '../../modules/vps/web';

/**
 * The web halves of the enabled modules, in sidebar order. Add one import and one entry per module:
 *   import { sitesWeb } from '../../modules/sites/web';
 */
export const webModules: WebModule[] = [serverWeb, sitesWeb, containersWeb, appsWeb, netbootWeb, vpsWeb];
