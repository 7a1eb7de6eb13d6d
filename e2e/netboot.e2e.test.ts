import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markerBootSector } from '../modules/netboot/server/test-fixtures/marker-mbr.js';
import { netbootTestEnv, uniqueTestIds } from '../modules/netboot/server/test-fixtures/runners.js';
import { parseShowTargets } from '../modules/netboot/server/tgt.cli.js';
import { Writebacks } from '../modules/netboot/server/writeback.js';
import { LocalProcessRunner } from '../server/src/infra/process-runner.js';
import { QemuImg } from '../server/src/infra/qemu-img.js';
import { createFirstAdmin, launchChromium, shot, signInThroughForm, watchErrors } from './browser.js';
import { buildWeb, repoRoot, startPanel, type Panel } from './panel.js';

/**
 * The netboot console in Chromium against a panel on the real engines (tgtd, qemu-storage-daemon,
 * FUSE, qemu-img): upload an image (progress, browser SHA-256), register a machine, import more
 * from CSV, start its session, log in over iSCSI as the machine's initiator (qemu-io, kept open) so
 * it shows online, write to its disk, commit the writeback with a comment, and see version 2.
 */
const ADMIN = { username: 'admin', email: 'admin@example.test', password: 'Harbour-Lantern-Quietly-42' };
const run = new LocalProcessRunner();
const ids = uniqueTestIds();
const prefix = `iqn.2026-01.io.slipway.test:${ids.tag}`;
const name = `${ids.tag}-pc1`;
const docs = path.join(repoRoot, 'docs/screenshots');

let panel: Panel;
let browser: Browser;
let page: Page;
let errors: string[];
let fixtures: string;
let initiator: ChildProcess | null = null;
let initiatorOutput = () => '';

const tgtOurs = async () => parseShowTargets((await run.exec('tgtadm', ['--lld', 'iscsi', '--mode', 'target', '--op', 'show'])).stdout).filter((x) => x.iqn.startsWith(`${prefix}:`));

/** Desktop screenshots for the docs, light and dark. */
async function docShot(p: Page, file: string) {
  mkdirSync(docs, { recursive: true });
  // toasts would cover the page's actions
  for (const b of await p.locator('.mantine-Notification-closeButton').all()) await b.click().catch(() => {});
  await expect.poll(() => p.locator('.mantine-Notification-root').count()).toBe(0);
  await p.mouse.move(1360, 890); // no hover highlight
  for (const scheme of ['light', 'dark'] as const) {
    await p.emulateMedia({ colorScheme: scheme });
    await expect.poll(() => p.locator('html').getAttribute('data-mantine-color-scheme')).toBe(scheme);
    await p.waitForTimeout(300); // transitions
    await p.screenshot({ path: path.join(docs, `netboot-${file}-${scheme}.png`), fullPage: true });
  }
  await p.emulateMedia({ colorScheme: 'light' });
}

/**
 * A qemu-io process logged in to the machine's target as its initiator and kept open (the machine
 * is "online"). qemu-io polls its iSCSI connection only while a command runs, so a read every 2 s
 * keeps the session answering tgtd like a running machine would.
 */
function loginAsMachine(): { proc: ChildProcess; output(): string; send(cmd: string, done: RegExp): Promise<string> } {
  const proc = spawn('qemu-io', ['--image-opts',
    `driver=raw,file.driver=iscsi,file.transport=tcp,file.portal=127.0.0.1:3260,file.target=${prefix}:${name},file.lun=1,file.initiator-name=${prefix}:initiator.${name}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const keepalive = setInterval(() => proc.stdin!.write('read 0 512\n'), 2000);
  proc.once('exit', () => clearInterval(keepalive));
  return {
    proc,
    output: () => out,
    send: async (cmd: string, done: RegExp) => {
      const from = out.length;
      proc.stdin!.write(`${cmd}\n`);
      const deadline = Date.now() + 30_000;
      while (!done.test(out.slice(from))) {
        if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`qemu-io: ${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return out.slice(from);
    },
  };
}

beforeAll(async () => {
  fixtures = await mkdtemp('/tmp/slw-nbe2e-');
  // The same disk as the server tests: a boot sector that writes a marker, in a 16 MiB (sparse) disk.
  await writeFile(`${fixtures}/m.raw`, markerBootSector());
  await truncate(`${fixtures}/m.raw`, 16 * 1024 * 1024);
  await run.exec('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', `${fixtures}/m.raw`, `${fixtures}/marker-os.qcow2`]);
  buildWeb();
  panel = await startPanel({ SLIPWAY_MODULES: 'netboot', ...netbootTestEnv(ids, { SLIPWAY_NETBOOT_SESSION_POLL_MS: '2000' }) });
  await createFirstAdmin(panel.setupUrl, ADMIN);
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1366, height: 900 }, colorScheme: 'light' })).newPage();
  errors = watchErrors(page);
  await signInThroughForm(page, panel.url, ADMIN);
});

