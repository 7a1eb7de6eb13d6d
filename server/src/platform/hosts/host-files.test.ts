import { execFileSync } from 'node:child_process';
import { appendFileSync, linkSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalProcessRunner } from '../../infra/process-runner.js';
import { FileMissingError, HostFiles, normalizeHostPath, UnsafeFileError } from './host-files.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, ok: () => boolean, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const base = mkdtempSync(path.join(tmpdir(), 'slipway-hostfiles-'));
const root = path.join(base, 'nginx');
const secretDir = path.join(base, 'data');
const secret = path.join(secretDir, 'secrets.json');
mkdirSync(root);
mkdirSync(secretDir);
writeFileSync(secret, '{"jwtKey":"TOP-SECRET-KEY"}\n');
afterAll(() => rmSync(base, { recursive: true, force: true }));

const runner = new LocalProcessRunner();
const policy = { roots: [root], deny: [secretDir] };
// The same adapter, once with node's fs (local) and once through the sh programs it sends over SSH.
const modes = [
  ['local', new HostFiles(runner, policy)],
  ['over a runner (SSH programs)', new HostFiles(runner, policy, { forceRemote: true })],
] as const;

describe.each(modes)('host files %s', (mode, files) => {
  const f = (name: string) => path.join(root, `${mode.replace(/\W/g, '')}-${name}`);

  it('tails a regular log under the root', async () => {
    writeFileSync(f('ok.log'), 'one\ntwo\nthree\n');
    expect(await files.tail(f('ok.log'), 2)).toEqual(['two', 'three']);
    expect((await files.available([f('ok.log'), f('missing.log')])).has(f('ok.log'))).toBe(true);
  });

  it('refuses a log that is a symbolic link to a secret (and never returns its content)', async () => {
    for (const target of [secret, '/etc/shadow', '/etc/passwd']) {
      rmSync(f('link.log'), { force: true });
      symlinkSync(target, f('link.log'));
      const err = await files.tail(f('link.log'), 50).catch((e: unknown) => e);
      expect(err, target).toBeInstanceOf(UnsafeFileError);
      expect((err as UnsafeFileError).code).toBe('unsafe_file');
      expect(String((err as Error).message)).not.toMatch(/TOP-SECRET|root:/);
      expect((await files.available([f('link.log')])).size).toBe(0);
      await expect(files.check(f('link.log'))).rejects.toBeInstanceOf(UnsafeFileError);
    }
    await files.check(f('never-written.log')); // missing is fine: nginx creates it on the first request
  });

  it('refuses a symbolic link anywhere in the path, a hard link, a FIFO and a path outside the root', async () => {
    const dirLink = path.join(root, `${mode.replace(/\W/g, '')}-dir`);
    rmSync(dirLink, { force: true });
    symlinkSync(secretDir, dirLink);
    await expect(files.tail(path.join(dirLink, 'secrets.json'), 5)).rejects.toBeInstanceOf(UnsafeFileError);

    const hard = f('hard.log');
    rmSync(hard, { force: true });
    linkSync(secret, hard);
    await expect(files.tail(hard, 5)).rejects.toBeInstanceOf(UnsafeFileError);
    expect((await files.available([hard])).size).toBe(0);

    const fifo = f('fifo.log');
    rmSync(fifo, { force: true });
    execFileSync('mkfifo', [fifo]);
    await expect(files.tail(fifo, 5)).rejects.toBeInstanceOf(UnsafeFileError);

    await expect(files.tail(secret, 5)).rejects.toBeInstanceOf(UnsafeFileError);
    await expect(files.tail('/etc/shadow', 5)).rejects.toBeInstanceOf(UnsafeFileError);
    await expect(files.tail(`${root}/../data/secrets.json`, 5)).rejects.toThrow(/unsafe path/);
  });

  it('answers a missing file as missing', async () => {
    await expect(files.tail(f('nope.log'), 5)).rejects.toBeInstanceOf(FileMissingError);
  });

  it('never returns the target while a link and a file are swapped under it (check on the opened descriptor)', async () => {
    const p = f('race.log');
    writeFileSync(p, 'benign\n');
    let stop = false;
    const swapper = (async () => {
      let i = 0;
      while (!stop) {
        const tmp = `${p}.${i++ % 2 ? 'l' : 'f'}`;
        if (i % 2) symlinkSync(secret, tmp);
        else writeFileSync(tmp, 'benign\n');
        renameSync(tmp, p);
        await sleep(mode === 'local' ? 2 : 25);
      }
    })();
    const seen: string[] = [];
    for (let i = 0; i < (mode === 'local' ? 300 : 60); i++) {
      const r = await files.tail(p, 5).catch((e: unknown) => [(e as Error).constructor.name]);
      seen.push(...r);
    }
    stop = true;
    await swapper;
    expect(seen.join('\n')).not.toContain('TOP-SECRET');
    expect(seen).toContain('benign');
  });

  it('follows appends and rotation, refuses a rotation into a link, resumes on a regular file', async () => {
    const p = f('follow.log');
    writeFileSync(p, 'before 1\nbefore 2\n');
    const lines: string[] = [];
    const notices: string[] = [];
    const h = await files.follow(p, 1, { onLines: (l) => lines.push(...l), onNotice: (m) => notices.push(m) }, { pollMs: 100 });
    try {
      await until('initial line', () => lines.includes('before 2'));
      expect(lines).not.toContain('before 1');
      await sleep(300);
      appendFileSync(p, 'live 1\n');
      await until('live line', () => lines.includes('live 1'));
      // a rotation replaced by a link to the panel's secrets: announced, never read
      renameSync(p, `${p}.1`);
      symlinkSync(secret, p);
      await until('refusal notice', () => notices.some((n) => /symbolic link|another file/.test(n)));
      await sleep(1500);
      expect(lines.join('\n')).not.toContain('TOP-SECRET');
      unlinkSync(p);
      writeFileSync(p, 'new file 1\n');
      await until('new file', () => lines.includes('new file 1'));
      expect(lines.join('\n')).not.toContain('TOP-SECRET');
    } finally {
      await h.stop();
    }
  });

  it('reads a small file whole; resolves one link only when asked and only to a target under the root', async () => {
    const tree = path.join(root, `${mode.replace(/\W/g, '')}-le`);
    mkdirSync(path.join(tree, 'archive', 'a.example'), { recursive: true });
    mkdirSync(path.join(tree, 'live', 'a.example'), { recursive: true });
    writeFileSync(path.join(tree, 'archive', 'a.example', 'cert1.pem'), 'PEM-1\n');
    const live = path.join(tree, 'live', 'a.example', 'cert.pem');
    rmSync(live, { force: true });
    symlinkSync('../../archive/a.example/cert1.pem', live);
    expect(await files.read(live, { resolveLink: true })).toBe('PEM-1\n');
    expect(await files.read(path.join(tree, 'archive', 'a.example', 'cert1.pem'), { maxBytes: 3 })).toBe('PEM');
    await expect(files.read(live)).rejects.toBeInstanceOf(UnsafeFileError); // no-follow unless asked
    // A link out of the root (the panel's secrets, /etc/shadow) is refused before anything is read.
    for (const target of [secret, '/etc/shadow']) {
      rmSync(live, { force: true });
      symlinkSync(target, live);
      const err = await files.read(live, { resolveLink: true }).catch((e: unknown) => e);
      expect(err, target).toBeInstanceOf(UnsafeFileError);
      expect(String((err as Error).message)).not.toMatch(/TOP-SECRET|root:/);
    }
    // Only one level: a link to a link is refused.
    rmSync(live, { force: true });
    symlinkSync('cert2.pem', live);
    symlinkSync(secret, path.join(tree, 'live', 'a.example', 'cert2.pem'));
    await expect(files.read(live, { resolveLink: true })).rejects.toBeInstanceOf(UnsafeFileError);
    await expect(files.read(path.join(tree, 'live', 'missing.pem'), { resolveLink: true })).rejects.toBeInstanceOf(FileMissingError);
  });

  it('measures a directory without following links in it', async () => {
    const dir = path.join(root, `${mode.replace(/\W/g, '')}-www`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'index.php'), 'x'.repeat(10_000));
    rmSync(path.join(dir, 'big'), { force: true });
    symlinkSync('/usr', path.join(dir, 'big'));
    const n = await files.diskUsage(dir);
    expect(n).toBeGreaterThanOrEqual(10_000);
    expect(n).toBeLessThan(1_000_000);
    expect(await files.diskUsage(path.join(root, 'no-such-dir'))).toBeNull();
    await expect(files.diskUsage(secretDir)).rejects.toBeInstanceOf(UnsafeFileError);
  });

  it('refuses to start following a log that is a link', async () => {
    const p = f('follow-link.log');
    rmSync(p, { force: true });
    symlinkSync(secret, p);
    await expect(files.follow(p, 10, { onLines: () => {}, onNotice: () => {} })).rejects.toBeInstanceOf(UnsafeFileError);
  });
});

describe('paths', () => {
  it('normalises and refuses traversal, NUL and newlines', () => {
    expect(normalizeHostPath('/var/log//nginx/')).toBe('/var/log/nginx');
    for (const bad of ['var/log', '/var/log/../../etc/shadow', '/var/log/a\0b', '/var/log/a\nb', '']) expect(() => normalizeHostPath(bad)).toThrow();
  });
});
