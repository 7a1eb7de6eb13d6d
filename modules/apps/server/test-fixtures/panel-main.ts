/**
 * A real panel process with the apps module only, for crash tests (`node --import tsx` this file):
 * the same start sequence as `slipway start` (config, secrets, database, buildApp, listen).
 */
import { buildApp, listenParts, loadConfig, loadOrCreateSecrets, openDatabase } from '../../../../server/src/testing/index.js';
import { createAppsModule } from '../index.js';

const modules = [createAppsModule()];
const config = loadConfig(process.env, modules.map((m) => m.id));
const secrets = loadOrCreateSecrets(config.core.dataDir);
const database = openDatabase({ url: config.core.databaseUrl, dataDir: config.core.dataDir });
const app = await buildApp({ config, database, secrets, modules });
const { host, port } = listenParts(config.core.listen);
await app.listen({ host, port });
process.stderr.write('apps test panel listening\n');
const stop = async () => {
  await app.close();
  await database.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
