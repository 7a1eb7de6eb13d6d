import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, moduleEnvKey } from './config.js';

describe('configuration', () => {
  it('has working defaults: SQLite in ./data, 127.0.0.1:8420', () => {
    const c = loadConfig({});
    expect(c.core.listen).toBe('127.0.0.1:8420');
    expect(c.core.dataDir).toMatch(/\/data$/);
    expect(c.core.databaseUrl).toBeUndefined();
    expect(c.core.accessTokenTtlSeconds).toBe(900);
  });

  it('reports every bad key at once, naming the variable and what is wrong', () => {
    let err: unknown;
    try {
      loadConfig({ SLIPWAY_LISTEN: 'nope', SLIPWAY_DATABASE_URL: 'mysql://x', SLIPWAY_PUBLIC_URL: 'ftp://x', SLIPWAY_TYPO: '1', SLIPWAY_JOB_WORKERS: '0' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).toContain('SLIPWAY_LISTEN: expected host:port');
    expect(problems).toContain('SLIPWAY_DATABASE_URL: expected postgres://');
    expect(problems).toContain('SLIPWAY_PUBLIC_URL');
    expect(problems).toContain('SLIPWAY_TYPO: unknown setting');
    expect(problems).toContain('SLIPWAY_JOB_WORKERS');
    expect((err as ConfigError).problems).toHaveLength(5);
  });

  it('routes module keys to their module and names them by env key', () => {
    const c = loadConfig({ SLIPWAY_SITES_REFRESH_SECONDS: '60' }, ['sites']);
    expect(c.moduleRaw.sites).toEqual({ SLIPWAY_SITES_REFRESH_SECONDS: '60' });
    expect(moduleEnvKey('sites', 'refreshSeconds')).toBe('SLIPWAY_SITES_REFRESH_SECONDS');
  });
});
