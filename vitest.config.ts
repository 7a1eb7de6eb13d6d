import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'server',
          include: ['server/src/**/*.test.ts', 'modules/*/server/**/*.test.ts'],
          environment: 'node',
          testTimeout: 30000,
          hookTimeout: 60000,
          pool: 'forks',
        },
      },
      {
        // Web console component tests (React + Testing Library in jsdom).
        plugins: [react()],
        resolve: { alias: { '@slipway/web': fileURLToPath(new URL('./web/src/index.ts', import.meta.url)) } },
        test: {
          name: 'web',
          include: ['web/src/**/*.test.tsx', 'web/src/**/*.test.ts', 'modules/*/web/**/*.test.tsx'],
          environment: 'jsdom',
          setupFiles: ['web/src/testing/setup.ts'],
          testTimeout: 30000,
        },
      },
      {
        // Hostile-tenant scenarios (docs/SECURITY.md): each performs an attack against a running
        // panel with the real engines and asserts it fails with nothing changed.
        test: {
          name: 'security',
          include: ['security/**/*.security.test.ts'],
          environment: 'node',
          testTimeout: 60000,
          hookTimeout: 120000,
          pool: 'forks',
        },
      },
      {
        // scripts/install.sh on the systemd test host (slipway-test/systemd:1) behind nginx, and
        // shellcheck on every script under scripts/. Installs the build: npm run build first.
        test: {
          name: 'install',
          include: ['install/**/*.install.test.ts'],
          environment: 'node',
          testTimeout: 300000,
          hookTimeout: 300000,
          fileParallelism: false,
          pool: 'forks',
        },
      },
      {
        // Browser end-to-end tests: Debian's Chromium against a panel process (build the web first).
        test: {
          name: 'e2e',
          include: ['e2e/**/*.e2e.test.ts'],
          environment: 'node',
          testTimeout: 240000,
          hookTimeout: 180000,
          fileParallelism: false,
          pool: 'forks',
        },
      },
    ],
  },
});
