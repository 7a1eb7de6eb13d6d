import { serializerCompiler as zodSerializerCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';

/**
 * Response serialisation compiled from the route's zod schema (issue 16).
 *
 * fastify-type-provider-zod encodes every response with zod (a new object per object, an issue
 * list, checks) and then JSON.stringify()s the result: for a page of 50 sites that is twice the
 * cost of JSON.stringify alone. Here each schema is compiled once into a function that checks the
 * value's type and writes its JSON in the same walk, with the same guarantees:
 * - only the keys the schema declares are written, in the schema's order (unknown keys are
 *   stripped, as zod's default object does), so nothing undeclared leaks;
 * - a value that does not match (wrong type, missing required key, a value outside an enum) is
 *   handed to zod's own serializer, which fails the response exactly as before (500).
 * Plain objects (strip mode), arrays, nullable, optional properties and check-free strings,
 * numbers, booleans, null, enums and literals are compiled; any other node (checks, defaults,
 * unions, records, dates, transforms, strict or loose objects) is encoded by zod itself, node by
 * node, so its output is zod's.
 */

/** Thrown by a compiled serializer when the value does not match: zod then serialises (and fails) it. */
const MISMATCH = Symbol('mismatch');
/** undefined: the value is omitted (an optional property that is absent). */
type Ser = (v: unknown) => string | undefined;

type Node = z.core.$ZodType & { _zod: { def: { type: string; checks?: unknown[]; [k: string]: unknown } } };

const fail = (): never => {
  throw MISMATCH;
};

function viaZod(schema: Node): Ser {
  return (v) => {
    const r = z.safeEncode(schema as unknown as z.ZodType, v as never);
    if (!r.success) fail();
    return r.data === undefined ? undefined : JSON.stringify(r.data);
  };
}

function compile(schema: Node): Ser {
  const def = schema._zod.def;
  const plain = !def.checks || def.checks.length === 0;
  switch (plain ? def.type : '') {
    case 'string':
      return (v) => (typeof v === 'string' ? JSON.stringify(v) : fail());
    case 'number':
      // zod's number refuses NaN and the infinities
      return (v) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : fail());
    case 'boolean':
      return (v) => (v === true ? 'true' : v === false ? 'false' : fail());
    case 'null':
      return (v) => (v === null ? 'null' : fail());
    case 'enum': {
      const values = new Set(Object.values(def.entries as Record<string, unknown>));
      return (v) => (values.has(v) && (typeof v === 'string' || typeof v === 'number') ? JSON.stringify(v) : fail());
    }
    case 'literal': {
      const values = def.values as unknown[];
      if (!values.every((x) => typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x)) || x === null)) return viaZod(schema);
      return (v) => (values.includes(v) ? JSON.stringify(v) : fail());
    }
    case 'nullable': {
      const inner = compile(def.innerType as Node);
      return (v) => (v === null ? 'null' : inner(v));
    }
    case 'array': {
      const item = compile(def.element as Node);
      return (v) => {
        if (!Array.isArray(v)) return fail();
        let out = '[';
        for (let i = 0; i < v.length; i++) out += (i ? ',' : '') + (item(v[i]) ?? 'null');
        return out + ']';
      };
    }
    case 'object': {
      if (def.catchall !== undefined) return viaZod(schema); // strict or loose: zod's rules
      const shape = def.shape as Record<string, Node>;
      const props = Object.entries(shape).map(([key, s]) => {
        const optional = s._zod.def.type === 'optional' && (!s._zod.def.checks || s._zod.def.checks.length === 0);
        return { key, prefix: `${JSON.stringify(key)}:`, optional, ser: compile((optional ? s._zod.def.innerType : s) as Node) };
      });
      return (v) => {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail();
        const o = v as Record<string, unknown>;
        let out = '{';
        let first = true;
        for (const p of props) {
          const x = o[p.key];
          if (x === undefined && p.optional) continue;
          const s = p.ser(x);
          if (s === undefined) continue;
          out += (first ? '' : ',') + p.prefix + s;
          first = false;
        }
        return out + '}';
      };
    }
    default:
      return viaZod(schema);
  }
}

type CompilerArgs = Parameters<typeof zodSerializerCompiler>[0];

/** Fastify's serializer compiler: the compiled writer, zod's own serializer for what does not match. */
export const serializerCompiler = (args: CompilerArgs): ((data: unknown) => string) => {
  const slow = zodSerializerCompiler(args) as (data: unknown) => string;
  const schema = args.schema as unknown;
  if (!(schema instanceof z.core.$ZodType)) return slow;
  const fast = compile(schema as Node);
  return (data) => {
    try {
      const out = fast(data);
      if (out !== undefined) return out;
    } catch (e) {
      if (e !== MISMATCH) throw e;
    }
    return slow(data);
  };
};