afterAll(async () => {
  initiator?.kill('SIGTERM');
  await browser?.close();
  // tgtd and the daemonised qemu-storage-daemon outlive the panel: take down what this test made
  for (const x of await tgtOurs().catch(() => [])) await run.exec('tgtadm', ['--lld', 'iscsi', '--mode', 'target', '--op', 'delete', '--force', '--tid', String(x.tid)]).catch(() => {});
  if (panel) {
    const wb = new Writebacks(run, { dir: `${panel.dataDir}/netboot/wb`, qemuImg: new QemuImg(run, { root: `${panel.dataDir}/netboot` }) });
    for (const r of await wb.list().catch(() => [])) await wb.stop(r.name).catch(() => {});
  }
  await panel?.stop();
  if (fixtures) await rm(fixtures, { recursive: true, force: true });
});

describe('netboot console in Chromium (real tgtd, qemu-storage-daemon, FUSE)', () => {
  it('uploads an image with progress and a browser-computed SHA-256; the conversion makes it ready', async () => {
    await page.goto(`${panel.url}/netboot/images`);
    await page.getByText('No images yet').waitFor();
    await page.getByRole('button', { name: 'Upload image' }).first().click();
    const dialog = page.getByRole('dialog');
    await dialog.locator('input[type="file"]').setInputFiles(`${fixtures}/marker-os.qcow2`);
    expect(await dialog.getByLabel(/^Name/).inputValue()).toBe('marker-os');
    await dialog.getByLabel(/^Comment/).fill('first install');
    await dialog.getByRole('button', { name: 'Upload' }).click();
    await dialog.getByText('marker-os uploaded').waitFor({ timeout: 60_000 });
    await dialog.getByRole('button', { name: 'Close' }).click();
    await page.getByRole('cell', { name: 'ready' }).waitFor({ timeout: 60_000 });
    await page.getByRole('cell', { name: 'marker-os' }).click();
    await page.getByRole('cell', { name: 'first install' }).waitFor();
    // the browser hashed the file and the server checked it
    await expect.poll(() => page.locator('td code').first().textContent()).toMatch(/^[0-9a-f]{12}$/);
  });

  it('registers a machine (MAC normalised) and imports more from CSV, with per-line errors first', async () => {
    await page.goto(`${panel.url}/netboot`);
    await page.getByText('No machines yet').waitFor();
    await page.getByRole('button', { name: 'New machine' }).first().click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel(/^Name/).fill(name);
    await dialog.getByLabel(/^MAC address/).fill('01:00:5e:00:00:01');
    await dialog.getByRole('button', { name: 'Register machine' }).click();
    await dialog.getByText('a multicast MAC address is not a machine').waitFor();
    await dialog.getByLabel(/^MAC address/).fill('52-54-00-E2-E0-01');
    await dialog.getByLabel('Image', { exact: true }).click();
    await page.getByRole('option', { name: 'marker-os' }).click();
    await dialog.getByLabel(/^Group/).fill('lab-1');
    await dialog.getByRole('button', { name: 'Register machine' }).click();
    await page.getByRole('cell', { name: new RegExp(`^${name}`) }).waitFor();
    await page.getByText('52:54:00:e2:e0:01').waitFor();

    await page.getByRole('button', { name: 'Import CSV' }).click();
    const csv = page.getByRole('dialog').getByLabel('CSV', { exact: true });
    await csv.fill(`name,mac,image,group\n${ids.tag}-pc2,52:54:00:e2:e0:02,marker-os,lab-1\n${ids.tag}-pc3,ff:ff:ff:ff:ff:ff,marker-os,lab-1`);
    await page.getByRole('dialog').getByRole('button', { name: 'Import' }).click();
    await page.getByTestId('import-errors').getByText('line 3').waitFor();
    await csv.fill(`name,mac,image,group,bootMode\n${ids.tag}-pc2,52:54:00:e2:e0:02,marker-os,lab-1,iscsi\n${ids.tag}-pc3,52:54:00:e2:e0:03,marker-os,lab-2,iscsi\n${ids.tag}-pc4,52:54:00:e2:e0:04,,lab-2,local`);
    await page.getByRole('dialog').getByRole('button', { name: 'Import' }).click();
    await page.getByRole('cell', { name: new RegExp(`^${ids.tag}-pc4`) }).waitFor();
    expect(await page.locator('tbody tr').count()).toBe(4);
  });

  it('starts the session from the machine page; an iSCSI login as the machine shows it online', async () => {
    await page.getByRole('cell', { name: new RegExp(`^${name}`) }).click();
    await page.getByRole('heading', { name }).waitFor();
    await page.getByRole('button', { name: 'Start session' }).click();
    await page.getByTestId('job-progress').getByText('succeeded').waitFor({ timeout: 60_000 });
    expect((await tgtOurs()).map((x) => x.iqn)).toEqual([`${prefix}:${name}`]);
    const login = loginAsMachine();
    initiator = login.proc;
    initiatorOutput = login.output;
    expect(await login.send('write -P 0x41 1M 256k', /wrote \d+\/\d+ bytes/)).toContain('wrote 262144/262144 bytes');
    await page.locator('[data-status="online"]').first().waitFor({ timeout: 30_000 });
    await page.getByText(/iSCSI login from 127\.0\.0\.1/).waitFor();
    await page.getByText('Writeback', { exact: true }).first().waitFor();
    await expect.poll(async () => page.getByText(/It holds/).textContent(), { timeout: 20_000 }).not.toContain(' 0 B');
    await docShot(page, 'machine');

    await page.getByRole('tab', { name: 'Sessions' }).click();
    await page.getByRole('cell', { name: /127\.0\.0\.1 · since/ }).waitFor({ timeout: 30_000 });
    await page.getByRole('cell', { name: `${prefix}:${name}` }).waitFor();
    await shot(page, 'netboot', 'sessions');

    await page.goto(`${panel.url}/netboot`);
    await page.locator('tbody [data-status="online"]').waitFor({ timeout: 30_000 }).catch((e: unknown) => {
      throw new Error(`not online in the table (qemu-io exit ${initiator?.exitCode}): ${initiatorOutput().slice(-2000)}\n${String(e)}`);
    });
    await page.getByText(/127\.0\.0\.1 · since/).waitFor();
    await docShot(page, 'machines');
  });

  it('commits the running machine\'s writeback as version 2 with a comment', async () => {
    await page.getByRole('cell', { name: new RegExp(`^${name}`) }).click();
    await page.getByRole('button', { name: 'Commit as new version…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Commit' }).click();
    await dialog.getByText(/A comment is required/).waitFor();
    await dialog.getByLabel(/^Comment/).fill('installed the e2e marker');
    await dialog.getByRole('button', { name: 'Commit' }).click();
    await page.getByTestId('job-progress').getByText('Commit writeback as a new image version').waitFor({ timeout: 30_000 });
    await page.getByTestId('job-progress').getByText('succeeded').waitFor({ timeout: 90_000 });
    // still online: a live commit does not disturb the machine
    expect(await page.locator('[data-status="online"]').count()).toBeGreaterThan(0);

    await page.getByRole('link', { name: /marker-os/ }).first().click();
    await page.getByText('installed the e2e marker').waitFor({ timeout: 30_000 }).catch(async (e: unknown) => {
      await page.screenshot({ path: '/tmp/nb-debug.png', fullPage: true });
      throw e;
    });
    await page.getByText('v2').first().waitFor();
    await page.getByText(`committed from ${name}`).waitFor();
    await docShot(page, 'image');
    await page.getByRole('tab', { name: 'Images' }).click();
    await page.waitForURL(/\/netboot\/images$/);
    await page.getByRole('cell', { name: 'v2', exact: true }).waitFor();
    await docShot(page, 'images');
  });

  it('boot server settings: proxyDHCP on a LAN network; the generated dnsmasq config is shown read-only, tokens redacted', async () => {
    await page.getByRole('tab', { name: 'Boot server' }).click();
    await page.getByTestId('dnsmasq-none').waitFor();
    await page.getByLabel(/^LAN network/).fill('10.20.0.1/24');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('a network address has its host bits zero', { exact: false }).waitFor();
    await page.getByLabel(/^LAN network/).fill('10.20.0.0/24');
    await page.getByLabel('proxyDHCP').check({ force: true });
    await page.getByRole('button', { name: 'Save' }).click();
    const config = page.getByTestId('dnsmasq-config');
    await config.waitFor({ timeout: 15_000 });
    expect(await config.textContent()).toContain('10.20.0.0');
    expect(await config.textContent()).toContain('token=[redacted]');
    expect(await config.textContent()).not.toMatch(/token=[A-Za-z0-9_-]{43}/);
    await shot(page, 'netboot', 'settings');
    await page.getByRole('tab', { name: 'Images' }).click();
    await page.getByRole('cell', { name: 'marker-os' }).waitFor();
  });

  it('a version in use is refused with the machines using it; the session stops with nothing left', async () => {
    await page.getByRole('cell', { name: 'marker-os' }).click();
    await page.getByRole('button', { name: 'Delete v1' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete version' }).click();
    const alert = page.getByTestId('in-use');
    await alert.getByText(/is in use by/).waitFor();
    await alert.getByRole('link', { name }).waitFor();

    initiator?.kill('SIGTERM');
    initiator = null;
    await alert.getByRole('link', { name }).click();
    await page.getByRole('button', { name: 'Stop session' }).click();
    await page.getByTestId('job-progress').getByText('Stop netboot session').waitFor({ timeout: 30_000 });
    await page.getByTestId('job-progress').getByText('succeeded').waitFor({ timeout: 60_000 });
    await expect.poll(tgtOurs, { timeout: 20_000 }).toEqual([]);
    await page.getByText('There is none now.', { exact: false }).waitFor({ timeout: 20_000 });
    expect(errors).toEqual([]);
  });
});
