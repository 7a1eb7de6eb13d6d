import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExecError } from '../infra/exec-error.js';
import type { JobStore } from './jobs/job.store.js';
import { JobLogWriter } from './jobs/job-log.writer.js';
import type { JobLogLine } from './jobs/types.js';
import { redactSecrets, redactSecretsText } from './redact.js';

const KEY_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.'.split('');
const SECRET_WORDS = ['pass', 'Password', 'PASSWD', 'passphrase', 'secret', 'Token', 'key', 'ApiKey', 'credentials', 'cookie', 'Auth'];

/** A value with a marker no key or prefix contains, so "it survived" cannot be a coincidence. */
const secretValue = fc.tuple(
  fc.string({ unit: fc.constantFrom(...'abcdefXYZ0189!#%&*+/=?@^~'.split('')), minLength: 4, maxLength: 24 }),
  fc.constantFrom('', ' with spaces', '"quoted"', ';x=1', '\tand a tab'),
).map(([v, tail]) => `Q${v}Z${tail}`);
const keyPart = fc.string({ unit: fc.constantFrom(...KEY_CHARS), maxLength: 8 });
const secretKey = fc.tuple(keyPart, fc.constantFrom(...SECRET_WORDS), keyPart).map(([a, w, b]) => `${a}${w}${b}`);
/** Whatever comes before the key, ending where a key may start (not inside another word). */
const prefix = fc.tuple(
  fc.string({ unit: fc.constantFrom(...'abc XYZ,;:[{("\'?&=|<>'.split('')), maxLength: 16 }),
  fc.constantFrom('', ' ', ',', '[', '{"', '?', '&', '/', '(', ';', ':', '|', ' Info '),
).map(([p, end]) => `${p}${end}`).filter((p) => p === '' || !/[A-Za-z0-9_.-]$/.test(p));
const separator = fc.constantFrom(':', ' : ', '=', ' = ', ':\t', ': ', '= ');
const quote = fc.constantFrom('', '"', "'");

