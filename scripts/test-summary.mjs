#!/usr/bin/env node
// Prints vitest JSON results as one plain closing line: "N passed, N failed[, N skipped]".
import { existsSync, readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const total = args[0] === '--total';
const label = total ? 'total' : args.shift();
const files = total ? args.slice(1) : args;
let passed = 0, failed = 0, skipped = 0;
for (const f of files) {
  if (!existsSync(f)) { failed++; continue; }
  const r = JSON.parse(readFileSync(f, 'utf8'));
  passed += r.numPassedTests ?? 0;
  // A file that fails to load has no failing test of its own: count it as one failure.
  failed += (r.numFailedTests ?? 0) || (r.success === false ? Math.max(1, r.numFailedTestSuites ?? 0) : 0);
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
}
const line = `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
console.log(total ? line : `${label}: ${line}`);
