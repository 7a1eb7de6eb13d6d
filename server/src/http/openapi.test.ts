import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { modules } from '../modules.js';
import * as errors from '../platform/errors.js';
import { defineModule } from '../platform/module.js';
import { createTestApp, type TestApp } from '../testing/harness.js';
import { ALL_ERROR_CODES, ERROR_STATUSES } from './openapi.js';

/**
 * The API contract (issue 17): the document the panel serves at /api/openapi.json passes Redocly
 * CLI's recommended rules with no error, and every route has an operationId, a summary, a tag,
 * a security requirement and its error responses. A route added without an operationId fails
 * here (and at start-up).
 */
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const redocly = path.join(repo, 'node_modules/@redocly/cli/bin/cli.js');

type Op = { operationId?: string; summary?: string; tags?: string[]; security?: unknown[]; responses: Record<string, { $ref?: string; content?: Record<string, unknown> }> };
type Doc = { openapi: string; info: { version: string; license?: { name: string } }; servers?: { url: string }[]; paths: Record<string, Record<string, Op>>; components: { schemas: Record<string, unknown>; responses: Record<string, unknown> } };

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
const operations = (doc: Doc) => Object.entries(doc.paths).flatMap(([p, item]) => Object.entries(item).filter(([m]) => METHODS.includes(m)).map(([m, op]) => ({ key: `${m.toUpperCase()} ${p}`, op })));

describe('OpenAPI contract', () => {
  let t: TestApp;
  let doc: Doc;

  beforeAll(async () => {
    t = await createTestApp({ modules, env: { SLIPWAY_PUBLIC_URL: 'https://panel.example.net' }, startBackground: false });
    doc = (await t.app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as Doc;
  });
  afterAll(async () => t?.close());

  it('passes Redocly CLI 2.77 with the recommended rules and no error', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'slipway-openapi-lint-'));
    try {
      const file = path.join(dir, 'openapi.json');
      writeFileSync(file, JSON.stringify(doc));
      const version = JSON.parse(readFileSync(path.join(repo, 'node_modules/@redocly/cli/package.json'), 'utf8')).version as string;
      expect(version).toBe('2.77.0');
      const r = spawnSync(process.execPath, [redocly, 'lint', file, '--extends=recommended', '--format=json', '--max-problems=1000'], {
        cwd: dir, encoding: 'utf8', env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' }, timeout: 120_000,
      });
      const start = r.stdout.indexOf('{');
      expect(start, `redocly printed no report:\n${r.stdout}\n${r.stderr}`).toBeGreaterThanOrEqual(0);
      const report = JSON.parse(r.stdout.slice(start)) as { totals: { errors: number }; problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[] };
      const found = report.problems.filter((p) => p.severity === 'error').map((p) => `${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`);
      expect(found).toEqual([]);
      expect(report.totals.errors).toBe(0);
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('documents every route of the route table, WebSockets included, with a unique operationId, summary, tag and security', () => {
    const documented = new Map(operations(doc).map((o) => [o.key, o.op]));
    const routes = t.app.routeTable.filter((r) => r.url.startsWith('/api/v1/') && r.method !== 'HEAD');
    expect(routes.length).toBeGreaterThan(100);
    const missing: string[] = [];
    for (const r of routes) {
      const key = `${r.method} ${r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`;
      const op = documented.get(key);
      if (!op?.operationId || !op.summary || !op.tags?.length || !op.security) missing.push(key);
      // Public routes need no credentials; every other one takes a bearer JWT or an API token.
      else expect(op.security, key).toEqual(r.access.public ? [] : expect.arrayContaining([{ bearer: [] }, { apiToken: [] }]));
    }
    expect(missing).toEqual([]);
    const ids = operations(doc).map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(['listSites', 'createVps', 'rollbackAppRelease', 'login', 'runSelftest', 'followJobLog', 'followJobLogWs', 'listAuditEntries']));
  });

  it('points every error response at the one shared Error schema, which lists the codes of platform/errors.ts', () => {
    for (const { key, op } of operations(doc)) {
      const statuses = Object.keys(op.responses).filter((s) => Number(s) >= 400);
      expect(statuses.some((s) => Number(s) < 500) || !op.security?.length, `${key} documents no 4xx`).toBe(true);
      for (const s of statuses) {
        const r = op.responses[s]!;
        // /ready answers its own body with 503 and the iPXE route a plain-text 404 (for iPXE);
        // every other error is the shared shape.
        if (['GET /api/v1/ready 503', 'GET /api/v1/netboot/boot/{file} 404'].includes(`${key} ${s}`)) continue;
        expect(r.$ref, `${key} ${s}`).toBe(`#/components/responses/${ERROR_STATUSES[s]!.name}`);
      }
    }
    const error = doc.components.schemas.Error as { properties: { error: { required: string[]; properties: { code: { description: string } } } } };
    expect(error.properties.error.required).toEqual(['code', 'message']);
    // Each AppError of the platform documents its status and its code.
    const ctors = (Object.values(errors) as unknown[]).filter((v): v is abstract new (...a: never[]) => errors.AppError => typeof v === 'function' && v.prototype instanceof errors.AppError);
    expect(ctors.length).toBeGreaterThanOrEqual(9);
    for (const C of ctors) {
      const e = new (C as unknown as new (message: string) => errors.AppError)('x');
      expect(ERROR_STATUSES[String(e.status)], `${C.name} status ${e.status}`).toBeDefined();
      expect(ERROR_STATUSES[String(e.status)]!.codes, C.name).toContain(e.code);
      expect(error.properties.error.properties.code.description).toContain(`\`${e.code}\``);
    }
    for (const code of ['module_unavailable', 'tool_failed', 'validation_failed']) expect(ALL_ERROR_CODES).toContain(code);
  });

  it('documents streams: SSE as text/event-stream with its event types, WebSockets with the subprotocol', () => {
    const sse = doc.paths['/api/v1/jobs/{id}/logs']!.get!;
    const stream = sse.responses['200']!.content!['text/event-stream'] as { schema: { description: string } };
    for (const event of ['log', 'state', 'end', 'revoked']) expect(stream.schema.description).toContain(`\`${event}\``);
    const ws = doc.paths['/api/v1/jobs/{id}/logs/ws']!.get! as Op & { description: string; 'x-websocket': { subprotocols: string[] } };
    expect(ws.responses['101']).toBeDefined();
    expect(ws['x-websocket'].subprotocols).toEqual(['slipway.v1', 'bearer.<token>']);
    expect(ws.description).toContain('bearer.<token>');
  });

  it('has servers from SLIPWAY_PUBLIC_URL, a license and the package version', () => {
    const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string };
    expect(doc.servers).toEqual([expect.objectContaining({ url: 'https://panel.example.net' })]);
    expect(doc.info.license?.name).toBe('AGPL-3.0-only');
    expect(doc.info.version).toBe(pkg.version);
  });

  it('refuses to start with a route that has no operationId', async () => {
    const bad = defineModule({
      id: 'nameless',
      title: 'Nameless',
      permissions: {},
      register(ctx) {
        ctx.http.get('/nameless', { config: { authenticated: true }, schema: { tags: ['nameless'], summary: 'No id', response: { 200: z.object({ ok: z.boolean() }) } } }, async () => ({ ok: true }));
      },
    });
    await expect(createTestApp({ modules: [bad], startBackground: false })).rejects.toThrow(/GET \/api\/v1\/nameless has no operationId/);
  });
});
