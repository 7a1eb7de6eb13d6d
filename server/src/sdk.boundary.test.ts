import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The module boundary (docs/MODULES.md): a module reaches the platform only through
 * server/src/sdk.ts (its tests also through server/src/testing/), its web half only through
 * '@slipway/web', no module imports another, and the platform names modules only in
 * server/src/modules.ts (web/src/modules.ts for the console).
 */
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sdk = path.join(repo, 'server/src/sdk.ts');
const testing = path.join(repo, 'server/src/testing') + path.sep;
const webTesting = path.join(repo, 'web/src/testing') + path.sep;
const modulesRoot = path.join(repo, 'modules') + path.sep;

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (/\.(ts|tsx|mts|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;(])import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm;

/** Relative import specifiers of a file, resolved to absolute paths (extension-agnostic). */
function relativeImports(file: string): { spec: string; target: string }[] {
  const text = readFileSync(file, 'utf8');
  const out: { spec: string; target: string }[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (!spec || !spec.startsWith('.')) continue;
    out.push({ spec, target: path.resolve(path.dirname(file), spec).replace(/\.(js|ts|tsx|mjs)$/, '') });
  }
  return out;
}

const isTestFile = (f: string) => /\.test\.tsx?$/.test(f) || f.includes(`${path.sep}test-fixtures${path.sep}`) || f.includes(`${path.sep}testing${path.sep}`);
const moduleOf = (f: string) => (f.startsWith(modulesRoot) ? f.slice(modulesRoot.length).split(path.sep)[0] : undefined);

describe('module boundary', () => {
  const moduleIds = readdirSync(modulesRoot).filter((d) => statSync(path.join(modulesRoot, d)).isDirectory());

  it('finds the modules and their files', () => {
    expect(moduleIds).toEqual(expect.arrayContaining(['sites', 'server', 'containers']));
  });

  it('a module imports only its own files, the SDK and (in tests) the test harness', () => {
    const violations: string[] = [];
    for (const id of moduleIds) {
      const own = path.join(modulesRoot, id) + path.sep;
      for (const file of files(path.join(modulesRoot, id))) {
        for (const { spec, target } of relativeImports(file)) {
          if (target.startsWith(own)) continue;
          if (file.includes(`${path.sep}web${path.sep}`)) {
            if (isTestFile(file) && (target + path.sep).startsWith(webTesting)) continue;
            violations.push(`${path.relative(repo, file)} imports ${spec} (web halves use '@slipway/web')`);
            continue;
          }
          if (target === sdk.replace(/\.ts$/, '')) continue;
          if (isTestFile(file) && (target + path.sep).startsWith(testing)) continue;
          const other = moduleOf(target + path.sep);
          violations.push(`${path.relative(repo, file)} imports ${spec}${other ? ` (module ${other})` : ''}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('the platform names modules only in server/src/modules.ts and web/src/modules.ts', () => {
    const allowed = new Set([path.join(repo, 'server/src/modules.ts'), path.join(repo, 'web/src/modules.ts'), path.join(repo, 'server/src/testing/module-by-id.ts')]);
    const violations: string[] = [];
    for (const file of [...files(path.join(repo, 'server/src')), ...files(path.join(repo, 'web/src'))]) {
      if (allowed.has(file) || isTestFile(file)) continue;
      for (const { spec, target } of relativeImports(file)) {
        if ((target + path.sep).startsWith(modulesRoot)) violations.push(`${path.relative(repo, file)} imports ${spec}`);
      }
    }
    expect(violations).toEqual([]);
  });
});
