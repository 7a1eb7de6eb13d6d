import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Module web halves take the API's shapes from the generated OpenAPI types (web/src/api/schema.d.ts:
 * `ApiData<'/api/v1/…', 'get'>`, `ApiBody`, `ApiQuery`) and call the typed client, so a server change
 * that breaks a page fails `tsc -p web/tsconfig.json`. This test fails when a module copies a server
 * shape by hand again (web/src/MODULES.md, section 2).
 */

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const modulesDir = path.join(repo, 'modules');

function moduleWebFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.tsx?$/.test(e.name) && !/\.test\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
    }
  };
  for (const m of readdirSync(modulesDir, { withFileTypes: true })) {
    if (!m.isDirectory()) continue;
    try {
      walk(path.join(modulesDir, m.name, 'web'));
    } catch {
      // a module without a web half
    }
  }
  return out.sort();
}

const parse = (file: string, text = readFileSync(file, 'utf8')) => ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
const rel = (file: string) => path.relative(repo, file);

/** The object shapes a type alias spells out itself (through unions, intersections, arrays, parentheses). */
function literalShapes(node: ts.TypeNode): ts.TypeLiteralNode[] {
  if (ts.isTypeLiteralNode(node)) return [node];
  if (ts.isUnionTypeNode(node) || ts.isIntersectionTypeNode(node)) return node.types.flatMap(literalShapes);
  if (ts.isArrayTypeNode(node)) return literalShapes(node.elementType);
  if (ts.isParenthesizedTypeNode(node)) return literalShapes(node.type);
  return [];
}

const memberNames = (members: ts.NodeArray<ts.TypeElement>) =>
  members.flatMap((m) => (m.name && (ts.isIdentifier(m.name) || ts.isStringLiteral(m.name)) ? [m.name.text] : []));

/** `@stream`: the payload of an SSE/WebSocket stream, which the OpenAPI document does not describe. */
const isStreamPayload = (node: ts.Node) => ts.getJSDocTags(node).some((t) => t.tagName.text === 'stream');

/** Every hand-written object shape in a file: interfaces and object-literal type aliases, with their property names. */
function handWrittenShapes(file: string, text?: string): { name: string; line: number; props: string[]; stream: boolean }[] {
  const sf = parse(file, text);
  const out: { name: string; line: number; props: string[]; stream: boolean }[] = [];
  const visit = (n: ts.Node) => {
    const line = () => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
    if (ts.isInterfaceDeclaration(n)) out.push({ name: n.name.text, line: line(), props: memberNames(n.members), stream: isStreamPayload(n) });
    else if (ts.isTypeAliasDeclaration(n)) {
      for (const lit of literalShapes(n.type)) out.push({ name: n.name.text, line: line(), props: memberNames(lit.members), stream: isStreamPayload(n) });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** The property-name sets of every object the OpenAPI document describes (responses, bodies, their parts). */
function schemaShapes(): Set<string>[] {
  // web/src/api/schema.d.ts may re-export the generated file (`export type * from '…/schema'`): follow it.
  let file = path.join(repo, 'web/src/api/schema.d.ts');
  for (let hops = 0; hops < 3; hops++) {
    const from = /^export type \* from '([^']+)';$/m.exec(readFileSync(file, 'utf8'))?.[1];
    if (!from) break;
    file = path.resolve(path.dirname(file), from.replace(/(\.d)?(\.ts)?$/, '.d.ts'));
  }
  const sf = parse(file);
  const out: Set<string>[] = [];
  const visit = (n: ts.Node) => {
    if (ts.isTypeLiteralNode(n)) {
      const names = memberNames(n.members);
      // skip the generator's scaffolding (parameters, responses, content, headers …)
      if (names.length >= 3 && !names.includes('parameters') && !names.includes('query')) out.push(new Set(names));
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

describe('module web halves use the generated API types', () => {
  const files = moduleWebFiles();

  it('finds the module web halves', () => {
    expect(files.filter((f) => f.endsWith(`${path.sep}api.ts`)).map(rel)).toEqual(expect.arrayContaining(['modules/sites/web/api.ts', 'modules/vps/web/api.ts']));
  });

  it('no module api.ts declares an interface or an object type by hand (derive it from ApiData/ApiBody/ApiQuery)', () => {
    const offenders = files
      .filter((f) => f.endsWith(`${path.sep}api.ts`))
      .flatMap((f) => handWrittenShapes(f).filter((s) => !s.stream).map((s) => `${rel(f)}:${s.line} ${s.name} { ${s.props.join(', ')} }`));
    expect(offenders).toEqual([]);
  });

  const known = schemaShapes();
  const copiesIn = (f: string, text?: string) =>
    handWrittenShapes(f, text)
      .filter((s) => !s.stream && s.props.length >= 3)
      // A copy: only a server shape's property names, and all or nearly all of them (a form's draft
      // of a few fields of a resource is the page's own state, not a copy).
      .filter((s) => known.some((k) => s.props.every((p) => k.has(p)) && (s.props.length === k.size || (s.props.length >= 4 && s.props.length >= 0.8 * k.size))))
      .map((s) => `${rel(f)}:${s.line} ${s.name} { ${s.props.join(', ')} }`);

  it('recognises a hand-copied server shape (the check itself)', () => {
    const api = `export interface Site { id: string }\nexport type Ref = { id: string; name: string };\nexport type Site2 = ApiData<'/api/v1/sites', 'get'>;
      /** @stream one event */\nexport type Sample = { at: number };\nexport type ShowJob = (job: { id: string }) => void;`;
    expect(handWrittenShapes('api.ts', api).filter((s) => !s.stream).map((s) => s.name)).toEqual(['Site', 'Ref']);
    expect(known.length).toBeGreaterThan(100);
    // The sites list as modules/sites/web/api.ts used to copy it, and a certificate alert as it did (the server has added updatedAt since).
    const page = `interface SiteList { items: unknown[]; total: number; limit: number; offset: number; refreshedAt: number | null }
      type Cert = { id: string; host: string; domain: string; kind: string; daysLeft: number | null; expiresAt: number | null; message: string; createdAt: number };
      type Phase = { kind: 'idle' } | { kind: 'sending'; sent: number; total: number };`;
    expect(copiesIn(path.join(modulesDir, 'x/web/Page.tsx'), page)).toEqual([
      'modules/x/web/Page.tsx:1 SiteList { items, total, limit, offset, refreshedAt }',
      'modules/x/web/Page.tsx:2 Cert { id, host, domain, kind, daysLeft, expiresAt, message, createdAt }',
    ]);
  });

  it('no module web file hand-copies a shape the OpenAPI document describes', () => {
    const copies = files.flatMap((f) => copiesIn(f));
    expect(copies).toEqual([]);
  });

  it('module pages call the typed client, not the untyped getJson/sendJson', () => {
    const untyped = files.flatMap((f) => {
      const text = readFileSync(f, 'utf8');
      return [...text.matchAll(/\b(getJson|sendJson)\b/g)].map((m) => `${rel(f)}:${text.slice(0, m.index).split('\n').length} ${m[1]}`);
    });
    expect(untyped).toEqual([]);
  });
});
