import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CreateSite, DomainError, parseDomain } from './sites.schema.js';
import { createArgs } from './wordops.cli.js';

describe('parseDomain', () => {
  it('accepts host names, lower-cases them, drops www. like WordOps and converts IDN to punycode', () => {
    expect(parseDomain('Example.COM')).toBe('example.com');
    expect(parseDomain('www.example.com')).toBe('example.com');
    expect(parseDomain('a-b.c-d.example.co.uk')).toBe('a-b.c-d.example.co.uk');
    expect(parseDomain('bücher.example')).toBe('xn--bcher-kva.example');
    expect(parseDomain('пример.рф')).toBe('xn--e1afmkfd.xn--p1ai');
    expect(parseDomain('example.com.')).toBe('example.com');
  });

  it.each([
    ['-a.example.com'], ['a-.example.com'], ['--all'], ['a..b'], ['a_b.example.com'], ['example'], ['1.2.3.4'],
    ['a.com;id'], ['a.com$(id)'], ['a.com`id`'], ['a.com\nb.com'], ['a.com b.com'], ['a.com/x'], ['http://a.com'],
    ['exаmple.com' /* Cyrillic а */], ['pаypal.com'], ['аррӏе.com' /* all Cyrillic look-alike */], ['ｅｘａｍｐｌｅ.com'], ['exa\u200Bmple.com'],
    ['a\u202Eb.com'], [`${'a'.repeat(64)}.com`], [`${'a.'.repeat(127)}com`], [''],
  ])('refuses %j', (input) => {
    expect(() => parseDomain(input)).toThrow(DomainError);
  });

  it('never yields anything but RFC 1123 labels, whatever the input', () => {
    fc.assert(fc.property(fc.string({ maxLength: 80 }), (s) => {
      let out: string;
      try {
        out = parseDomain(s);
      } catch (e) {
        return e instanceof DomainError;
      }
      return /^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/.test(out) && out.length <= 253;
    }), { numRuns: 2000 });
  });
});

describe('create options', () => {
  it('only allows options valid for the chosen type', () => {
    const ok = (o: object) => CreateSite.safeParse({ domain: 'a.example.com', ...o }).success;
    expect(ok({ type: 'wp', cache: 'wpredis', letsencrypt: 'on', hsts: true, php: '8.3' })).toBe(true);
    expect(ok({ type: 'html', cache: 'wpredis' })).toBe(false);
    expect(ok({ type: 'html', php: '8.3' })).toBe(false);
    expect(ok({ type: 'php', adminUser: 'admin' })).toBe(false);
    expect(ok({ type: 'proxy' })).toBe(false);
    expect(ok({ type: 'proxy', proxy: { host: 'backend', port: 3000 } })).toBe(true);
    expect(ok({ type: 'wp', hsts: true })).toBe(false);
    expect(ok({ type: 'wp', letsencrypt: 'wildcard' })).toBe(false);
    expect(ok({ type: 'wp', php: '9.9' })).toBe(false);
  });

  it('never produces an argv element that starts with - except WordOps\' own options', () => {
    const known = /^--(html|php|mysql|wp|wpsubdir|wpsubdomain|wpfc|wpsc|wpredis|wprocket|wpce|hsts|php\d\d|letsencrypt=(on|subdomain|wildcard)|dns=dns_[a-z0-9_]+|user=[A-Za-z0-9][A-Za-z0-9_.@-]*|email=[A-Za-z0-9][^\s]*|proxy=[a-z0-9.-]+:\d+)$/;
    const body = fc.record({
      domain: fc.oneof(fc.constantFrom('a.example.com', 'b.example.org'), fc.string()),
      type: fc.constantFrom('wp', 'wpsubdir', 'wpsubdomain', 'php', 'mysql', 'html', 'proxy'),
      php: fc.option(fc.constantFrom('7.4', '8.3', '-8.3', '8.3 --all'), { nil: undefined }),
      cache: fc.option(fc.constantFrom('basic', 'wpredis', '--wpfc'), { nil: undefined }),
      letsencrypt: fc.constantFrom('off', 'on', 'wildcard', '--on'),
      dnsProvider: fc.option(fc.constantFrom('dns_cf', '-x', 'dns_cf;id'), { nil: undefined }),
      adminUser: fc.option(fc.oneof(fc.string(), fc.constantFrom('admin', '-rf')), { nil: undefined }),
      adminEmail: fc.option(fc.oneof(fc.string(), fc.constantFrom('a@b.co', '--a@b.co')), { nil: undefined }),
      proxy: fc.option(fc.record({ host: fc.oneof(fc.constantFrom('127.0.0.1', '-oX'), fc.string()), port: fc.integer({ min: -1, max: 70000 }) }), { nil: undefined }),
    }, { requiredKeys: ['domain', 'type'] });
    fc.assert(fc.property(body, (b) => {
      const parsed = CreateSite.safeParse(b);
      if (!parsed.success) return true;
      const { domain, host: _host, ...o } = parsed.data;
      const args = createArgs(domain, o);
      return args.slice(0, 3).every((a) => !a.startsWith('-')) && args.slice(3).every((a) => known.test(a));
    }), { numRuns: 3000 });
  });
});
