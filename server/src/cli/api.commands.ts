import type { Command } from 'commander';
import { action } from './action.js';

/**
 * `slipway api <operationId> [--field value …]`: calls any operation of a running panel with an API
 * token, reading the operation (method, path, parameters, body schema) from the panel's own
 * OpenAPI document, so every module's operations work without a CLI change. Prints the JSON answer;
 * a 4xx/5xx prints the `{ error }` body on stderr and exits 1. The token travels in the
 * Authorization header only: never printed, never in a URL.
 */

type Schema = { type?: string | string[]; properties?: Record<string, Schema>; items?: Schema; anyOf?: Schema[]; oneOf?: Schema[]; enum?: unknown[] };
interface Parameter { name: string; in: 'path' | 'query' | 'header' | 'cookie'; required?: boolean; schema?: Schema }
interface Operation { operationId?: string; summary?: string; parameters?: Parameter[]; requestBody?: { content?: Record<string, { schema?: Schema }> } }
interface Document { paths: Record<string, Record<string, Operation>> }

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** Where the panel answers: --url, $SLIPWAY_URL, $SLIPWAY_PUBLIC_URL, else this machine's SLIPWAY_LISTEN. */
export function panelUrl(given: string | undefined, env: NodeJS.ProcessEnv): string {
  const explicit = given ?? env.SLIPWAY_URL ?? env.SLIPWAY_PUBLIC_URL;
  if (explicit) return explicit.replace(/\/+$/, '');
  const listen = env.SLIPWAY_LISTEN ?? '127.0.0.1:8420';
  if (listen.startsWith('unix:')) throw new CliError('the panel listens on a unix socket: give --url (or SLIPWAY_URL) with the address your reverse proxy serves');
  const [host, port] = listen.startsWith('[') ? [listen.slice(0, listen.indexOf(']') + 1), listen.slice(listen.indexOf(']') + 2)] : [listen.slice(0, listen.lastIndexOf(':')), listen.slice(listen.lastIndexOf(':') + 1)];
  return `http://${host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${port}`;
}

class CliError extends Error {}

/** `--name value`, `--name=value` and bare `--flag` (true) into a map; anything else is refused. */
export function parseFields(args: string[]): Map<string, string | true> {
  const fields = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^--([A-Za-z_][A-Za-z0-9_.-]*)(?:=(.*))?$/s.exec(a);
    if (!m) throw new CliError(`unexpected argument ${JSON.stringify(a)}: fields are given as --name value`);
    if (m[2] !== undefined) fields.set(m[1]!, m[2]);
    else if (i + 1 < args.length && !/^--[A-Za-z_]/.test(args[i + 1]!)) fields.set(m[1]!, args[++i]!);
    else fields.set(m[1]!, true);
  }
  return fields;
}

function types(s: Schema | undefined): string[] {
  if (!s) return [];
  const own = s.type === undefined ? [] : [s.type].flat();
  return [...own, ...(s.anyOf ?? []).flatMap(types), ...(s.oneOf ?? []).flatMap(types)];
}

