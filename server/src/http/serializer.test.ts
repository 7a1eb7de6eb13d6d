import { serializerCompiler as zodSerializerCompiler } from 'fastify-type-provider-zod';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { serializerCompiler } from './serializer.js';
import { SiteList } from '../../../modules/sites/server/sites.schema.js';

// Issue 16: responses are written by a serializer compiled from the route's zod schema. It must
// write exactly what zod's serializer writes, strip what the schema does not declare, and fail
// (500) where zod fails.
const compileBoth = (schema: z.ZodType) => {
  const args = { schema, method: 'GET', url: '/x', httpStatus: '200' } as never;
  return { fast: serializerCompiler(args), zod: zodSerializerCompiler(args) as (d: unknown) => string };
};
const outcome = (f: () => string) => {
  try {
    return { ok: f() };
  } catch (e) {
    return { error: (e as Error).name };
  }
};

const Item = z.object({
  id: z.string(), n: z.number(), flag: z.boolean(), kind: z.enum(['a', 'b']), lit: z.literal('ok'), nul: z.null(),
  maybe: z.string().nullable(), opt: z.number().optional(), nested: z.object({ x: z.number().int().min(0), when: z.string().default('now') }),
  list: z.array(z.union([z.string(), z.number()])), rec: z.record(z.string(), z.number()), any: z.unknown(),
  strict: z.strictObject({ s: z.string() }), at: z.date().optional(),
});
const Schema = z.object({ items: z.array(Item), total: z.number() });
const good = {
  id: 'i"1\u2028', n: -0.5, flag: false, kind: 'b', lit: 'ok', nul: null, maybe: null, nested: { x: 3, when: 'w' }, list: ['q', 2],
  rec: { k: 1 }, any: { deep: [1, 'x'] }, strict: { s: 's' },
};

describe('compiled response serializer', () => {
  it('writes what zod writes, byte for byte, and strips undeclared keys', () => {
    const { fast, zod } = compileBoth(Schema);
    const data = { items: [good, { ...good, opt: 4, maybe: 'm', nested: { x: 0, when: 'then', extra: 1 }, at: new Date(0) }], total: 2, secret: 'leak?' };
    const out = fast(data);
    expect(out).toBe(zod(data));
    expect(out).not.toContain('leak?');
    expect(out).not.toContain('extra');
    expect(JSON.parse(out).items[1].at).toBe('1970-01-01T00:00:00.000Z');
  });

  it('fails where zod fails: wrong types, missing keys, values outside the enum, NaN', () => {
    const { fast, zod } = compileBoth(Schema);
    const bad = [
      { items: [{ ...good, id: 1 }], total: 1 }, { items: [{ ...good, kind: 'c' }], total: 1 }, { items: [good], total: Number.NaN },
      { items: [{ ...good, flag: 'true' }], total: 1 }, { items: [{ ...good, nested: { x: -1, when: 'w' } }], total: 1 }, { items: [{ ...good, strict: { s: 's', t: 1 } }], total: 1 },
      { items: [(({ id: _id, ...rest }) => rest)(good)], total: 1 }, { items: 'none', total: 1 }, null,
    ];
    for (const b of bad) {
      expect(outcome(() => zod(b)).error).toBeDefined();
      expect(outcome(() => fast(b))).toEqual(outcome(() => zod(b)));
    }
  });

  it('writes the sites page as zod does', () => {
    const { fast, zod } = compileBoth(SiteList);
    const site = { id: 's', host: 'local', domain: 'a.example.com', type: 'wp', cache: null, php: '8.3', enabled: true, ssl: { enabled: true, provider: 'LE', expiresAt: 1, daysLeft: 2, checkedAt: null }, hsts: null, webroot: '/w', databaseName: null, diskBytes: 10, ownerId: null, state: 'ready', refreshedAt: 1, createdAt: 2, updatedAt: 3, owner_secret: 'x' };
    const page = { items: [site, { ...site, state: 'pending' }], total: 2, limit: 50, offset: 0, refreshedAt: null };
    expect(fast(page)).toBe(zod(page));
    expect(outcome(() => fast({ ...page, items: [{ ...site, state: 'gone' }] })).error).toBeDefined();
  });
});
