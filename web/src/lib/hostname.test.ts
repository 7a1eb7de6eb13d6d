import { describe, expect, it } from 'vitest';
import { domainNameProblem } from './hostname';

describe('domainNameProblem', () => {
  it('takes host names the servers take, IDN and one trailing dot included', () => {
    for (const ok of ['example.com', 'app.example.com', 'Shop.Example.NET', 'bücher.example', 'example.com.', ' a-b.example.org ']) expect(domainNameProblem(ok), ok).toBeNull();
  });
  it('refuses what the servers refuse, with a reason worded for the field', () => {
    for (const bad of ['', 'example', '-x.example.com', 'x-.example.com', 'a.com;id', 'a_b.example.com', 'a..example.com', `${'x'.repeat(64)}.example.com`, `${'a.'.repeat(127)}com`]) {
      expect(domainNameProblem(bad), bad).not.toBeNull();
    }
    expect(domainNameProblem('example', { noun: 'domain', example: 'example.com' })).toBe('A domain has at least two labels (example.com)');
    expect(domainNameProblem('app')).toBe('A host name has at least two labels (app.example.com)');
  });
});