describe('redactSecrets (one platform redaction)', () => {
  it('property: a value after any key spelling with a secret word never survives, wherever the key sits', () => {
    fc.assert(fc.property(prefix, quote, secretKey, separator, secretValue, (pre, q, key, sep, value) => {
      const line = `${pre}${q}${key}${q}${sep}${value}`;
      const out = redactSecrets(line);
      expect(out).not.toContain(value.trim().split(/\s/)[0]);
      expect(out).toContain('[redacted]');
      expect(out.startsWith(`${pre}${q}${key}`)).toBe(true); // the key stays readable
    }), { numRuns: 2000 });
  });

  it('property: credentials in URLs, flags and HTTP headers never survive', () => {
    const cred = fc.string({ unit: fc.constantFrom(...'abcdefXYZ0189!#%&*+=?^~'.split('')), minLength: 8, maxLength: 20 }).map((v) => `Q${v}Z`);
    fc.assert(fc.property(cred, fc.constantFrom('postgres', 'mysql', 'https', 'redis', 'git+ssh'), (pw, scheme) => {
      expect(redactSecrets(`cloning ${scheme}://deploy:${pw}@db.example.com/x failed`)).not.toContain(pw);
    }), { numRuns: 500 });
    fc.assert(fc.property(cred, fc.constantFrom('--password', '--db-pass', '--api-key', '--secret', '--token'), fc.constantFrom(' ', '='), (pw, flag, sep) => {
      expect(redactSecrets(`running tool ${flag}${sep}${pw} --verbose`)).not.toContain(pw);
    }), { numRuns: 500 });
    const token = fc.string({ unit: fc.constantFrom(...'abcXYZ0189-_.~+/='.split('')), minLength: 8, maxLength: 40 }).map((v) => `Q${v}Z`);
    fc.assert(fc.property(token, fc.constantFrom('Bearer', 'Basic'), (pw, scheme) => {
      expect(redactSecrets(`curl -H "X: ${scheme} ${pw}"`)).not.toContain(pw);
    }), { numRuns: 300 });
  });

  it('property: redacting twice changes nothing more (what is stored stays stable)', () => {
    fc.assert(fc.property(fc.string({ maxLength: 120 }), (line) => {
      const once = redactSecrets(line);
      expect(redactSecrets(once)).toBe(once);
    }), { numRuns: 2000 });
  });

  it('redacts the lines the old word-boundary pattern let through', () => {
    for (const [line, expected] of [
      ['DB_PASSWORD=hunter2', 'DB_PASSWORD=[redacted]'],
      ['MYSQL_ROOT_PASSWORD = hunter2', 'MYSQL_ROOT_PASSWORD = [redacted]'],
      ['export AWS_SECRET_ACCESS_KEY=hunter2', 'export AWS_SECRET_ACCESS_KEY=[redacted]'],
      ['user:token=hunter2', 'user:token=[redacted]'],
      ['HTTP Auth Password : hunter2', 'HTTP Auth Password : [redacted]'],
      ['DB_PASS\t\t\t hunter2', 'DB_PASS\t\t\t [redacted]'],
      ['{"apiKey":"hunter2","user":"bob"}', '{"apiKey":[redacted]'],
      ['Authorization: Bearer abcdefgh12345678', 'Authorization: [redacted]'],
      ['-----BEGIN OPENSSH PRIVATE KEY-----', '[redacted private key]'],
    ]) expect(redactSecrets(line!), line).toBe(expected);
  });

  it('keeps ordinary lines', () => {
    for (const l of [
      'WordPress admin user : admin', 'Successfully created site http://passport.example.com', 'HTTP Auth User Name: WordOps',
      'access_log\t\t /var/www/a/logs/access.log', 'Digest: sha256:0123456789abcdef', 'Status: Downloaded newer image for nginx:1.27',
      'Author: Jane Doe', 'Step 3/7 : RUN npm ci', 'created slw-0193-web (nginx:1.27; 256 MB, 1 CPU, 256 processes)',
    ]) expect(redactSecrets(l), l).toBe(l);
  });

  it('a private key in a text is removed up to its END line', () => {
    const text = ['before', '-----BEGIN RSA PRIVATE KEY-----', 'MIIEpAIBAAKCAQEA7', 'abcdef', '-----END RSA PRIVATE KEY-----', 'after password=x'].join('\n');
    const out = redactSecretsText(text);
    expect(out).not.toContain('MIIEpAIBAAKCAQEA7');
    expect(out).not.toContain('abcdef');
    expect(out.split('\n')[0]).toBe('before');
    expect(out.split('\n').at(-1)).toBe('after password=[redacted]');
  });

  it('stays linear on hostile lines (a log line cannot stall the writer)', () => {
    for (const hostile of [
      '-'.repeat(100_000), 'key'.repeat(40_000), ' '.repeat(100_000) + '1\tx', `${'a'.repeat(100_000)}:`, '//a:'.repeat(25_000), `--${'x'.repeat(100_000)}`,
      'pass '.repeat(20_000), `-----BEGIN ${'A '.repeat(50_000)}`,
    ]) {
      const started = performance.now();
      redactSecrets(hostile);
      expect(performance.now() - started, hostile.slice(0, 20)).toBeLessThan(250);
    }
  });

  it('ExecError reasons use it (DB_PASSWORD=… is not shown to the user)', () => {
    const e = new ExecError(['mysql'], 1, 'connecting\nerror: DB_PASSWORD=hunter2 rejected\n');
    expect(e.userReason).toBe('error: DB_PASSWORD=[redacted]');
    expect(e.userReason).not.toContain('hunter2');
  });

  it('the job log writer redacts every line before followers see it or it is stored', async () => {
    const stored: JobLogLine[] = [];
    const live: string[] = [];
    const store = { insertLines: async (_id: string, lines: JobLogLine[]) => void stored.push(...lines) } as unknown as JobStore;
    const w = new JobLogWriter(store, 'job-1', 0, (l) => live.push(l.line), () => {});
    w.append('HTTP Auth Password : hunter2', 'stdout');
    w.append('export DB_PASSWORD=hunter2');
    await w.close();
    expect(live).toEqual(['HTTP Auth Password : [redacted]', 'export DB_PASSWORD=[redacted]']);
    expect(stored.map((l) => l.line)).toEqual(live);
  });
});
