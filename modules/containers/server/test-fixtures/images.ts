import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { execa } from 'execa';
import * as tar from 'tar';

const here = path.dirname(fileURLToPath(import.meta.url));
/** busybox (static) with applet links and /www; `httpd -f -p 80 -h /www` serves it. */
export const BUSYBOX_IMAGE = 'slipway-test/busybox-www:1';

async function importRootfs(docker: Docker, root: string, repo: string, tag: string): Promise<void> {
  const stream = tar.c({ cwd: root, portable: true }, ['.']);
  const out = await docker.importImage(stream as unknown as NodeJS.ReadableStream, { repo, tag });
  await new Promise<void>((resolve, reject) => docker.modem.followProgress(out, (err) => (err ? reject(err) : resolve())));
}

async function imageExists(docker: Docker, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch {
    return false;
  }
}

export async function ensureBusyboxImage(docker = new Docker({ socketPath: '/var/run/docker.sock' })): Promise<string> {
  if (await imageExists(docker, BUSYBOX_IMAGE)) return BUSYBOX_IMAGE;
  const root = mkdtempSync(path.join(tmpdir(), 'slipway-busybox-image-'));
  try {
    for (const d of ['bin', 'www', 'tmp', 'etc']) mkdirSync(path.join(root, d));
    cpSync('/bin/busybox', path.join(root, 'bin/busybox'));
    const applets = (await execa('/bin/busybox', ['--list'])).stdout.split('\n').filter((a) => a && a !== 'busybox');
    for (const a of applets) symlinkSync('busybox', path.join(root, 'bin', a));
    writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(path.join(root, 'www/index.html'), 'hello from busybox\n');
    const [repo, tag] = BUSYBOX_IMAGE.split(':') as [string, string];
    await importRootfs(docker, root, repo, tag);
    return BUSYBOX_IMAGE;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * `slipway-test/node-ws:<hash>`: the machine's own node binary and its shared libraries plus
 * ws-server.mjs, imported as an image (no registry is reachable). Built once per script version.
 */
export async function ensureNodeWsImage(docker = new Docker({ socketPath: '/var/run/docker.sock' })): Promise<string> {
  const script = readFileSync(path.join(here, 'ws-server.mjs'));
  const tag = createHash('sha256').update(script).digest('hex').slice(0, 12);
  const ref = `slipway-test/node-ws:${tag}`;
  if (await imageExists(docker, ref)) return ref;
  const root = mkdtempSync(path.join(tmpdir(), 'slipway-node-image-'));
  try {
    const node = (await execa('readlink', ['-f', '/usr/bin/node'])).stdout.trim();
    const libs = (await execa('ldd', [node])).stdout
      .split('\n')
      .map((l) => /(\/\S+)\s+\(0x/.exec(l)?.[1])
      .filter((p): p is string => !!p);
    for (const file of [node, ...libs]) {
      const dest = path.join(root, file === node ? 'usr/bin/node' : file);
      mkdirSync(path.dirname(dest), { recursive: true });
      cpSync(file, dest, { dereference: true });
    }
    mkdirSync(path.join(root, 'app'), { recursive: true });
    mkdirSync(path.join(root, 'tmp'), { recursive: true });
    cpSync(path.join(here, 'ws-server.mjs'), path.join(root, 'app/server.mjs'));
    await importRootfs(docker, root, 'slipway-test/node-ws', tag);
    return ref;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export const NODE_WS_COMMAND = ['/usr/bin/node', '/app/server.mjs'];
