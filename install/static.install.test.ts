import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');

describe('shell scripts', () => {
  it('shellcheck passes on every script under scripts/', async () => {
    const scripts = readdirSync(path.join(root, 'scripts')).filter((f) => f.endsWith('.sh')).map((f) => path.join('scripts', f));
    expect(scripts).toContain('scripts/install.sh');
    const r = await run('shellcheck', ['--format=gcc', ...scripts], { cwd: root }).then(
      () => ({ code: 0, out: '' }),
      (e: { code?: number; stdout?: string; message: string }) => ({ code: e.code ?? 1, out: e.stdout || e.message }),
    );
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('deploy/caddy/slipway.caddy', () => {
  it('is a Caddyfile that Debian\'s Caddy accepts, proxying to the panel\'s unix socket without buffering', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'slipway-caddy-'));
    try {
      const file = path.join(dir, 'slipway.caddy');
      // As install.sh --proxy caddy --domain panel.example.com writes it.
      writeFileSync(file, readFileSync(path.join(root, 'deploy/caddy/slipway.caddy'), 'utf8').replaceAll('@DOMAIN@', 'panel.example.com').replaceAll('@SOCKET@', '/run/slipway/slipway.sock'));
      const { stdout } = await run('caddy', ['adapt', '--config', file, '--adapter', 'caddyfile']);
      const config = JSON.parse(stdout) as { apps: { http: { servers: Record<string, { listen: string[]; routes: unknown[] }> } } };
      const text = JSON.stringify(config);
      expect(text).toContain('"host":["panel.example.com"]');
      expect(text).toContain('"dial":"unix//run/slipway/slipway.sock"');
      expect(text).toContain('"flush_interval":-1');
      expect(Object.values(config.apps.http.servers)[0]!.listen).toEqual([':443']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
