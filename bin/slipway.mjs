#!/usr/bin/env node
// The `slipway` command: runs the built server (dist/) when present, else the TypeScript source
// through tsx (a development checkout that never ran `npm run build:server`).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const built = path.join(root, 'dist/server/src/main.js');

if (existsSync(built)) {
  // main.js parses process.argv itself
  await import(pathToFileURL(built).href);
} else {
  let tsx;
  try {
    tsx = import.meta.resolve('tsx');
  } catch {
    process.stderr.write('slipway: no build found (dist/server/src/main.js) and tsx is not installed: run `npm run build:server`\n');
    process.exit(1);
  }
  const child = spawn(process.execPath, ['--import', tsx, path.join(root, 'server/src/main.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}