/** A command-line string as the schema's type: numbers, booleans, JSON for objects and arrays. */
export function coerce(name: string, raw: string | true, schema: Schema | undefined): unknown {
  const t = types(schema);
  if (raw === true) {
    if (!t.length || t.includes('boolean')) return true;
    throw new CliError(`--${name} needs a value`);
  }
  if (t.includes('string') && !t.some((x) => x === 'object' || x === 'array')) return raw;
  if ((t.includes('integer') || t.includes('number')) && /^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (t.includes('boolean') && (raw === 'true' || raw === 'false')) return raw === 'true';
  if (t.includes('null') && raw === 'null') return null;
  if (t.includes('array') && !/^\s*\[/.test(raw) && (schema?.items?.type === 'string' || types(schema?.items).includes('string'))) return raw.split(',');
  if (t.includes('object') || t.includes('array') || !t.length) {
    try {
      return JSON.parse(raw);
    } catch {
      if (t.length) throw new CliError(`--${name} must be JSON (${t.join(' or ')})`);
      return raw;
    }
  }
  return raw;
}

async function fetchDocument(base: string): Promise<Document> {
  let res: Response;
  try {
    res = await fetch(`${base}/api/openapi.json`, { headers: { accept: 'application/json' } });
  } catch (e) {
    throw new CliError(`cannot reach the panel at ${base}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new CliError(`${base}/api/openapi.json answered ${res.status}`);
  return (await res.json()) as Document;
}

function findOperation(doc: Document, id: string): { method: string; path: string; op: Operation } | undefined {
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const m of METHODS) if (item[m]?.operationId === id) return { method: m.toUpperCase(), path: p, op: item[m]! };
  }
  return undefined;
}

export interface ApiCall { url: string; token?: string; operationId?: string; args: string[]; data?: string; list?: boolean; out?: (s: string) => void; err?: (s: string) => void }

/** Runs one `slipway api` call; returns the exit code. */
export async function runApiCall(c: ApiCall): Promise<number> {
  const out = c.out ?? ((s: string) => void process.stdout.write(s));
  const err = c.err ?? ((s: string) => void process.stderr.write(s));
  const doc = await fetchDocument(c.url);
  if (c.list || !c.operationId) {
    const rows = Object.entries(doc.paths).flatMap(([p, item]) => METHODS.filter((m) => item[m]?.operationId).map((m) => [item[m]!.operationId!, `${m.toUpperCase()} ${p}`, item[m]!.summary ?? ''] as const));
    rows.sort((a, b) => a[0].localeCompare(b[0]));
    const w = Math.max(...rows.map((r) => r[0].length));
    out(rows.map((r) => `${r[0].padEnd(w)}  ${r[1]}  ${r[2]}`).join('\n') + '\n');
    return 0;
  }
  const found = findOperation(doc, c.operationId);
  if (!found) throw new CliError(`unknown operation ${c.operationId} (slipway api --list shows them)`);
  if (!c.token) throw new CliError('no API token: set SLIPWAY_API_TOKEN (or give --token); create one in the console under API tokens');
  const fields = parseFields(c.args);
  const params = found.op.parameters ?? [];
  const bodySchema = found.op.requestBody?.content?.['application/json']?.schema;
  let body: Record<string, unknown> | undefined = c.data !== undefined ? (() => {
    try {
      return JSON.parse(c.data!) as Record<string, unknown>;
    } catch {
      throw new CliError('--data must be a JSON object');
    }
  })() : undefined;
  let path = found.path;
  const query = new URLSearchParams();
  for (const [name, raw] of fields) {
    const p = params.find((x) => x.name === name && (x.in === 'path' || x.in === 'query'));
    if (p?.in === 'path') {
      if (raw === true) throw new CliError(`--${name} needs a value`);
      path = path.replace(`{${name}}`, encodeURIComponent(raw));
    } else if (p?.in === 'query') {
      const v = coerce(name, raw, p.schema);
      for (const item of Array.isArray(v) ? v : [v]) query.append(name, String(item));
    } else if (found.op.requestBody) {
      body = { ...(body ?? {}), [name]: coerce(name, raw, bodySchema?.properties?.[name]) };
    } else {
      throw new CliError(`${c.operationId} takes no field ${name} (its parameters: ${params.map((x) => x.name).join(', ') || 'none'})`);
    }
  }
  const missing = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  if (missing.length) throw new CliError(`${c.operationId} needs ${missing.map((m) => `--${m}`).join(', ')}`);
  for (const p of params) if (p.required && p.in === 'query' && !query.has(p.name)) throw new CliError(`${c.operationId} needs --${p.name}`);
  if (found.op.requestBody && body === undefined && found.method !== 'GET') body = {};

  const qs = query.toString();
  const res = await fetch(`${c.url}${path}${qs ? `?${qs}` : ''}`, {
    method: found.method,
    headers: { authorization: `Bearer ${c.token}`, accept: 'application/json, text/event-stream;q=0.5, */*;q=0.1', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = res.headers.get('content-type') ?? '';
  if (type.startsWith('text/event-stream') && res.ok) {
    // A stream: one JSON line per event until the server ends it (`end`), or Ctrl-C.
    const { readEvents } = await import('@slipway/client');
    for await (const e of readEvents(res)) {
      out(`${JSON.stringify(e)}\n`);
      if (e.event === 'end') break;
    }
    return 0;
  }
  const text = await res.text();
  let parsed: unknown = text;
  if (type.includes('json')) {
    try {
      parsed = JSON.parse(text);
    } catch {
      /* printed as text */
    }
  }
  if (!res.ok) {
    const error = (parsed as { error?: unknown } | null)?.error ?? { code: 'http_error', message: text.slice(0, 500) };
    err(`${JSON.stringify({ status: res.status, error }, null, 2)}\n`);
    return 1;
  }
  out(typeof parsed === 'string' ? (parsed.endsWith('\n') || !parsed ? parsed : `${parsed}\n`) : `${JSON.stringify(parsed, null, 2)}\n`);
  return 0;
}

export function registerApiCommand(program: Command): void {
  program
    .command('api')
    .description('Call any API operation of a running panel with an API token: slipway api <operationId> [--field value …] (slipway api --list)')
    .argument('[operationId]', 'the operation, e.g. listSites, createSite, getJob (see --list)')
    .argument('[fields...]', 'path, query and body fields as --name value (numbers, booleans and JSON are converted by the schema)')
    .option('--url <url>', 'the panel address (default $SLIPWAY_URL, $SLIPWAY_PUBLIC_URL, else this machine\'s SLIPWAY_LISTEN)')
    .option('--token <token>', 'API token (default $SLIPWAY_API_TOKEN; prefer the variable: arguments show in ps)')
    .option('--data <json>', 'the JSON body; --name value fields are merged into it')
    .option('--list', 'list every operation with its method, path and summary')
    .allowUnknownOption()
    .helpOption('-h, --help')
    .action(
      action(async (operationId: string | undefined, rest: string[], opts: { url?: string; token?: string; data?: string; list?: boolean }) => {
        try {
          return await runApiCall({ url: panelUrl(opts.url, process.env), token: opts.token ?? process.env.SLIPWAY_API_TOKEN, operationId, args: rest, data: opts.data, list: opts.list });
        } catch (e) {
          if (e instanceof CliError) {
            process.stderr.write(`error: ${e.message}\n`);
            return 2;
          }
          throw e;
        }
      }),
    );
}
