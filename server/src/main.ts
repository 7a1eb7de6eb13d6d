#!/usr/bin/env node
import { runCli } from './cli.js';

// `node dist/server/src/main.js start` (npm start) and the `slipway` command share one entry.
runCli(process.argv).catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
