import { describe, expect, it } from 'vitest';
import { coerce, panelUrl, parseFields } from './api.commands.js';

describe('slipway api: arguments', () => {
  it('reads --name value, --name=value and bare flags, and refuses stray words', () => {
    expect([...parseFields(['--domain', 'a.example', '--php=8.3', '--hsts', '--limit', '5'])]).toEqual([['domain', 'a.example'], ['php', '8.3'], ['hsts', true], ['limit', '5']]);
    expect(() => parseFields(['listSites'])).toThrow(/fields are given as --name value/);
  });

  it('converts values by the schema: numbers, booleans, comma lists, JSON objects; strings stay strings', () => {
    expect(coerce('limit', '5', { type: 'integer' })).toBe(5);
    expect(coerce('hsts', 'false', { type: 'boolean' })).toBe(false);
    expect(coerce('hsts', true, { type: 'boolean' })).toBe(true);
    expect(coerce('name', '0123', { type: 'string' })).toBe('0123');
    expect(coerce('domains', 'a.example,b.example', { type: 'array', items: { type: 'string' } })).toEqual(['a.example', 'b.example']);
    expect(coerce('proxy', '{"host":"10.0.0.2","port":8080}', { type: 'object' })).toEqual({ host: '10.0.0.2', port: 8080 });
    expect(() => coerce('proxy', 'nope', { type: 'object' })).toThrow(/must be JSON/);
    expect(() => coerce('name', true, { type: 'string' })).toThrow(/needs a value/);
  });

  it('finds the panel from --url, SLIPWAY_URL, SLIPWAY_PUBLIC_URL, else SLIPWAY_LISTEN', () => {
    expect(panelUrl('https://p.example/', {})).toBe('https://p.example');
    expect(panelUrl(undefined, { SLIPWAY_URL: 'http://10.0.0.1:8420', SLIPWAY_PUBLIC_URL: 'https://x' })).toBe('http://10.0.0.1:8420');
    expect(panelUrl(undefined, { SLIPWAY_PUBLIC_URL: 'https://panel.example' })).toBe('https://panel.example');
    expect(panelUrl(undefined, {})).toBe('http://127.0.0.1:8420');
    expect(panelUrl(undefined, { SLIPWAY_LISTEN: '0.0.0.0:9000' })).toBe('http://127.0.0.1:9000');
    expect(() => panelUrl(undefined, { SLIPWAY_LISTEN: 'unix:/run/slipway.sock' })).toThrow(/--url/);
  });
});
