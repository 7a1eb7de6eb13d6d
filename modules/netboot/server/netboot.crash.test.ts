import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalProcessRunner, QemuImg } from '../../../server/src/testing/index.js';
import { createTestApp, type SignedIn, type TestApp } from '../../../server/src/testing/harness.js';
import { freePort } from '../../../server/src/testing/ports.js';
import { createNetbootModule } from './index.js';
import { markerBootSector } from './test-fixtures/marker-mbr.js';
import { netbootTestEnv, uniqueTestIds } from './test-fixtures/runners.js';
import { parseShowTargets } from './tgt.cli.js';
import { fuseMounts, Writebacks } from './writeback.js';

/**
 * Kill -9 a real panel process while a machine's session is starting (its export and target made,
 * the job paused in a later step), start the panel again, and find no orphan target, export or
 * overlay: the reconcile on ready tears down what the dead job left, marks the session failed, and
 * the machine can be started and stopped again.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const run = new LocalProcessRunner();
const ids = uniqueTestIds();
const prefix = `iqn.2026-01.io.slipway.test:${ids.tag}`;
const name = `${ids.tag}-crash`;
let t: TestApp;
let admin: SignedIn;
let fixtures: string;
const children: ChildProcess[] = [];

function startPanel(port: number, extra: Record<string, string>) {
  const env: NodeJS.ProcessEnv = {
    ...process.env, SLIPWAY_DATA_DIR: t.dataDir, SLIPWAY_LISTEN: `127.0.0.1:${port}`, SLIPWAY_LOG_LEVEL: 'warn', SLIPWAY_JOB_WORKERS: '2', SLIPWAY_MODULES: 'netboot',
    ...netbootTestEnv(ids), ...extra,
  };
  delete env.SLIPWAY_TEST_DATABASE_URL;
  if (t.db.pgSchema) env.SLIPWAY_DATABASE_URL = `${t.db.url}${t.db.url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${t.db.pgSchema}`)}`;
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts', 'start'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const tgtOurs = async () => parseShowTargets((await run.exec('tgtadm', ['--lld', 'iscsi', '--mode', 'target', '--op', 'show'])).stdout).filter((x) => x.iqn.startsWith(`${prefix}:`));

beforeAll(async () => {
  fixtures = await mkdtemp('/tmp/slw-nbcrash-');
  // Not started: it only migrates the shared database and signs an admin in (same data dir, same keys).
  t = await createTestApp({ modules: [createNetbootModule()], env: netbootTestEnv(ids), startBackground: false });
  admin = await t.signIn('admin');
  await writeFile(`${fixtures}/d.raw`, markerBootSector());
  await truncate(`${fixtures}/d.raw`, 16 * 1024 * 1024);
  await run.exec('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', `${fixtures}/d.raw`, `${fixtures}/d.qcow2`]);
}, 120_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const x of await tgtOurs().catch(() => [])) await run.exec('tgtadm', ['--lld', 'iscsi', '--mode', 'target', '--op', 'delete', '--force', '--tid', String(x.tid)]).catch(() => {});
  if (t) {
    // a failed run may leave the daemonised export of the killed panel: stop it before the data dir goes
    const wb = new Writebacks(run, { dir: `${t.dataDir}/netboot/wb`, qemuImg: new QemuImg(run, { root: `${t.dataDir}/netboot` }) });
    for (const r of await wb.list().catch(() => [])) await wb.stop(r.name).catch(() => {});
  }
  await t?.close();
  await rm(fixtures, { recursive: true, force: true });
});

describe('netboot: the panel killed during a session start', () => {
  it('leaves no orphan target, export or overlay after a restart, and the machine starts again', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}/api/v1`;
    const call = async (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(`${base}${url}`, {
        method, headers: { ...admin.headers, ...(body !== undefined && !(body instanceof Buffer) ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body !== undefined ? { body: body instanceof Buffer ? body : JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, any> };
    };
    const first = startPanel(port, { SLIPWAY_NETBOOT_SESSION_STEP_DELAY_MS: '1500' });
    await until('the panel to answer', async () => (await fetch(`${base}/health`)).ok, 60_000).catch((e: Error) => { throw new Error(`${e.message}\n${first.output()}`); });
    const up = await call('POST', '/netboot/images?name=crash-os', await readFile(`${fixtures}/d.qcow2`), { 'content-type': 'application/octet-stream' });
    expect(up.status, JSON.stringify(up.body)).toBe(202);
    await until('the image to be ready', async () => (await call('GET', `/netboot/images/${up.body.image.id}`)).body.image?.status === 'ready', 60_000);
    const m = await call('POST', '/netboot/machines', { name, mac: '52:54:00:c7:a5:01', imageId: up.body.image.id });
    expect(m.status).toBe(201);
    const s = await call('POST', `/netboot/machines/${m.body.machine.id}/session`);
    expect(s.status).toBe(202);
    // mid-start: export and target exist, the job is paused in a later step
    await until('the job to be past the target step', async () => {
      const j = (await call('GET', `/jobs/${s.body.job.id}`)).body.job ?? (await call('GET', `/jobs/${s.body.job.id}`)).body;
      return j?.state === 'running' && j.currentStep >= 3;
    }, 60_000);
    expect((await tgtOurs()).map((x) => x.iqn)).toEqual([`${prefix}:${name}`]);
    const wbDir = `${t.dataDir}/netboot/wb`;
    expect(readdirSync(wbDir)).toContain(`${name}.qcow2`);

    first.child.kill('SIGKILL');
    await first.exited;
    // what a crash leaves: target, daemonised export and overlay are all still there
    expect((await tgtOurs()).length).toBe(1);
    expect(readdirSync(wbDir)).toContain(`${name}.export`);

    const second = startPanel(port, {});
    await until('the restarted panel to settle the session', async () => {
      const got = await call('GET', `/netboot/machines/${m.body.machine.id}`);
      return got.status === 200 && got.body.machine.session === null && got.body.machine.history[0]?.state === 'failed';
    }, 60_000).catch((e: Error) => { throw new Error(`${e.message}\n${second.output()}`); });
    expect(await tgtOurs()).toEqual([]);
    expect(readdirSync(wbDir)).toEqual([]);
    expect(fuseMounts(readFileSync('/proc/self/mountinfo', 'utf8')).filter((p) => p.startsWith(`${t.dataDir}/`))).toEqual([]);
    const job = (await call('GET', `/jobs/${s.body.job.id}`)).body;
    expect((job.job ?? job).state).toBe('interrupted');

    // and the machine works again
    const again = await call('POST', `/netboot/machines/${m.body.machine.id}/session`);
    expect(again.status).toBe(202);
    await until('the new session to be ready', async () => (await call('GET', `/netboot/machines/${m.body.machine.id}`)).body.machine.session?.state === 'ready', 60_000);
    expect((await tgtOurs()).map((x) => x.iqn)).toEqual([`${prefix}:${name}`]);
    const stop = await call('DELETE', `/netboot/machines/${m.body.machine.id}/session`);
    expect(stop.status).toBe(202);
    await until('the session to stop', async () => (await call('GET', `/netboot/machines/${m.body.machine.id}`)).body.machine.session === null, 60_000);
    expect(await tgtOurs()).toEqual([]);
    expect(readdirSync(wbDir)).toEqual([]);
    second.child.kill('SIGTERM');
    await second.exited;
  }, 240_000);
});
