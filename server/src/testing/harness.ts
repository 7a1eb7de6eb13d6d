import { randomBytes } from 'node:crypto';
import { buildApp, type Services } from '../app.js';
import { loadConfig } from '../config.js';
import type { HttpApp, ModuleDefinition } from '../platform/module.js';
import { SYSTEM_ACTOR } from '../platform/rbac/permissions.js';
import type { Role } from '../platform/rbac/roles.js';
import { loadOrCreateSecrets } from '../platform/secrets.js';
import { createTestDatabase, type TestDatabase } from './test-db.js';

export interface SignedIn {
  user: { id: string; username: string; role: Role };
  password: string;
  token: string;
  /** The refresh token of the session (for refresh/logout tests). */
  refreshToken: string;
  headers: { authorization: string };
}

export interface TestApp {
  app: HttpApp;
  services: Services;
  dataDir: string;
  db: TestDatabase;
  /** Creates a user with the role (through the users service) and signs in through POST /api/v1/auth/login. */
  signIn(role: Role, opts?: { username?: string }): Promise<SignedIn>;
  close(): Promise<void>;
}

let counter = 0;

/** A strong random password that passes the policy. */
export function testPassword(): string {
  return `Tp-${randomBytes(12).toString('base64url')}`;
}

/**
 * A complete panel (real routes, auth, database) for `app.inject()` tests: SQLite in a temp dir,
 * or a fresh PostgreSQL schema when SLIPWAY_TEST_DATABASE_URL is set.
 */
export async function createTestApp(opts: { modules?: ModuleDefinition[]; env?: Record<string, string>; startBackground?: boolean } = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const modules = opts.modules ?? [];
  try {
    const config = loadConfig({ SLIPWAY_DATA_DIR: db.dataDir, SLIPWAY_LOG_LEVEL: 'silent', ...opts.env }, modules.map((m) => m.id));
    const secrets = loadOrCreateSecrets(db.dataDir);
    const app = await buildApp({ config, database: db.database, secrets, modules, logger: false, startBackground: opts.startBackground ?? true });
    await app.ready();
    const services = app.slipway;
    return {
      app,
      services,
      dataDir: db.dataDir,
      db,
      async signIn(role, o = {}) {
        const username = o.username ?? `${role}-${process.pid}-${++counter}-${randomBytes(3).toString('hex')}`;
        const password = testPassword();
        const { user } = await services.auth.users.create(SYSTEM_ACTOR, { username, email: `${username}@example.test`, role, password });
        const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password } });
        if (res.statusCode !== 200) throw new Error(`signIn(${role}) failed: ${res.statusCode} ${res.body}`);
        const body = res.json() as { accessToken: string; refreshToken: string };
        return {
          user: { id: user.id, username: user.username, role: user.role },
          password,
          token: body.accessToken,
          refreshToken: body.refreshToken,
          headers: { authorization: `Bearer ${body.accessToken}` },
        };
      },
      async close() {
        try {
          await app.close();
        } finally {
          await db.cleanup();
        }
      },
    };
  } catch (e) {
    await db.cleanup();
    throw e;
  }
}
