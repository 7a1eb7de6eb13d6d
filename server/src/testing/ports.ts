import { createServer } from 'node:net';

/** A TCP port on loopback that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Settings for a panel process started by a test or benchmark: the containers module's listeners go
 * on free loopback ports and its Caddy server gets its own name, so panels never collide with each
 * other, with fixed ports (8421, :80/:443) or with another panel's routes.
 */
export async function isolatedModuleEnv(tag: string): Promise<Record<string, string>> {
  return {
    SLIPWAY_CONTAINERS_ACTIVATOR_PORT: String(await freePort()),
    SLIPWAY_CONTAINERS_HTTP_LISTEN: `127.0.0.1:${await freePort()}`,
    SLIPWAY_CONTAINERS_AUTO_HTTPS: 'false',
    SLIPWAY_CONTAINERS_CADDY_SERVER: `test_${tag.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 40),
    // netboot: its own IQN prefix and tgt target ids, so a panel's reconcile never meets another's targets
    SLIPWAY_NETBOOT_IQN_PREFIX: `iqn.2026-01.io.slipway.test:${tag.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'x'}`,
    ...(() => { const tidMin = 30_000 + Math.floor(Math.random() * 40_000) * 10; return { SLIPWAY_NETBOOT_TID_MIN: String(tidMin), SLIPWAY_NETBOOT_TID_MAX: String(tidMin + 9) }; })(),
  };
}
