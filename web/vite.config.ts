import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import postcssPresetMantine from 'postcss-preset-mantine';
import { defineConfig } from 'vite';

const webDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(webDir, '..');

export default defineConfig({
  root: webDir,
  base: '/',
  plugins: [react()],
  resolve: {
    // Module web halves (modules/<id>/web) import the console's shared pieces through this alias.
    alias: { '@slipway/web': path.join(webDir, 'src/index.ts') },
  },
  css: { postcss: { plugins: [postcssPresetMantine()] } },
  server: {
    fs: { allow: [repoRoot] },
    proxy: { '/api': { target: 'http://127.0.0.1:8420', ws: true } },
  },
  build: {
    outDir: path.join(repoRoot, 'dist/web'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 800,
    sourcemap: false,
  },
});
